import type { Capabilities } from './capabilities.js';
import { type CommandChannel, type CommandSpec, DONE } from './command-channel.js';
import { Pop3Error, Pop3ProtocolError, Pop3UsageError } from './errors.js';
import { MAX_COMMAND_LINE_OCTETS } from './limits.js';
import { apopDigest, apopTimestamp, saslPlainResponse, xoauth2Response } from './sasl.js';
import type { Utf8Mode } from './utf8-mode.js';

/** How the client logs in (POP3 USER/PASS, APOP, SASL PLAIN or XOAUTH2); not the config's `auth`. */
export type LoginMechanism = 'user' | 'apop' | 'plain' | 'xoauth2';

export type Pop3Credentials =
  | { user: string; password: string; method?: 'auto' | 'user' | 'apop' | 'plain' }
  | { user: string; accessToken: string; method?: 'auto' | 'xoauth2' };

/** What the session knows before login, on which the mechanism and its checks depend. */
export interface LoginContext {
  credentials: Pop3Credentials;
  capabilities: Capabilities;
  greeting: string;
  utf8Mode: Utf8Mode;
}

/** A SASL exchange longer than this many continuations is a server leading us on. */
const MAX_SASL_ROUNDS = 4;

export function lineSafe(value: string, what: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new Pop3UsageError(
      'INVALID_ARGUMENT',
      `the ${what} contains a line break or NUL, which would inject POP3 commands; remove it`,
    );
  }
  return value;
}

/**
 * A user name outside ASCII needs SASL (whose identities are UTF-8 by definition, RFC 4616 s.2)
 * or a server in UTF-8 mode that lists "UTF8 USER" (RFC 6856 s.2); sent any other way, the server
 * would read the octets in a charset of its own choosing and the login could match another
 * account or fail in a way that counts against this one.
 */
function assertUserNameSendable(context: LoginContext, method: 'user' | 'apop'): void {
  const user = context.credentials.user;
  if (!/[^\p{ASCII}]/u.test(user)) return;
  const utf8User =
    context.utf8Mode === 'active' &&
    context.capabilities.args('UTF8').some((arg) => arg.toUpperCase() === 'USER');
  if (utf8User) return;
  throw new Pop3Error(
    'CAPABILITY_MISSING',
    `the user name is not ASCII and the server does not accept UTF-8 user names for ${method.toUpperCase()} (RFC 6856 "UTF8 USER"); use SASL PLAIN if the server offers it, or the ASCII form of the login`,
  );
}

function chooseLogin(context: LoginContext): LoginMechanism {
  const creds = context.credentials;
  const caps = context.capabilities;
  const sasl = caps.saslMechanisms;
  if ('accessToken' in creds) {
    if (caps.has('SASL') && !sasl.has('XOAUTH2')) {
      throw new Pop3Error(
        'CAPABILITY_MISSING',
        `the server does not offer SASL XOAUTH2 (it offers: ${[...sasl].join(' ') || 'none'}); use a password instead of a token`,
      );
    }
    return 'xoauth2';
  }
  const method = creds.method ?? 'auto';
  if (method === 'plain' && caps.supported && !sasl.has('PLAIN')) {
    // Asking anyway would turn the server's "not implemented" into a credentials failure.
    throw new Pop3Error(
      'CAPABILITY_MISSING',
      `the server does not offer SASL PLAIN (it offers: ${[...sasl].join(' ') || 'no SASL'}); use method "user"`,
    );
  }
  if (method !== 'auto') return method;
  if (sasl.has('PLAIN')) return 'plain';
  if (!caps.supported || caps.has('USER')) return 'user';
  if (apopTimestamp(context.greeting) !== null) return 'apop';
  return 'user';
}

/** Logs in with the mechanism the credentials and the server's capabilities call for. */
export async function logIn(
  channel: CommandChannel,
  context: LoginContext,
): Promise<LoginMechanism> {
  const creds = context.credentials;
  const method = chooseLogin(context);
  const user = creds.user;
  if ('accessToken' in creds) {
    await saslExchange(channel, 'XOAUTH2', xoauth2Response(user, creds.accessToken));
    return method;
  }
  if (method === 'user' || method === 'apop') assertUserNameSendable(context, method);
  switch (method) {
    case 'user':
      await userPass(channel, user, creds.password);
      break;
    case 'apop':
      await apop(channel, user, creds.password, context.greeting);
      break;
    case 'plain':
      await saslExchange(channel, 'PLAIN', saslPlainResponse(user, creds.password));
      break;
    default:
      throw new Pop3UsageError(
        'INVALID_ARGUMENT',
        `auth method ${method} needs an access token, not a password`,
      );
  }
  return method;
}

async function userPass(channel: CommandChannel, user: string, password: string): Promise<void> {
  await channel.simple(
    { verb: 'USER', line: `USER ${user}`, barrier: true, login: true },
    () => undefined,
  );
  await channel.simple(
    {
      verb: 'PASS',
      line: `PASS ${lineSafe(password, 'password')}`,
      traced: 'PASS ***',
      barrier: true,
      login: true,
    },
    () => undefined,
  );
}

async function apop(
  channel: CommandChannel,
  user: string,
  password: string,
  greeting: string,
): Promise<void> {
  const timestamp = apopTimestamp(greeting);
  if (timestamp === null) {
    throw new Pop3Error(
      'CAPABILITY_MISSING',
      'APOP was requested but the server greeting has no <timestamp>; use method "user" or "plain"',
    );
  }
  const digest = apopDigest(timestamp, password);
  channel.addSecret(digest);
  await channel.simple(
    {
      verb: 'APOP',
      line: `APOP ${user} ${digest}`,
      traced: `APOP ${user} ***`,
      barrier: true,
      login: true,
    },
    () => undefined,
  );
}

/**
 * RFC 5034 AUTH. The initial response rides on the command only if the whole line fits in 255 octets;
 * otherwise (every Microsoft 365 token) the client waits for "+ " and sends it on its own line.
 */
async function saslExchange(
  channel: CommandChannel,
  mechanism: string,
  response: string,
): Promise<void> {
  channel.addSecret(response);
  const oneStep = `AUTH ${mechanism} ${response}`;
  const fits = Buffer.byteLength(oneStep) + 2 <= MAX_COMMAND_LINE_OCTETS;
  const spec: CommandSpec = {
    verb: 'AUTH',
    line: fits ? oneStep : `AUTH ${mechanism}`,
    traced: fits ? `AUTH ${mechanism} ***` : `AUTH ${mechanism}`,
    barrier: true,
    login: true,
    allowContinuation: true,
  };
  let sent = fits;
  let detail = '';
  await channel.exec(spec, async (first) => {
    let status = first;
    for (let round = 0; status.kind === 'continuation'; round += 1) {
      if (round >= MAX_SASL_ROUNDS) {
        throw new Pop3ProtocolError(
          'PROTOCOL_VIOLATION',
          `the server kept the ${mechanism} exchange going past ${MAX_SASL_ROUNDS} rounds`,
        );
      }
      if (!sent) {
        channel.writeLine(response, '*** (SASL response)');
        sent = true;
      } else {
        // A challenge after our response carries the error (XOAUTH2 sends JSON); an empty line asks
        // for the final -ERR.
        detail = channel.scrub(
          Buffer.from(status.text, 'base64')
            .toString('utf8')
            .replace(/[^\x20-\x7e]/g, '?'),
        );
        channel.writeLine('', '(empty SASL response)');
      }
      status = await channel.readStatus('AUTH reply', true);
    }
    if (status.kind === 'err') throw channel.errorFor(spec, status, detail);
    return { value: undefined, settled: DONE };
  });
}
