import * as z from 'zod/mini';

/**
 * Turns a zod issue into what a person needs: which field, what is wrong with the value, and what to
 * write instead. The problem is worded from the issue's code and the failing schema's own bounds; the
 * fix is declared next to the field it belongs to (`withFix`), so no name or hint is ever recovered
 * from message text.
 */
export interface SettingProblem {
  /** Names the field exactly as given, when the path alone would not (see ProblemParams). */
  field?: string;
  /** The failing field's path in the input, e.g. ["mailboxes", 1, "host"]. */
  path: PropertyKey[];
  problem: string;
  fix: string;
}

/** What a refinement reports: its own problem and fix, and optionally the field named in full. */
export interface ProblemParams {
  problem: string;
  fix: string;
  /** Names the field exactly as given instead of the path (e.g. without a mailbox's id). */
  field?: string;
}

/** A field's fix: fixed text, or words chosen from the object that holds the field. */
export type Fix = string | ((parent: Record<string, unknown>) => string);

/** Words a refusal better than the issue's code can, for values worth a sentence of their own. */
export type Explain = (
  input: unknown,
  parent: Record<string, unknown>,
) => { problem: string; fix?: string } | undefined;

const FIXES = z.registry<{ fix: Fix; explain?: Explain }>();

/** Declares what to tell a person whose value `schema` refuses. Returns `schema`, for chaining. */
export function withFix<T extends z.ZodMiniType>(schema: T, fix: Fix, explain?: Explain): T {
  FIXES.add(schema, explain ? { fix, explain } : { fix });
  return schema;
}

/** A value as it appears in a message: JSON, cut short. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Reports a problem found across fields (a refinement), at `path` below the refined object. */
export function report(
  issues: { push(issue: z.core.$ZodRawIssue): void },
  input: unknown,
  path: PropertyKey[],
  params: ProblemParams,
): void {
  // No message of its own: parseSettings' error map words every issue, in the order zod reports them.
  issues.push({ code: 'custom', input, path, params });
}

type CheckDef = { check?: string; value?: number };

/** A number schema's declared bounds, read from its checks. */
function boundsOf(schema: z.core.$ZodType | undefined): { minimum?: number; maximum?: number } {
  const checks = (schema?._zod.def as { checks?: z.core.$ZodCheck[] } | undefined)?.checks ?? [];
  const bounds: { minimum?: number; maximum?: number } = {};
  for (const check of checks) {
    const def = check._zod.def as CheckDef;
    if (def.check === 'greater_than') bounds.minimum = def.value;
    if (def.check === 'less_than') bounds.maximum = def.value;
  }
  return bounds;
}

function shapeOf(schema: z.core.$ZodType | undefined): string[] {
  const def = schema?._zod.def as { shape?: Record<string, unknown> } | undefined;
  return def?.shape ? Object.keys(def.shape) : [];
}

function problemOf(
  issue: z.core.$ZodIssue & { input?: unknown },
  schema?: z.core.$ZodType,
): string {
  const input = issue.input;
  if (input === undefined && issue.code === 'invalid_type') return 'is missing';
  switch (issue.code) {
    case 'invalid_value':
      return `must be ${issue.values.map((v) => describe(v)).join(' or ')}, got ${describe(input)}`;
    case 'unrecognized_keys':
      return 'is not a known field';
    case 'custom':
    case 'invalid_union':
    case 'invalid_type':
    case 'too_big':
    case 'too_small':
    case 'invalid_format':
      break;
    default:
      return `is not accepted: ${describe(input)}`;
  }
  const type = schema?._zod.def.type;
  if (type === 'object') return `must be a JSON object, got ${describe(input)}`;
  if (type === 'boolean') return `must be true or false, got ${describe(input)}`;
  if (type === 'array') return `must be a list, got ${describe(input)}`;
  if (type === 'number') {
    const { minimum, maximum } = boundsOf(schema);
    if (minimum !== undefined && maximum !== undefined)
      return `must be a whole number ${minimum}-${maximum}, got ${describe(input)}`;
    return `must be a positive whole number, got ${describe(input)}`;
  }
  if (typeof input === 'string' && input.trim() !== '' && issue.code === 'invalid_format')
    return `is not usable: ${describe(input)}`;
  return `must be a non-empty string, got ${describe(input)}`;
}

function parentOf(root: unknown, path: PropertyKey[]): Record<string, unknown> {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    node =
      typeof node === 'object' && node !== null
        ? (node as Record<PropertyKey, unknown>)[key]
        : undefined;
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : {};
}

type RawIssue = z.core.$ZodRawIssue & {
  schema?: z.core.$ZodType;
  keys?: string[];
  values?: unknown[];
};

function problemFor(issue: RawIssue, root: unknown, noun: string): SettingProblem {
  const path = issue.path ?? [];
  const params = issue.params as Partial<ProblemParams> | undefined;
  if (issue.code === 'custom' && params?.problem !== undefined && params.fix !== undefined) {
    return {
      path,
      problem: params.problem,
      fix: params.fix,
      ...(params.field ? { field: params.field } : {}),
    };
  }
  if (issue.code === 'unrecognized_keys') {
    return {
      path: [...path, issue.keys?.[0] ?? ''],
      problem: `is not a known ${noun}`,
      fix: `remove it or fix its spelling (known here: ${shapeOf(issue.schema).join(', ')})`,
    };
  }
  const meta = issue.schema ? FIXES.get(issue.schema) : undefined;
  const parent = parentOf(root, path);
  const declared = meta?.fix;
  const fix =
    typeof declared === 'function' ? declared(parent) : (declared ?? defaultFix(issue.schema));
  const explained = meta?.explain?.(issue.input, parent);
  return {
    path,
    problem: explained?.problem ?? problemOf(issue as never, issue.schema),
    fix: explained?.fix ?? fix,
  };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: SettingProblem };

/**
 * Parses `input` with `schema`; on failure, the first problem (the one a person fixes before the next
 * is worth reading). Issues are worded as zod reports them, with the failing schema in hand.
 */
export function parseSettings<T extends z.ZodMiniType>(
  schema: T,
  input: unknown,
  noun = 'field',
): Parsed<z.output<T>> {
  const problems: SettingProblem[] = [];
  let unknownField: SettingProblem | undefined;
  const result = schema.safeParse(input, {
    error: (issue) => {
      const problem = problemFor(issue as RawIssue, input, noun);
      problems.push(problem);
      if (issue.code === 'unrecognized_keys') unknownField ??= problem;
      return 'refused';
    },
  });
  if (result.success) return { ok: true, value: result.data };
  // Issues are worded (and so seen by the error map) when first read.
  void result.error.issues.length;
  // An unknown field is named before anything else: a misspelt one would otherwise be reported
  // as its correct spelling missing.
  const first = unknownField ?? problems[0];
  return {
    ok: false,
    problem: first ?? { path: [], problem: 'is refused', fix: 'see the README' },
  };
}

function defaultFix(schema: z.core.$ZodType | undefined): string {
  const type = schema?._zod.def.type;
  if (type === 'boolean') return 'use a JSON boolean without quotes';
  if (type === 'object') return 'write it as { ... }';
  return 'see the README';
}
