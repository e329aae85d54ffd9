/**
 * Content types: the one recorded for an attachment, and the one a file name implies when a part does
 * not say (or says only application/octet-stream), as mailparser implied them through libmime's table.
 * Only common extensions are listed, and every one libmime maps to text/plain, text/html or
 * message/rfc822: those decide whether a part without a Content-Type is text or an attachment.
 */
import { posix } from 'node:path';
import { bound } from './bounded-text.js';
import { MAX_CONTENT_TYPE_LENGTH } from './message-limits.js';

export const OCTET_STREAM = 'application/octet-stream';

const BY_EXTENSION: Readonly<Record<string, string>> = {
  // text/plain, text/html and message/rfc822 in libmime's table
  acgi: 'text/html',
  htm: 'text/html',
  html: 'text/html',
  htmls: 'text/html',
  htx: 'text/html',
  shtml: 'text/html',
  stm: 'text/html',
  bas: 'text/plain',
  c: 'text/plain',
  'c++': 'text/plain',
  cc: 'text/plain',
  conf: 'text/plain',
  cxx: 'text/plain',
  def: 'text/plain',
  f: 'text/plain',
  f90: 'text/plain',
  for: 'text/plain',
  g: 'text/plain',
  h: 'text/plain',
  hh: 'text/plain',
  idc: 'text/plain',
  jav: 'text/plain',
  java: 'text/plain',
  list: 'text/plain',
  log: 'text/plain',
  lst: 'text/plain',
  m: 'text/plain',
  mar: 'text/plain',
  pl: 'text/plain',
  sdml: 'text/plain',
  txt: 'text/plain',
  eml: 'message/rfc822',
  mht: 'message/rfc822',
  mhtml: 'message/rfc822',
  nws: 'message/rfc822',
  // common attachments
  '3gp': 'video/3gpp',
  '7z': 'application/x-7z-compressed',
  aac: 'audio/x-aac',
  ai: 'application/postscript',
  apk: 'application/vnd.android.package-archive',
  avi: 'video/avi',
  bmp: 'image/bmp',
  bz2: 'application/x-bzip2',
  cer: 'application/pkix-cert',
  crt: 'application/pkix-cert',
  css: 'text/css',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  epub: 'application/epub+zip',
  eps: 'application/postscript',
  gif: 'image/gif',
  gz: 'application/x-gzip',
  heic: 'image/heic',
  ico: 'image/x-icon',
  ics: 'text/calendar',
  jar: 'application/java-archive',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  js: 'application/javascript',
  json: 'application/json',
  m4a: 'audio/mp4',
  md: 'text/markdown',
  mdb: 'application/x-msaccess',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  mpeg: 'video/mpeg',
  mpg: 'video/mpeg',
  msg: 'application/vnd.ms-outlook',
  odp: 'application/vnd.oasis.opendocument.presentation',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odt: 'application/vnd.oasis.opendocument.text',
  p7m: 'application/pkcs7-mime',
  p7s: 'application/pkcs7-signature',
  pdf: 'application/pdf',
  pgp: 'application/pgp-signature',
  png: 'image/png',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  ps: 'application/postscript',
  rar: 'application/x-rar-compressed',
  rtf: 'application/rtf',
  svg: 'image/svg+xml',
  tar: 'application/x-tar',
  tgz: 'application/gnutar',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  tsv: 'text/tab-separated-values',
  vcf: 'text/x-vcard',
  vsd: 'application/vnd.visio',
  wav: 'audio/wav',
  webm: 'video/webm',
  webp: 'image/webp',
  wmv: 'video/x-ms-wmv',
  woff2: 'font/woff2',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  xml: 'application/xml',
  xps: 'application/vnd.ms-xpsdocument',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  zip: 'application/zip',
};

/** The type a file name's last extension implies (libmime's detectMimeType), else octet-stream. */
export function contentTypeForFilename(filename: string): string {
  const extension =
    filename.toLowerCase().replace(/\s/g, '').replace(/^\.+/, '').split('.').pop() ?? '';
  return Object.hasOwn(BY_EXTENSION, extension)
    ? (BY_EXTENSION[extension] as string)
    : OCTET_STREAM;
}

/**
 * The extension of a file name as node:path reads it (".bashrc" and "notes" have none): a part
 * without a Content-Type is typed from it only when there is one, as mailsplit typed it.
 */
export function filenameExtension(filename: string): string {
  return posix.extname(filename).replace(/^\./, '');
}

/** Only RFC 6838 restricted-name characters, lower-cased: one JSON byte each. */
export function sanitizeContentType(raw: string): string {
  const value = bound(
    raw.toLowerCase().replace(/[^a-z0-9!#$&^_.+\-/]/g, ''),
    MAX_CONTENT_TYPE_LENGTH,
  );
  return /^[^/]+\/[^/]+$/.test(value) ? value : OCTET_STREAM;
}
