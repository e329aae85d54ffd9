/**
 * Reading the query API's OpenAPI document in tests: its types, $ref resolution, and a checker of
 * JSON values against its schemas. No validator dependency for the values: the document uses a small
 * subset of JSON Schema (type, enum, properties, required, additionalProperties, items, maxItems,
 * pattern, format date-time, minimum/maximum, lengths), and the checker implements exactly that
 * subset, failing on any keyword it does not know so the subset cannot grow unnoticed. (The document
 * itself is checked by a real OpenAPI validator, in openapi.test.ts.)
 */
import type { QueryApp } from '../../functions/query-api/create-query-app.js';

export type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

export interface SchemaObject {
  $ref?: string;
  type?: JsonType | JsonType[];
  description?: string;
  format?: string;
  enum?: Array<string | number | boolean | null>;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  additionalProperties?: boolean;
  items?: SchemaObject;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  default?: unknown;
  contentMediaType?: string;
}

export interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: SchemaObject;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, { description?: string; schema: SchemaObject }>;
  content?: Record<string, { schema: SchemaObject }>;
}

type OrRef<T> = T | { $ref: string };

export interface OperationObject {
  operationId: string;
  summary: string;
  parameters?: Array<OrRef<ParameterObject>>;
  responses: Record<string, OrRef<ResponseObject>>;
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, { get: OperationObject }>;
  components: { schemas: Record<string, SchemaObject> };
}

/** The document as the app serves it. */
export async function servedDocument(app: QueryApp): Promise<OpenApiDocument> {
  const res = await app.request('/openapi.json');
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
  return (await res.json()) as OpenApiDocument;
}

const KNOWN_KEYWORDS = new Set([
  '$ref',
  'type',
  'description',
  'format',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'maxItems',
  'pattern',
  'default',
  'contentMediaType',
]);
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function resolveIn<T>(doc: OpenApiDocument, value: T | { $ref: string }): T {
  if (typeof value === 'object' && value !== null && '$ref' in value && value.$ref !== undefined) {
    const path = value.$ref.replace(/^#\//, '').split('/');
    let target: unknown = doc;
    for (const segment of path) target = (target as Record<string, unknown>)[segment];
    if (target === undefined) throw new Error(`unresolved $ref ${value.$ref}`);
    return resolveIn(doc, target as T | { $ref: string });
  }
  return value as T;
}

function checkScalar(schema: SchemaObject, value: unknown, path: string): string[] {
  const problems: string[] = [];
  if (schema.enum !== undefined && !schema.enum.includes(value as string)) {
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  }
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
      problems.push(`${path}: does not match ${schema.pattern}`);
    }
    if (schema.format === 'date-time' && !ISO_DATE_TIME.test(value)) {
      problems.push(`${path}: ${value} is not a date-time`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      problems.push(`${path}: longer than ${schema.maxLength}`);
    }
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      problems.push(`${path}: shorter than ${schema.minLength}`);
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: < min`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: > max`);
  }
  return problems;
}

/** Every way `value` departs from `schema`, as "path: problem" lines. */
function checkIn(
  doc: OpenApiDocument,
  schemaOrRef: SchemaObject,
  value: unknown,
  path = '$',
): string[] {
  const schema = resolveIn(doc, schemaOrRef);
  const problems: string[] = [];
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN_KEYWORDS.has(keyword)) problems.push(`${path}: unsupported keyword ${keyword}`);
  }
  const actual = jsonType(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) return [...problems, `${path}: is ${actual}, documented ${types.join('|')}`];
  }
  problems.push(...checkScalar(schema, value, path));
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      problems.push(`${path}: more than ${schema.maxItems} items`);
    }
    if (schema.items !== undefined) {
      for (const [i, item] of value.entries()) {
        problems.push(...checkIn(doc, schema.items, item, `${path}[${i}]`));
      }
    }
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!(name in object)) problems.push(`${path}: required property ${name} is missing`);
    }
    for (const [name, property] of Object.entries(object)) {
      const documented = schema.properties?.[name];
      if (documented !== undefined) {
        problems.push(...checkIn(doc, documented, property, `${path}.${name}`));
      } else if (schema.additionalProperties === false) {
        problems.push(`${path}: property ${name} is not documented`);
      }
    }
  }
  return problems;
}

/** $ref resolution and value checking against one document. */
export function documentReader(doc: OpenApiDocument) {
  return {
    resolve: <T>(value: T | { $ref: string }): T => resolveIn(doc, value),
    check: (schema: SchemaObject, value: unknown): string[] => checkIn(doc, schema, value),
    documentedResponse(path: string, status: number): ResponseObject {
      const response = doc.paths[path]?.get.responses[String(status)];
      if (response === undefined) throw new Error(`${path} does not document status ${status}`);
      return resolveIn<ResponseObject>(doc, response);
    },
  };
}
