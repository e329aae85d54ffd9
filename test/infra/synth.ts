/**
 * Synthesizes the popvault app the way `cdk synth` does (cdk-nag included, so an unacknowledged
 * finding throws here as it fails synth there), into a temporary directory.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type PopvaultConfig, parseConfig } from '../../infra/config/load-config.js';
import { addPopvault } from '../../infra/popvault-app.js';
import type { PopvaultStack } from '../../infra/popvault-stack.js';

export interface Synthesized {
  config: PopvaultConfig;
  stack: PopvaultStack;
  outdir: string;
  /** The CloudFormation template as written to the cloud assembly. */
  json: CfnTemplate;
  template: Template;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export const BASE_MAILBOX = {
  id: 'personal',
  host: 'pop.example.com',
  username: 'alice@example.com',
};

/**
 * `bundle: false` skips esbuild (CDK's own `aws:cdk:bundling-stacks` switch): templates are identical
 * except for asset hashes, and synth takes a fraction of the time.
 */
export function synth(
  document: unknown,
  options: { bundle?: boolean; extra?: (stack: PopvaultStack) => void } = {},
): Synthesized {
  const config = parseConfig(document, 'test config');
  const outdir = mkdtempSync(join(tmpdir(), 'popvault-synth-'));
  const app = new App({
    outdir,
    context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  const stack = addPopvault(app, config);
  options.extra?.(stack);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const json = JSON.parse(
    readFileSync(join(assembly.directory, artifact.templateFile), 'utf8'),
  ) as CfnTemplate;
  return { config, stack, outdir, json, template: Template.fromJSON(json) };
}

/** A resource's Properties, never undefined (a missing one fails the assertion that reads it). */
export function propsOf(resource: CfnResource | undefined): Record<string, unknown> {
  return resource?.Properties ?? {};
}

/** Resources of one type, by logical id. */
export function resourcesOf(json: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}

/** The logical id of the only resource of `type` whose logical id starts with `prefix`. */
export function logicalId(json: CfnTemplate, type: string, prefix: string): string {
  const found = resourcesOf(json, type).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) {
    throw new Error(`expected one ${type} starting with ${prefix}, found ${found.length}`);
  }
  return (found[0] as [string, CfnResource])[0];
}

/**
 * Resolves the intrinsics this stack uses in strings (Ref, Fn::GetAtt, Fn::Join) with the given
 * stand-ins; anything else is an error, so a new kind of reference cannot slip through unresolved.
 */
export function resolveValue(
  value: unknown,
  refs: Record<string, string>,
  attributes: Record<string, string> = {},
): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') {
      const resolved = refs[v.Ref];
      if (resolved === undefined) throw new Error(`no stand-in for Ref ${v.Ref}`);
      return resolved;
    }
    if (Array.isArray(v['Fn::GetAtt'])) {
      const key = (v['Fn::GetAtt'] as string[]).join('.');
      const resolved = attributes[key];
      if (resolved === undefined) throw new Error(`no stand-in for Fn::GetAtt ${key}`);
      return resolved;
    }
    if (Array.isArray(v['Fn::Join'])) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => resolveValue(part, refs, attributes)).join(separator);
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/** Every IAM statement attached to a role (inline policies of AWS::IAM::Policy resources). */
export function statementsOfRole(json: CfnTemplate, roleLogicalId: string): Statement[] {
  const statements: Statement[] = [];
  for (const [, policy] of resourcesOf(json, 'AWS::IAM::Policy')) {
    const roles = (policy.Properties?.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((r) => r.Ref === roleLogicalId)) continue;
    const document = policy.Properties?.PolicyDocument as { Statement: Statement[] };
    statements.push(...document.Statement);
  }
  const role = json.Resources[roleLogicalId];
  if (role?.Properties?.ManagedPolicyArns) {
    throw new Error(`role ${roleLogicalId} has managed policies; statementsOfRole cannot see them`);
  }
  for (const inline of (role?.Properties?.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[]) {
    statements.push(...inline.PolicyDocument.Statement);
  }
  return statements;
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

export function actionsOf(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

export function resourcesOfStatement(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}
