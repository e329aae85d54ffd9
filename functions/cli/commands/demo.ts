import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createScriptedServer,
  type ScriptedMessage,
} from '../../../test/support/scripted-pop3-server.js';
import { createMessageParser } from '../../core/message/message-parser.js';
import { runPull } from '../../core/pull/pull-run.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { EXIT } from '../cli-error.js';
import { openLocalArchive } from '../local-archive.js';
import { browserCommand, openInBrowser, writeOpenPage } from '../open-browser.js';
import type { CommandIo } from './pull.js';
import { curlCommand, shellWord, startLocalApi, untilStopped } from './serve.js';

export const DEMO_HELP = `popvault demo: see the whole product in one command, with no mail account and no AWS

It starts a throwaway POP3 server on 127.0.0.1 with sample mail, pulls it into a fresh local archive
(deleting it from the server only once archived), serves the viewer and the query API, opens the
viewer in your browser, and prints commands to try. Ctrl-C stops it and removes the throwaway archive.

Usage:
  popvault demo [--port N] [--keep] [--no-open]

  --port N    API port (default: any free port)
  --keep      keep the demo archive directory when stopping
  --no-open   do not open the browser; only print the sign-in link

The browser is $BROWSER when set, else open (macOS), explorer.exe (Windows) or xdg-open (Linux with
a display). Without one (over SSH, in CI), open the printed link yourself.
`;

const OPTIONS = {
  port: { type: 'string' },
  keep: { type: 'boolean' },
  'no-open': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function sample(uid: string, subject: string, body: string, extraHeaders = ''): ScriptedMessage {
  return {
    uid,
    body: Buffer.from(
      `From: Demo Sender <demo@popvault.test>\r\nTo: you@popvault.test\r\nSubject: ${subject}\r\n` +
        `Date: Thu, 26 Nov 2026 09:0${uid.length % 10}:00 +0000\r\nMessage-ID: <${uid.replace(/\W/g, '')}@popvault.test>\r\n${extraHeaders}\r\n${body}`,
      'latin1',
    ),
  };
}

const SAMPLES: ScriptedMessage[] = [
  sample(
    'welcome',
    'Welcome to popvault',
    'Every byte of this message was archived before it was deleted.\r\n',
  ),
  sample(
    'dots',
    'Lines that start with a dot',
    '.this line was dot-stuffed on the wire\r\n..and this one twice\r\n',
  ),
  sample(
    'eight-bit',
    '=?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=',
    'Stra\u00dfe, \u00e4\u00f6\u00fc: 8-bit bytes survive untouched.\r\n',
    'Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n',
  ),
  sample(
    'odd/../uid%',
    'A UIDL with / and .. in it',
    'UIDLs are never used as paths unencoded.\r\n',
  ),
  sample(
    'attachment',
    'A message with an attachment',
    '--b\r\nContent-Type: text/plain\r\n\r\nSee the attached file.\r\n--b\r\nContent-Type: text/csv; name="numbers.csv"\r\nContent-Disposition: attachment; filename="numbers.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      `${Buffer.from('a,b\r\n1,2\r\n').toString('base64')}\r\n--b--\r\n`,
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
  ),
  // The viewer shows it in a sandbox: its script never runs, the remote image waits for a click,
  // and the image sent with the message (cid:) is shown.
  sample(
    'html',
    'An HTML newsletter',
    '--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n' +
      '<h1>Hello from popvault</h1><p>This HTML part is shown in a sandbox.</p>' +
      '<script>document.title = "ran"</script>' +
      '<p><img src="cid:dot@popvault.test" alt="an image sent with the message"></p>' +
      '<p><img src="https://tracker.example/pixel.gif" alt="a remote image, held back"></p>\r\n' +
      '--r\r\nContent-Type: image/png\r\nContent-ID: <dot@popvault.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n--r--\r\n',
    'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="r"\r\n',
  ),
];

export async function demoCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('demo', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(DEMO_HELP);
    return EXIT.ok;
  }
  const port = positiveInt('demo', 'port', values.port) ?? 0;
  const directory = await mkdtemp(join(tmpdir(), 'popvault-demo-'));
  const server = await createScriptedServer({
    messages: [...SAMPLES],
    users: { demo: 'demo-password' },
  });
  const out = (line = ''): boolean => io.stdout.write(`${line}\n`);
  try {
    out(`POP3 server with ${SAMPLES.length} sample messages on ${server.host}:${server.port}`);
    const archive = await openLocalArchive(directory);
    let run: Awaited<ReturnType<typeof runPull>>;
    try {
      run = await runPull(
        {
          mailboxId: 'demo',
          // Plaintext is refused unless asked for explicitly and the host is loopback; this one is.
          server: { host: server.host, port: server.port, tls: 'none', insecure: true },
          policy: { kind: 'delete' },
          hardDeadline: Date.now() + 60_000,
        },
        {
          rawStore: archive.rawStore,
          index: archive.index,
          credentials: { get: async () => ({ user: 'demo', password: 'demo-password' }) },
          createParser: createMessageParser,
          spoolDirectory: tmpdir(),
          now: Date.now,
          newRunId: randomUUID,
        },
      );
    } finally {
      archive.close();
    }
    out(
      `pulled: ${run.counts.stored} archived, ${run.counts.deleted} deleted from the server after archiving; ${server.messages.length} left there`,
    );
    const api = await startLocalApi(directory, port);
    out(`archive: ${directory}`);
    out(`query API: ${api.url} (bearer token in ${api.tokenPath})`);
    out(await openViewer(api, directory, values['no-open'] === true, io.env));
    out();
    // The token stays in its file: curl reads the header line from api-auth-header, so it is neither
    // on the screen nor in any command line another user could see.
    out(`Try, in another terminal (curl reads the Authorization header from ${api.headerPath}):`);
    out(`  ${curlCommand(api, '/mailboxes')}`);
    out(`  ${curlCommand(api, '/mailboxes/demo/messages')}`);
    out(`  npx popvault list --archive ${shellWord(directory)} --mailbox demo`);
    out(`  ${curlCommand(api, '/openapi.json')}`);
    out();
    // Listen for the stop signal before saying we are ready: a signal that came first would kill us
    // with the default action and leave the server and archive behind.
    const stopped = untilStopped();
    out('popvault demo is ready; press Ctrl-C to stop.');
    await stopped;
    await api.stop();
    out('stopped.');
    return EXIT.ok;
  } finally {
    await server.close();
    if (!values.keep) await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Opens the viewer, signed in, and says so; the link printed is always a fresh one, since the
 * browser used the first.
 */
async function openViewer(
  api: { loginUrl: string; newLoginUrl(): string },
  directory: string,
  noOpen: boolean,
  env: Record<string, string | undefined>,
): Promise<string> {
  const command = noOpen ? null : browserCommand(env, process.platform);
  if (
    command !== null &&
    (await openInBrowser(command, await writeOpenPage(directory, api.loginUrl)))
  ) {
    return `viewer: opened in your browser (${command.command}); another browser can sign in once with ${api.newLoginUrl()}`;
  }
  return `viewer (this link signs you in once): ${api.loginUrl}`;
}
