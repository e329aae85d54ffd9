/**
 * The query API's authorization as synthesized: what the API Gateway authorizer checks, what the
 * function is told to check itself, and what the function's role may read of the bucket.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  BASE_MAILBOX,
  type CfnTemplate,
  logicalId,
  propsOf,
  resourcesOf,
  resourcesOfStatement,
  type Synthesized,
  statementsOfRole,
  synth,
} from './synth.js';

const JWT = { issuer: 'https://idp.example.com', audience: ['popvault-cli'] };
const MAILBOXES = [BASE_MAILBOX, { ...BASE_MAILBOX, id: 'work' }];

let iam: Synthesized;
let jwtScoped: Synthesized;
let jwtPlain: Synthesized;

beforeAll(() => {
  iam = synth({ mailboxes: MAILBOXES });
  jwtScoped = synth({
    stackName: 'PopvaultJwtScoped',
    archive: { encryption: 'kms' },
    api: {
      auth: 'jwt',
      jwt: {
        ...JWT,
        requiredScopes: ['popvault/read', 'mail'],
        mailboxesClaim: 'https://popvault.example/mailboxes',
      },
    },
    mailboxes: MAILBOXES,
  });
  jwtPlain = synth({
    stackName: 'PopvaultJwtPlain',
    api: { auth: 'jwt', jwt: JWT },
    mailboxes: MAILBOXES,
  });
});

afterAll(() => {
  for (const synthesized of [iam, jwtScoped, jwtPlain]) {
    if (synthesized) rmSync(synthesized.outdir, { recursive: true, force: true });
  }
});

function apiFunction(json: CfnTemplate) {
  return json.Resources[logicalId(json, 'AWS::Lambda::Function', 'QueryApiHandlerFunction')];
}

function apiEnvironment(json: CfnTemplate): Record<string, unknown> {
  return (propsOf(apiFunction(json)).Environment as { Variables: Record<string, unknown> })
    .Variables;
}

function apiStatements(json: CfnTemplate) {
  const role = (propsOf(apiFunction(json)).Role as { 'Fn::GetAtt': [string, string] })[
    'Fn::GetAtt'
  ][0];
  return statementsOfRole(json, role);
}

function mailBucket(json: CfnTemplate): string {
  const [found] = resourcesOf(json, 'AWS::S3::Bucket').filter(
    ([, r]) => r.Properties?.LoggingConfiguration !== undefined,
  );
  if (!found) throw new Error('no mail bucket');
  return found[0];
}

describe('a JWT without the required scope is refused', () => {
  it('by API Gateway: the only route carries the configured scopes on its JWT authorizer', () => {
    const routes = resourcesOf(jwtScoped.json, 'AWS::ApiGatewayV2::Route').map(([, r]) =>
      propsOf(r),
    );
    expect(routes).toEqual([
      expect.objectContaining({
        RouteKey: '$default',
        AuthorizationType: 'JWT',
        AuthorizationScopes: ['popvault/read', 'mail'],
      }),
    ]);
  });

  it('by the app: the function is told every required scope and the mailboxes claim', () => {
    expect(apiEnvironment(jwtScoped.json)).toMatchObject({
      POPVAULT_API_AUTH: 'jwt',
      POPVAULT_JWT_REQUIRED_SCOPES: 'popvault/read mail',
      POPVAULT_JWT_MAILBOXES_CLAIM: 'https://popvault.example/mailboxes',
    });
  });

  it('without requiredScopes, no scope is demanded, and the default claim is read', () => {
    const [route] = resourcesOf(jwtPlain.json, 'AWS::ApiGatewayV2::Route').map(([, r]) =>
      propsOf(r),
    );
    expect(route).toMatchObject({ AuthorizationType: 'JWT' });
    expect(route?.AuthorizationScopes).toBeUndefined();
    const env = apiEnvironment(jwtPlain.json);
    expect(env).toMatchObject({
      POPVAULT_API_AUTH: 'jwt',
      POPVAULT_JWT_MAILBOXES_CLAIM: 'popvault_mailboxes',
    });
    expect(env.POPVAULT_JWT_REQUIRED_SCOPES).toBeUndefined();
  });
});

describe('an IAM caller is authorized by path', () => {
  it('every request passes the IAM authorizer, and the function knows not to read JWT claims', () => {
    const routes = resourcesOf(iam.json, 'AWS::ApiGatewayV2::Route').map(([, r]) => propsOf(r));
    expect(routes).toEqual([
      expect.objectContaining({ RouteKey: '$default', AuthorizationType: 'AWS_IAM' }),
    ]);
    const env = apiEnvironment(iam.json);
    expect(env.POPVAULT_API_AUTH).toBe('iam');
    expect(env.POPVAULT_JWT_MAILBOXES_CLAIM).toBeUndefined();
  });
});

describe('the API function cannot read beyond the raw mail and the search index', () => {
  it.each([
    ['IAM, S3-managed keys', () => iam],
    ['JWT, KMS', () => jwtScoped],
  ])(
    '%s: GetObject under raw/ and search/manifest|segments/ only, no ListBucket, no other S3 action',
    (_name, get) => {
      const { json } = get();
      const statements = apiStatements(json);
      const s3 = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')));
      expect(new Set(actionsOf(s3))).toEqual(new Set(['s3:GetObject']));
      expect(actionsOf(statements)).not.toContain('s3:ListBucket');
      const under = (key: string) => ({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [mailBucket(json), 'Arn'] }, `/${key}`]],
      });
      // Raw mail, and the search index's manifests and segments: never its pending documents.
      expect(s3.flatMap(resourcesOfStatement)).toEqual([
        under('raw/*'),
        under('search/manifest/*'),
        under('search/segments/*'),
      ]);
    },
  );
});
