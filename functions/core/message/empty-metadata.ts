import type { MessageMetadata } from '../archive/ports.js';
import { PARSER_VERSION } from './parser-version.js';

/** Metadata of a message nothing could be read from; the raw bytes are archived regardless. */
export const EMPTY_METADATA: Readonly<MessageMetadata> = Object.freeze({
  messageId: null,
  from: [],
  to: [],
  cc: [],
  addressesTruncated: false,
  subject: null,
  dateHeader: null,
  date: null,
  attachments: [],
  attachmentsTruncated: false,
  snippet: '',
  parseError: null,
  // Nothing read is still this version's reading: a later parser may read more of the message.
  parserVersion: PARSER_VERSION,
  textTruncated: false,
});
