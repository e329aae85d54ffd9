import { describe, expect, it } from 'vitest';
import {
  CredentialsError,
  type MailboxSecret,
  parseMailboxSecret,
} from '../../functions/core/credentials/credentials-provider.js';

const password = { kind: 'password', username: 'alice', password: 'wonderland' };
const refresh = {
  kind: 'oauth2',
  username: 'alice@example.com',
  tokenEndpoint: 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token',
  clientId: 'client-id',
  clientSecret: 'client-secret',
  refreshToken: 'refresh-token',
  scope: 'https://outlook.office.com/POP.AccessAsUser.All offline_access',
  grant: 'refresh_token',
};
const appOnly = {
  kind: 'oauth2',
  username: 'archive@contoso.example',
  tokenEndpoint: 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token',
  clientId: 'client-id',
  clientSecret: 'client-secret',
  scope: 'https://outlook.office365.com/.default',
  grant: 'client_credentials',
};

function without(record: Record<string, unknown>, field: string): Record<string, unknown> {
  const copy = { ...record };
  delete copy[field];
  return copy;
}

function invalidMessage(json: unknown): string {
  try {
    parseMailboxSecret(json);
  } catch (err) {
    if (!(err instanceof CredentialsError)) throw err;
    expect(err.code).toBe('SECRET_INVALID');
    expect(err.temporary).toBe(false);
    expect(err.cause).toBeUndefined();
    return err.message;
  }
  throw new Error('expected SECRET_INVALID, got a parsed secret');
}

describe('parseMailboxSecret accepts', () => {
  it.each<[string, unknown, MailboxSecret]>([
    ['a password secret', password, { ...password, kind: 'password' }],
    [
      'a password secret with a method',
      { ...password, method: 'apop' },
      { ...password, kind: 'password', method: 'apop' },
    ],
    ['a refresh_token secret', refresh, refresh as MailboxSecret],
    ['a client_credentials secret', appOnly, appOnly as MailboxSecret],
    [
      'a public client (no clientSecret, no scope)',
      without(without(refresh, 'clientSecret'), 'scope'),
      {
        kind: 'oauth2',
        username: refresh.username,
        tokenEndpoint: refresh.tokenEndpoint,
        clientId: refresh.clientId,
        refreshToken: refresh.refreshToken,
        grant: 'refresh_token',
      },
    ],
  ])('%s', (_name, json, expected) => {
    expect(parseMailboxSecret(json)).toEqual(expected);
  });

  it.each([
    'http://127.0.0.1:8080/token',
    'http://127.8.9.10/token',
    'http://localhost:3000/token',
    'http://[::1]:3000/token',
    'https://oauth2.googleapis.com/token',
    'https://login.example/token?p=b2c_policy',
  ])('the token endpoint %s', (tokenEndpoint) => {
    expect(parseMailboxSecret({ ...refresh, tokenEndpoint })).toMatchObject({ tokenEndpoint });
  });
});

describe('parseMailboxSecret rejects, naming the field and the fix', () => {
  it.each<[string, unknown, string[]]>([
    ['null', null, ['expected a JSON object, got null']],
    ['a string', 'wonderland', ['expected a JSON object, got string']],
    ['an array', [password], ['got an array']],
    ['a missing kind', without(password, 'kind'), ['"kind" is missing', '"kind": "password"']],
    ['an unknown kind', { ...password, kind: 'ntlm' }, ['"kind" must be "password" or "oauth2"']],
    ['a non-string kind', { ...password, kind: 1 }, ['"kind" must be']],
    // password kind
    ['a missing username', without(password, 'username'), ['"username" is missing']],
    ['a missing password', without(password, 'password'), ['"password" is missing']],
    [
      'a numeric password',
      { ...password, password: 1234 },
      ['"password" must be a string, got number'],
    ],
    ['a null password', { ...password, password: null }, ['"password" must be a string, got null']],
    ['an empty password', { ...password, password: '' }, ['"password" is empty']],
    ['a blank username', { ...password, username: '  ' }, ['"username" is empty']],
    [
      'a password with a newline',
      { ...password, password: 'pw\n' },
      ['"password" contains a line break'],
    ],
    ['a username with CR', { ...password, username: 'a\rb' }, ['"username" contains a line break']],
    ['an unknown method', { ...password, method: 'cram-md5' }, ['"method" must be one of']],
    [
      'xoauth2 as a password method',
      { ...password, method: 'xoauth2' },
      ['"method" must be one of'],
    ],
    [
      'an unknown field on a password secret',
      { ...password, passwrod: 'x' },
      ['unknown field "passwrod" for kind "password"', 'remove it'],
    ],
    [
      'an oauth2 field on a password secret',
      { ...password, clientId: 'x' },
      ['unknown field "clientId" for kind "password"'],
    ],
    // oauth2 kind
    ['a missing tokenEndpoint', without(refresh, 'tokenEndpoint'), ['"tokenEndpoint" is missing']],
    ['a missing clientId', without(refresh, 'clientId'), ['"clientId" is missing']],
    ['a missing grant', without(refresh, 'grant'), ['"grant" is missing', '"refresh_token"']],
    ['an unknown grant', { ...refresh, grant: 'password' }, ['"grant" must be']],
    [
      'a refresh grant without a refresh token',
      without(refresh, 'refreshToken'),
      ['"refreshToken" is missing', 'consent flow'],
    ],
    [
      'client_credentials without a client secret',
      without(appOnly, 'clientSecret'),
      ['"clientSecret" is missing'],
    ],
    [
      'client_credentials with a refresh token',
      { ...appOnly, refreshToken: 'rt' },
      ['"refreshToken" is not used by grant "client_credentials"'],
    ],
    [
      'a numeric clientSecret',
      { ...refresh, clientSecret: 42 },
      ['"clientSecret" must be a string'],
    ],
    ['an empty scope', { ...refresh, scope: '' }, ['"scope" is empty', 'omit it']],
    [
      'an array scope',
      { ...refresh, scope: ['a', 'b'] },
      ['"scope" must be a string, got an array'],
    ],
    [
      'a typo in an optional field',
      { ...refresh, clientSecrte: 'x' },
      ['unknown field "clientSecrte"'],
    ],
    ['a method on an oauth2 secret', { ...refresh, method: 'xoauth2' }, ['unknown field "method"']],
    ['a relative tokenEndpoint', { ...refresh, tokenEndpoint: '/token' }, ['not an absolute URL']],
    [
      'an http tokenEndpoint to a remote host',
      { ...refresh, tokenEndpoint: 'http://login.example/token' },
      ['non-loopback host login.example', 'use https'],
    ],
    [
      'an http tokenEndpoint to a look-alike of localhost',
      { ...refresh, tokenEndpoint: 'http://localhost.example/token' },
      ['non-loopback host'],
    ],
    [
      'an ftp tokenEndpoint',
      { ...refresh, tokenEndpoint: 'ftp://login.example/token' },
      ['must be an https URL'],
    ],
    [
      'a tokenEndpoint with user info',
      { ...refresh, tokenEndpoint: 'https://id:pw@login.example/token' },
      ['contains user:password@'],
    ],
    [
      'a tokenEndpoint with a fragment',
      { ...refresh, tokenEndpoint: 'https://login.example/token#x' },
      ['#fragment'],
    ],
  ])('%s', (_name, json, fragments) => {
    const message = invalidMessage(json);
    for (const fragment of fragments) expect(message).toContain(fragment);
  });

  it('bounds an unknown field name it echoes', () => {
    const message = invalidMessage({ ...password, ['k'.repeat(500)]: 'x' });
    expect(message.length).toBeLessThan(300);
  });
});
