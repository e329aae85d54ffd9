/**
 * `npm run bench:memory`: peak RSS of a pull process (its own process, so nothing else is counted)
 * archiving (1) one 100 MB message and (2) the 2,000-message corpus, from Dovecot into the S3 and
 * DynamoDB emulators. Needs root (Dovecot).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import {
  type DovecotInfo,
  seedMailbox,
  startDovecot,
  uniqueUser,
} from '../test/support/dovecot.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../test/support/emulators.js';
import type { ChildConfig } from '../test/support/pull-child.js';
import { corpusMessage, corpusSizes, DEFAULT_CORPUS } from './corpus.js';

async function pullInChild(
  dovecot: DovecotInfo,
  aws: AwsEmulatorInfo,
  messages: Buffer[],
): Promise<{ maxRssMb: number; stored: number; seconds: number }> {
  const user = uniqueUser('mem');
  seedMailbox(dovecot, user, messages);
  const config: ChildConfig = {
    aws,
    bucket: await createTestBucket(s3ClientFor(aws)),
    table: await createTestTable(dynamoClientFor(aws)),
    spoolDirectory: mkdtempSync(join(tmpdir(), 'popvault-mem-')),
    options: {
      mailboxId: user,
      server: { host: dovecot.host, port: dovecot.tlsPort, tls: 'implicit', ca: dovecot.caPem },
      policy: { kind: 'delete' },
      hardDeadline: Date.now() + 30 * 60_000,
    },
    user,
    password: dovecot.password,
  };
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/pull-child.ts'], {
    env: { ...process.env, POPVAULT_CHILD_CONFIG: JSON.stringify(config), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  type Done = { kind: 'done'; maxRssKb: number; stored: number; outcome: string };
  let done: Done | null = null;
  for await (const line of createInterface({ input: child.stdout })) {
    const event = JSON.parse(line) as { kind: string } | Done;
    if (event.kind === 'done') done = event as Done;
  }
  if (done === null) throw new Error('pull child exited without a summary');
  if (done.outcome !== 'success') throw new Error(`pull child failed: ${JSON.stringify(done)}`);
  return {
    maxRssMb: done.maxRssKb / 1024,
    stored: done.stored,
    seconds: (performance.now() - started) / 1000,
  };
}

const dovecot = await startDovecot({ lockSession: false });
const emulators = await startAwsEmulators();
try {
  const line = `${'0123456789'.repeat(7)}abcdef\n`;
  const big = Buffer.from(
    `From: a@example.com\nSubject: 100 MB\n\n${line.repeat(Math.ceil((100 * 1024 * 1024) / line.length))}`,
  );
  const one = await pullInChild(dovecot.info, emulators.info, [big]);
  const corpus = corpusSizes(DEFAULT_CORPUS).map((octets, i) =>
    corpusMessage(i, octets, DEFAULT_CORPUS.seed),
  );
  const many = await pullInChild(dovecot.info, emulators.info, corpus);
  console.log('| pull | messages | peak RSS of the pull process | wall s (incl. process start) |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| one 100 MB message | ${one.stored} | ${one.maxRssMb.toFixed(0)} MB | ${one.seconds.toFixed(2)} |`,
  );
  console.log(
    `| 2,000-message corpus (150 MB) | ${many.stored} | ${many.maxRssMb.toFixed(0)} MB | ${many.seconds.toFixed(2)} |`,
  );
} finally {
  await emulators.stop();
  await dovecot.stop();
}
