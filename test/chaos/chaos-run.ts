/**
 * `npm run chaos -- --runs N --seed S [--archive local|aws] [--server NAME] [--only K]
 * [--max-minutes M] [--disk-full yes|no]`: randomized faults against a real POP3 server and a real
 * archive, every run checked against the server's own store (see chaos-runner.ts). Prints the seed
 * first; exits non-zero on any violation, printing the command that replays the failing run alone.
 */
import { parseArgs } from 'node:util';
import { startCourierLab } from '../support/courier-lab.js';
import { startCyrusLab } from '../support/cyrus-lab.js';
import { startDovecotLab } from '../support/dovecot-lab.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../support/emulators.js';
import { startMailutilsLab } from '../support/mailutils-lab.js';
import type { LabServerName, Pop3Lab } from '../support/pop3-lab.js';
import { runChaos } from './chaos-runner.js';

const SERVERS: Record<LabServerName, () => Promise<Pop3Lab>> = {
  dovecot: startDovecotLab,
  courier: startCourierLab,
  cyrus: () => startCyrusLab(),
  mailutils: startMailutilsLab,
};

function usage(problem: string): never {
  process.stderr.write(
    `chaos: ${problem}\nusage: npm run chaos -- --runs N --seed S [--archive local|aws] ` +
      `[--server ${Object.keys(SERVERS).join('|')}] [--only K] [--max-minutes M] [--disk-full yes|no]\n`,
  );
  process.exit(2);
}

function wholeNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    usage(`--${name} must be a whole number, not "${value}"`);
  return Number(value);
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      archive: { type: 'string' },
      server: { type: 'string' },
      'max-minutes': { type: 'string' },
      'disk-full': { type: 'string' },
    },
    strict: true,
  }));
} catch (error) {
  usage((error as Error).message);
}
const archive = values.archive ?? 'local';
if (archive !== 'local' && archive !== 'aws')
  usage(`--archive must be local or aws, not "${archive}"`);
const server = (values.server ?? 'dovecot') as LabServerName;
if (!(server in SERVERS))
  usage(`--server must be one of ${Object.keys(SERVERS).join(', ')}, not "${server}"`);
const diskFull = values['disk-full'] ?? 'yes';
if (diskFull !== 'yes' && diskFull !== 'no')
  usage(`--disk-full must be yes or no, not "${diskFull}"`);
const seed = wholeNumber('seed', values.seed, Math.floor(Math.random() * 2 ** 32)) >>> 0;
const runs = wholeNumber('runs', values.runs, 25);
const only = values.only === undefined ? null : [wholeNumber('only', values.only, 0)];
const maxMinutes = wholeNumber('max-minutes', values['max-minutes'], 60);

process.stdout.write(`chaos: seed ${seed}\n`);
const lab = await SERVERS[server]();
let aws: { info: AwsEmulatorInfo; stop(): Promise<void> } | null = null;
let ok = false;
try {
  if (archive === 'aws') aws = await startAwsEmulators();
  const tally = await runChaos(
    {
      runs,
      seed,
      only,
      archive,
      server,
      maxSeconds: maxMinutes * 60,
      diskFull: diskFull === 'yes',
      log: (line) => process.stdout.write(`${line}\n`),
    },
    { lab, aws: aws?.info ?? null },
  );
  process.stdout.write(`${tally.format()}\n`);
  ok = tally.ok;
} finally {
  await aws?.stop();
  await lab.stop();
}
process.exit(ok ? 0 : 1);
