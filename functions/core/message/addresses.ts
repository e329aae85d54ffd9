/**
 * The From, To and Cc lists of the index record. Address fields are parsed with nodemailer's
 * addressparser (the one mailparser used) and decoded the way mailparser decoded them; then groups are
 * flattened, duplicates dropped and the lists bounded (see message-limits.ts).
 */
import { domainToUnicode } from 'node:url';
import addressparser, { type Address } from 'nodemailer/lib/addressparser';
import type { AddressSummary } from '../archive/ports.js';
import { bound, cleanText } from './bounded-text.js';
import { decodeWords } from './encoded-words.js';
import { type HeaderField, rawHeaderText, unfoldedValue } from './header-block.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES_PER_LIST,
  MAX_ADDRESSES_TOTAL,
  MAX_NAME_LENGTH,
} from './message-limits.js';

const ENCODED_WORD = /=\?[^?]+\?[BbQq]\?[^?]*\?=/;

/**
 * Decodes parsed addresses in place, as mailparser did: encoded words in display names; an encoded
 * word in the address itself only when it decodes to a plain local@domain (RFC 2047 s.5 keeps them out
 * of addresses, so one naming another address is dropped); punycode domains to Unicode.
 */
function decodeAddresses(addresses: Address[]): void {
  for (const address of addresses) {
    address.name = decodeWords((address.name ?? '').trim());
    if (address.group !== undefined) {
      decodeAddresses(address.group);
      continue;
    }
    if (ENCODED_WORD.test(address.address)) {
      const decoded = decodeWords(address.address);
      address.address = /^[^\s@]+@[^\s@]+$/.test(decoded) && !decoded.includes('=?') ? decoded : '';
    }
    const at = address.address.lastIndexOf('@');
    if (at >= 0 && address.address.includes('@xn--', at)) {
      const domain = domainToUnicode(address.address.slice(at + 1));
      if (domain !== '') address.address = address.address.slice(0, at + 1) + domain;
    }
  }
}

const PLAIN_ADDRESS = "[A-Za-z0-9._%+'\\-]+@[A-Za-z0-9.\\-]+";
/** One list entry in a form that needs no tokenizer: an address, or a name (plain or quoted) and one. */
const PLAIN_ENTRY = new RegExp(
  `^\\s*(?:(${PLAIN_ADDRESS})|(?:"([^"\\\\,]*)"\\s*|([^"<>,;:@\\\\()\\[\\]]*))<(${PLAIN_ADDRESS})>)\\s*$`,
);

/**
 * The entries of a list in which every entry is of the plain forms nearly all mail uses, or null.
 * For those, addressparser's answer is known (a test holds the two together), and its tokenizer
 * costs more than the rest of a small message's parse. Like addressparser, a display name that is
 * the address itself ("a@b.example" <a@b.example>) is no name: it is blanked.
 */
export function plainAddressList(value: string): Address[] | null {
  if (value.trim() === '') return null;
  const entries: Address[] = [];
  for (const entry of value.split(',')) {
    const match = PLAIN_ENTRY.exec(entry);
    if (match === null) return null;
    if (match[1] !== undefined) {
      entries.push({ address: match[1], name: '' });
    } else {
      const address = match[4] ?? '';
      const name = (match[2] ?? match[3] ?? '').trim();
      entries.push({ address, name: name === address ? '' : name });
    }
  }
  return entries;
}

const ENCODED_WORDS = new RegExp(ENCODED_WORD.source, 'g');
/**
 * What stands for the n-th encoded word while the list is tokenized: an encoded word itself (so one
 * that a sender wrote in this form is replaced like any other and cannot pose as a stand-in), and
 * free of every character that carries address structure.
 */
const STAND_IN = /=\?(\d+)\?Q\?\?=/g;

/** The text with its stand-ins put back to the encoded words they stand for. */
function restoreWords(text: string, words: readonly string[]): string {
  return text.includes('=?')
    ? text.replace(STAND_IN, (_, n: string) => words[Number(n)] ?? '')
    : text;
}

function restoreAddresses(addresses: Address[], words: readonly string[]): void {
  for (const address of addresses) {
    address.name = restoreWords(address.name ?? '', words);
    address.address = restoreWords(address.address ?? '', words);
    if (address.group !== undefined) restoreAddresses(address.group, words);
  }
}

/**
 * An address field's entries, decoded; groups keep their members. Each encoded word is one word of
 * a phrase (RFC 2047 s.5(3)), whatever it contains: a ":" or "<" inside one is text, never group or
 * address syntax. addressparser tokenizes raw text, so the words are swapped for stand-ins while it
 * reads the list (mailparser, which does not, read "=?utf-8?Q?Re:_x?=" as the start of a group).
 */
export function parseAddressField(field: HeaderField): Address[] {
  const raw = rawHeaderText(unfoldedValue(field));
  const words: string[] = [];
  const value = raw.includes('=?')
    ? raw.replace(ENCODED_WORDS, (word) => `=?${words.push(word) - 1}?Q??=`)
    : raw;
  const addresses = plainAddressList(value) ?? addressparser(value);
  if (words.length > 0) restoreAddresses(addresses, words);
  decodeAddresses(addresses);
  return addresses;
}

/** The entries as mailparser wrote them into the text of an embedded message's header summary. */
export function formatAddresses(addresses: readonly Address[]): string {
  return addresses
    .map((address) => {
      let text = '';
      if (address.name) {
        text += `"${address.name.replace(/["\\]/g, '\\$&')}"${address.group ? ': ' : ''}`;
      }
      if (address.address) text += address.name ? ` <${address.address}>` : address.address;
      if (address.group) text += `${formatAddresses(address.group)};`;
      return text;
    })
    .join(', ');
}

/** Group members take the place of their group ("Team: a@x, b@x;"); an empty group yields nothing. */
function* mailboxes(entries: readonly Address[]): Generator<{ name: string; address: string }> {
  for (const entry of entries) {
    if (entry.group !== undefined) {
      for (const member of entry.group) if (member.group === undefined) yield member;
    } else {
      yield entry;
    }
  }
}

export interface AddressLists {
  from: AddressSummary[];
  to: AddressSummary[];
  cc: AddressSummary[];
  truncated: boolean;
}

/**
 * The bounded lists from a message's header fields: the first From field (a second one is not the
 * sender shown), every To and Cc field. Addresses are lower-cased and deduplicated per list; an entry
 * with only a name is kept (and deduplicated by name).
 */
export function collectAddresses(fields: readonly HeaderField[]): AddressLists {
  const lists: AddressLists = { from: [], to: [], cc: [], truncated: false };
  let total = 0;
  for (const key of ['from', 'to', 'cc'] as const) {
    const out = lists[key];
    const seen = new Set<string>();
    const matching = fields.filter((field) => field.key === key);
    entries: for (const field of key === 'from' ? matching.slice(0, 1) : matching) {
      for (const mailbox of mailboxes(parseAddressField(field))) {
        const fullAddress = cleanText(mailbox.address, Number.MAX_SAFE_INTEGER).toLowerCase();
        const address = bound(fullAddress, MAX_ADDRESS_LENGTH);
        const name = cleanText(mailbox.name, MAX_NAME_LENGTH);
        if (address === '' && name === '') continue;
        const identity = address === '' ? `name:${name.toLowerCase()}` : `address:${address}`;
        if (seen.has(identity)) continue;
        if (out.length >= MAX_ADDRESSES_PER_LIST || total >= MAX_ADDRESSES_TOTAL) {
          lists.truncated = true;
          break entries;
        }
        if (address.length < fullAddress.length) lists.truncated = true;
        seen.add(identity);
        out.push({ address, name });
        total++;
      }
    }
  }
  return lists;
}
