/**
 * The query API's OpenAPI 3.1 document, served at /openapi.json. Written by hand as a typed object
 * (no generator, no dependency); test/query-api/openapi.test.ts holds it to the app: every route is
 * documented and nothing else, and every documented JSON response matches what the route returns.
 */

import { MAILBOX_ID_PATTERN } from '../core/archive/mailbox-id.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ATTACHMENTS_LISTED,
  MAX_MESSAGE_ID_LENGTH,
  MAX_SUBJECT_LENGTH,
} from '../core/message/message-limits.js';
import {
  DEFAULT_MESSAGE_LIMIT,
  DEFAULT_RUN_LIMIT,
  MAX_CURSOR_LENGTH,
  MAX_MESSAGE_LIMIT,
  MAX_MESSAGE_REF_LENGTH,
  MAX_RUN_LIMIT,
} from './params.js';

/** The subset of JSON Schema 2020-12 this document uses. */
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

export type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

export interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: SchemaObject;
}

export interface MediaTypeObject {
  schema: SchemaObject;
}

export interface HeaderObject {
  description?: string;
  schema: SchemaObject;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, MediaTypeObject>;
}

export type ResponseOrRef = ResponseObject | { $ref: string };
export type ParameterOrRef = ParameterObject | { $ref: string };

export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  parameters?: ParameterOrRef[];
  responses: Record<string, ResponseOrRef>;
}

export interface PathItemObject {
  get: OperationObject;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  security: Array<Record<string, string[]>>;
  paths: Record<string, PathItemObject>;
  components: {
    schemas: Record<string, SchemaObject>;
    parameters: Record<string, ParameterObject>;
    responses: Record<string, ResponseObject>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description?: string }>;
  };
}

const ref = (kind: 'schemas' | 'parameters' | 'responses', name: string) => ({
  $ref: `#/components/${kind}/${name}`,
});
const nullable = (type: JsonType): JsonType[] => [type, 'null'];
const isoDateTime: SchemaObject = { type: 'string', format: 'date-time' };
const nullableDateTime: SchemaObject = { type: nullable('string'), format: 'date-time' };

const json = (schemaName: string, description: string): ResponseObject => ({
  description,
  content: { 'application/json': { schema: ref('schemas', schemaName) } },
});

const errors = (...statuses: Array<'400' | '404' | '422'>): Record<string, ResponseOrRef> => {
  const names = { '400': 'BadRequest', '404': 'NotFound', '422': 'TooLarge' } as const;
  const out: Record<string, ResponseOrRef> = {
    '401': ref('responses', 'Unauthorized'),
    '403': ref('responses', 'Forbidden'),
    '405': ref('responses', 'MethodNotAllowed'),
    '500': ref('responses', 'InternalError'),
    '503': ref('responses', 'Unavailable'),
  };
  for (const status of statuses) out[status] = ref('responses', names[status]);
  return out;
};

const downloadHeaders: Record<string, HeaderObject> = {
  'Content-Disposition': {
    description:
      'Always `attachment`, with an ASCII `filename` and the exact UTF-8 name in `filename*` (RFC 6266).',
    schema: { type: 'string' },
  },
  'Content-Length': { schema: { type: 'integer' } },
  'X-Content-Type-Options': { schema: { type: 'string', enum: ['nosniff'] } },
};

const address: SchemaObject = {
  type: 'object',
  required: ['address', 'name'],
  additionalProperties: false,
  properties: {
    address: { type: 'string', description: 'Lower-cased; empty when the header had only a name.' },
    name: { type: 'string' },
  },
};

const messageIdProperty: SchemaObject = {
  type: 'string',
  description:
    'Opaque id of the message in this API (use it in /messages/{id} URLs); not the Message-ID header.',
};

const getMessageOperation: OperationObject = {
  operationId: 'getMessage',
  summary: "A message's metadata, attachment list and snippet",
  tags: ['messages'],
  parameters: [ref('parameters', 'MessageId')],
  responses: { '200': json('MessageDetail', 'The message'), ...errors('400', '404') },
};

const rawMessageOperation: OperationObject = {
  operationId: 'getRawMessage',
  summary: 'The exact archived bytes (RFC 5322)',
  description:
    'Where the deployment can presign links (AWS), a 302 to a link valid for 5 minutes; otherwise the bytes themselves.',
  tags: ['messages'],
  parameters: [ref('parameters', 'MessageId')],
  responses: {
    '200': {
      description: 'The raw message, byte for byte as archived',
      headers: downloadHeaders,
      content: {
        'message/rfc822': { schema: { type: 'string', contentMediaType: 'message/rfc822' } },
      },
    },
    '302': {
      description: 'A short-lived link to the raw message',
      headers: { Location: { schema: { type: 'string', format: 'uri' } } },
    },
    ...errors('400', '404', '422'),
  },
};

const attachmentOperation: OperationObject = {
  operationId: 'getAttachment',
  summary: 'One attachment, decoded',
  description:
    "Served with its recorded content type, except types a browser could execute (HTML, SVG, XML, JavaScript...), which are served as application/octet-stream. Always a download. For a message indexed by another parser version (`parserVersion`), the attachment is first found again by the current parser, by its recorded size and hash, and served with the current parser's name and type; 500 `ATTACHMENT_UNREADABLE` when it finds none.",
  tags: ['messages'],
  parameters: [
    ref('parameters', 'MessageId'),
    {
      name: 'n',
      in: 'path',
      required: true,
      description: "0-based position in the message's `attachments` list.",
      schema: { type: 'integer', minimum: 0, maximum: MAX_ATTACHMENTS_LISTED - 1 },
    },
  ],
  responses: {
    '200': {
      description: 'The decoded attachment',
      headers: downloadHeaders,
      content: { '*/*': { schema: { type: 'string' } } },
    },
    ...errors('400', '404', '422'),
  },
};

/**
 * The mailbox-scoped twin of a message route: the same operation with the mailbox in the path, so an
 * IAM policy can grant one mailbox's messages. The id must name a message of that mailbox.
 */
function inMailbox(operation: OperationObject): OperationObject {
  return {
    ...operation,
    operationId: `${operation.operationId}InMailbox`,
    summary: `${operation.summary}, in one mailbox`,
    parameters: [ref('parameters', 'MailboxId'), ...(operation.parameters ?? [])],
  };
}

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'popvault query API',
    version: '1.0.0',
    description:
      'Read-only access to archived POP3 mail. Served locally it requires a bearer token and serves every mailbox. In AWS, API Gateway authenticates (IAM or JWT). With IAM, the caller\'s policy grants paths: `/mailboxes/{mailboxId}/...` names one mailbox, while `/mailboxes`, `/messages` and `/messages/{id}/...` span the archive. With JWT, the token\'s mailboxes claim names the mailboxes it may read, on every route; a mailbox or message outside it is answered exactly like one that does not exist (404). Every response is `Cache-Control: no-store`. Errors are `{ "error": { "code", "message" } }`, with a `requestId` on 5xx.',
  },
  security: [{ bearerAuth: [] }, {}],
  paths: {
    '/openapi.json': {
      get: {
        operationId: 'getOpenApi',
        summary: 'This document',
        tags: ['meta'],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          ...errors('400'),
        },
      },
    },
    '/mailboxes': {
      get: {
        operationId: 'listMailboxes',
        summary: 'Every mailbox with its counts and latest run',
        tags: ['mailboxes'],
        responses: { '200': json('MailboxList', 'The mailboxes, by id'), ...errors('400') },
      },
    },
    '/mailboxes/{mailboxId}/messages': {
      get: {
        operationId: 'listMessages',
        summary: "A mailbox's messages, newest first",
        description:
          'Read from the index by date (or by sender with `from`), never a scan. Filters apply while the index is read, so a page may hold fewer than `limit` items and still have a `nextCursor`; keep following it until it is null. Messages whose Date header did not parse are ordered by archive time.',
        tags: ['messages'],
        parameters: [
          ref('parameters', 'MailboxId'),
          {
            name: 'since',
            in: 'query',
            description:
              'Inclusive lower bound: an ISO 8601 date (a UTC day, from its start) or date-time with a zone.',
            schema: { type: 'string' },
          },
          {
            name: 'until',
            in: 'query',
            description:
              'Inclusive upper bound: an ISO 8601 date (a UTC day, to its end) or date-time with a zone.',
            schema: { type: 'string' },
          },
          {
            name: 'from',
            in: 'query',
            description: 'Sender address (the first From address), case-insensitive, exact.',
            schema: { type: 'string', maxLength: MAX_ADDRESS_LENGTH },
          },
          {
            name: 'subject',
            in: 'query',
            description: 'Case-insensitive substring of the subject.',
            schema: { type: 'string', minLength: 1, maxLength: MAX_SUBJECT_LENGTH },
          },
          {
            name: 'hasAttachments',
            in: 'query',
            schema: { type: 'string', enum: ['true', 'false'] },
          },
          {
            name: 'limit',
            in: 'query',
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_MESSAGE_LIMIT,
              default: DEFAULT_MESSAGE_LIMIT,
            },
          },
          {
            name: 'cursor',
            in: 'query',
            description: 'The `nextCursor` of the previous page, unchanged, with the same filters.',
            schema: { type: 'string', maxLength: MAX_CURSOR_LENGTH },
          },
        ],
        responses: { '200': json('MessagePage', 'One page'), ...errors('400', '404') },
      },
    },
    '/mailboxes/{mailboxId}/runs': {
      get: {
        operationId: 'listRuns',
        summary: "A mailbox's recent pull runs, most recent first",
        tags: ['mailboxes'],
        parameters: [
          ref('parameters', 'MailboxId'),
          {
            name: 'limit',
            in: 'query',
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_RUN_LIMIT,
              default: DEFAULT_RUN_LIMIT,
            },
          },
        ],
        responses: { '200': json('RunList', 'The runs'), ...errors('400', '404') },
      },
    },
    '/messages': {
      get: {
        operationId: 'findByMessageId',
        summary: 'Messages with a Message-ID header, in any mailbox',
        tags: ['messages'],
        parameters: [
          {
            name: 'messageId',
            in: 'query',
            required: true,
            description: 'Exact Message-ID; the angle brackets are optional.',
            schema: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE_ID_LENGTH },
          },
        ],
        responses: {
          '200': json('MessageIdMatches', 'The matching messages, newest first'),
          ...errors('400'),
        },
      },
    },
    '/messages/{id}': { get: getMessageOperation },
    '/messages/{id}/raw': { get: rawMessageOperation },
    '/messages/{id}/attachments/{n}': { get: attachmentOperation },
    '/mailboxes/{mailboxId}/messages/{id}': { get: inMailbox(getMessageOperation) },
    '/mailboxes/{mailboxId}/messages/{id}/raw': { get: inMailbox(rawMessageOperation) },
    '/mailboxes/{mailboxId}/messages/{id}/attachments/{n}': { get: inMailbox(attachmentOperation) },
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description:
          'Local serving only: the token `popvault serve` prints and keeps in the archive.',
      },
    },
    parameters: {
      MailboxId: {
        name: 'mailboxId',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: MAILBOX_ID_PATTERN },
      },
      MessageId: {
        name: 'id',
        in: 'path',
        required: true,
        description: 'The opaque `id` of a message, as listings return it.',
        schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', maxLength: MAX_MESSAGE_REF_LENGTH },
      },
    },
    responses: {
      BadRequest: json(
        'Error',
        'A parameter is missing, unknown or invalid; the message says which',
      ),
      Unauthorized: {
        ...json('Error', 'No bearer token, or the wrong one (local serving)'),
        headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
      },
      Forbidden: {
        ...json(
          'Error',
          'JWT: the token lacks a required scope, or the claim naming its mailboxes; the message says which',
        ),
        headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
      },
      NotFound: json(
        'Error',
        'No such mailbox, message, attachment or route, or a mailbox or message the caller may not read (answered alike, so existence is not revealed)',
      ),
      MethodNotAllowed: json('Error', 'Only GET and HEAD are served'),
      TooLarge: json(
        'Error',
        'The body exceeds what this deployment can return directly (download the raw message)',
      ),
      InternalError: json('Error', 'An unexpected failure; the body carries a request id'),
      Unavailable: {
        ...json('Error', 'The archive store is throttling or unreachable; retry'),
        headers: { 'Retry-After': { schema: { type: 'integer' } } },
      },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            additionalProperties: false,
            properties: {
              code: {
                type: 'string',
                enum: [
                  'UNAUTHORIZED',
                  'INVALID_TOKEN',
                  'FORBIDDEN',
                  'ROUTE_NOT_FOUND',
                  'METHOD_NOT_ALLOWED',
                  'UNKNOWN_PARAMETER',
                  'MISSING_PARAMETER',
                  'INVALID_PARAMETER',
                  'INVALID_CURSOR',
                  'INVALID_MESSAGE_ID',
                  'MAILBOX_NOT_FOUND',
                  'MESSAGE_NOT_FOUND',
                  'ATTACHMENT_NOT_FOUND',
                  'RESPONSE_TOO_LARGE',
                  'ATTACHMENT_UNREADABLE',
                  'SERVICE_UNAVAILABLE',
                  'INTERNAL',
                ],
              },
              message: { type: 'string' },
              requestId: { type: 'string', description: 'On 5xx: quote it when reporting.' },
            },
          },
        },
      },
      Address: address,
      Mailbox: {
        type: 'object',
        required: ['mailboxId', 'messages', 'octets', 'lastRun', 'lastSuccessAt', 'lastError'],
        additionalProperties: false,
        properties: {
          mailboxId: { type: 'string' },
          messages: { type: 'integer', minimum: 0, description: 'Messages archived' },
          octets: { type: 'integer', minimum: 0, description: 'Raw octets archived' },
          lastRun: {
            type: nullable('object'),
            required: ['runId', 'outcome', 'endedAt', 'errorCode', 'errorMessage'],
            additionalProperties: false,
            properties: {
              runId: { type: 'string' },
              outcome: ref('schemas', 'RunOutcome'),
              endedAt: isoDateTime,
              errorCode: { type: nullable('string') },
              errorMessage: { type: nullable('string') },
            },
          },
          lastSuccessAt: { ...nullableDateTime, description: 'End of the last successful run' },
          lastError: {
            type: nullable('object'),
            description: "The latest run's error; null once a run ends cleanly.",
            required: ['code', 'message', 'runId', 'at'],
            additionalProperties: false,
            properties: {
              code: { type: 'string' },
              message: { type: nullable('string') },
              runId: { type: 'string' },
              at: isoDateTime,
            },
          },
        },
      },
      MailboxList: {
        type: 'object',
        required: ['items'],
        additionalProperties: false,
        properties: { items: { type: 'array', items: ref('schemas', 'Mailbox') } },
      },
      MessageListItem: {
        type: 'object',
        required: [
          'id',
          'mailboxId',
          'messageKey',
          'messageId',
          'subject',
          'from',
          'date',
          'archivedAt',
          'snippet',
          'octets',
          'attachmentCount',
          'attachmentsTruncated',
          'deletedFromServerAt',
        ],
        additionalProperties: false,
        properties: {
          id: messageIdProperty,
          mailboxId: { type: 'string' },
          messageKey: {
            type: 'string',
            description: 'UIDL, or a digest where the server had none',
          },
          messageId: { type: nullable('string'), description: 'The Message-ID header as sent' },
          subject: { type: nullable('string') },
          from: {
            type: 'array',
            maxItems: 3,
            description: 'The first senders; the message detail lists them all.',
            items: ref('schemas', 'Address'),
          },
          date: { ...nullableDateTime, description: 'The Date header; null when it did not parse' },
          archivedAt: isoDateTime,
          snippet: { type: 'string' },
          octets: { type: 'integer', minimum: 0 },
          attachmentCount: { type: 'integer', minimum: 0 },
          attachmentsTruncated: { type: 'boolean' },
          deletedFromServerAt: nullableDateTime,
        },
      },
      MessagePage: {
        type: 'object',
        required: ['items', 'nextCursor'],
        additionalProperties: false,
        properties: {
          items: { type: 'array', items: ref('schemas', 'MessageListItem') },
          nextCursor: {
            type: nullable('string'),
            description: 'Pass as `cursor` for the next page; null on the last page.',
          },
        },
      },
      MessageIdMatches: {
        type: 'object',
        required: ['items', 'truncated'],
        additionalProperties: false,
        properties: {
          items: { type: 'array', items: ref('schemas', 'MessageListItem') },
          truncated: { type: 'boolean', description: 'More messages carry this Message-ID' },
        },
      },
      Attachment: {
        type: 'object',
        required: ['index', 'filename', 'contentType', 'octets', 'sha256'],
        additionalProperties: false,
        properties: {
          index: { type: 'integer', minimum: 0, description: 'The {n} of its download URL' },
          filename: { type: nullable('string'), description: 'Sanitised; null when it had none' },
          contentType: { type: 'string' },
          octets: { type: 'integer', minimum: 0 },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        },
      },
      MessageDetail: {
        type: 'object',
        required: [
          'id',
          'mailboxId',
          'messageKey',
          'uidl',
          'messageId',
          'subject',
          'from',
          'to',
          'cc',
          'addressesTruncated',
          'date',
          'dateHeader',
          'snippet',
          'octets',
          'sha256',
          'archivedAt',
          'runId',
          'deletedFromServerAt',
          'parseError',
          'parserVersion',
          'attachments',
          'attachmentsTruncated',
        ],
        additionalProperties: false,
        properties: {
          id: messageIdProperty,
          mailboxId: { type: 'string' },
          messageKey: { type: 'string' },
          uidl: { type: nullable('string') },
          messageId: { type: nullable('string') },
          subject: { type: nullable('string') },
          from: { type: 'array', items: ref('schemas', 'Address') },
          to: { type: 'array', items: ref('schemas', 'Address') },
          cc: { type: 'array', items: ref('schemas', 'Address') },
          addressesTruncated: { type: 'boolean' },
          date: nullableDateTime,
          dateHeader: { type: nullable('string'), description: 'The Date header as sent' },
          snippet: { type: 'string' },
          octets: { type: 'integer', minimum: 0 },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          archivedAt: isoDateTime,
          runId: { type: 'string' },
          deletedFromServerAt: nullableDateTime,
          parseError: { type: nullable('string') },
          parserVersion: {
            type: 'integer',
            minimum: 0,
            description:
              'The version of the message parser that wrote this record (its attachment numbering and the fields it filled); 0 for a record written before versions were recorded.',
          },
          attachments: {
            type: 'array',
            maxItems: MAX_ATTACHMENTS_LISTED,
            items: ref('schemas', 'Attachment'),
          },
          attachmentsTruncated: { type: 'boolean' },
        },
      },
      RunOutcome: { type: 'string', enum: ['success', 'partial', 'retry-later', 'failed'] },
      Run: {
        type: 'object',
        required: [
          'mailboxId',
          'runId',
          'startedAt',
          'endedAt',
          'outcome',
          'counts',
          'stopReason',
          'errorCode',
          'errorMessage',
          'failures',
          'session',
        ],
        additionalProperties: false,
        properties: {
          mailboxId: { type: 'string' },
          runId: { type: 'string' },
          startedAt: isoDateTime,
          endedAt: isoDateTime,
          outcome: ref('schemas', 'RunOutcome'),
          counts: {
            type: 'object',
            required: [
              'listed',
              'retrieved',
              'stored',
              'alreadyStored',
              'deleted',
              'skipped',
              'failed',
              'octets',
              'remainingOnServer',
            ],
            additionalProperties: false,
            properties: Object.fromEntries(
              [
                'listed',
                'retrieved',
                'stored',
                'alreadyStored',
                'deleted',
                'skipped',
                'failed',
                'octets',
                'remainingOnServer',
              ].map((name) => [name, { type: 'integer', minimum: 0 }]),
            ),
          },
          stopReason: { type: nullable('string') },
          errorCode: { type: nullable('string') },
          errorMessage: { type: nullable('string') },
          failures: {
            type: 'array',
            items: {
              type: 'object',
              required: ['messageKey', 'errorCode', 'message'],
              additionalProperties: false,
              properties: {
                messageKey: { type: 'string' },
                errorCode: { type: 'string' },
                message: { type: 'string' },
              },
            },
          },
          session: {
            description:
              'What the POP3 session was like; null when the run never logged in. utf8: RFC 6856 UTF-8 mode (active, refused, not-offered). sizeMismatches: messages whose octets received disagreed with their LIST size; sizesSuspect: so many disagreed that the listing does not describe the mail served.',
            type: nullable('object'),
            required: ['utf8', 'sizeMismatches', 'sizesSuspect'],
            additionalProperties: false,
            properties: {
              utf8: { type: 'string', enum: ['active', 'refused', 'not-offered'] },
              sizeMismatches: { type: 'integer', minimum: 0 },
              sizesSuspect: { type: 'boolean' },
            },
          },
        },
      },
      RunList: {
        type: 'object',
        required: ['items'],
        additionalProperties: false,
        properties: { items: { type: 'array', items: ref('schemas', 'Run') } },
      },
    },
  },
};
