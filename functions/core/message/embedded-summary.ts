/**
 * The header summary of an embedded message (an inline message/rfc822 part), which mailparser wrote
 * into a message's text ahead of the embedded message's own text: "From: ... Subject: ... Date: ...
 * To: ...". The snippet keeps reading it that way. The Date is left empty, as mailparser was told to
 * leave it (its own rendering replaced an unparseable date with the current time).
 */
import { formatAddresses, parseAddressField } from './addresses.js';
import { decodeWords } from './encoded-words.js';
import { type HeaderField, rawHeaderText, unfoldedValue } from './header-block.js';

export interface EmbeddedSummary {
  /** For the plain-text snippet. */
  text: string;
  /** For the HTML snippet, as a small table. */
  html: string;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** mailparser's HTML rendering of addresses: names unquoted, "Name <address>". */
function addressesAsHtmlText(field: HeaderField): string {
  const render = (entries: ReturnType<typeof parseAddressField>): string =>
    entries
      .map((entry) => {
        let text = entry.name ? `${entry.name}${entry.group ? ': ' : ''}` : '';
        if (entry.address) text += entry.name ? ` <${entry.address}>` : entry.address;
        if (entry.group) text += `${render(entry.group)};`;
        return text;
      })
      .join(', ');
  return render(parseAddressField(field));
}

export function embeddedSummary(fields: readonly HeaderField[]): EmbeddedSummary {
  const rows: { key: string; text: string; html: string }[] = [];
  const first = (key: string) => fields.find((field) => field.key === key);
  // A field given more than once: mailparser showed the last To, Cc or Bcc, but the first From.
  const last = (key: string) => fields.findLast((field) => field.key === key);
  const from = first('from');
  if (from !== undefined) {
    rows.push({
      key: 'From',
      text: formatAddresses(parseAddressField(from)),
      html: addressesAsHtmlText(from),
    });
  }
  for (const field of fields) {
    if (field.key !== 'subject') continue;
    const subject = decodeWords(rawHeaderText(unfoldedValue(field)));
    if (subject === '') continue;
    rows.push({ key: 'Subject', text: subject, html: subject });
    break;
  }
  if (first('date') !== undefined) rows.push({ key: 'Date', text: '', html: '' });
  for (const [key, name] of [
    ['to', 'To'],
    ['cc', 'Cc'],
    ['bcc', 'Bcc'],
  ] as const) {
    const field = last(key);
    if (field === undefined) continue;
    rows.push({
      key: name,
      text: formatAddresses(parseAddressField(field)),
      html: addressesAsHtmlText(field),
    });
  }
  if (rows.length === 0) return { text: '', html: '' };
  return {
    text: `\n${rows.map((row) => `${row.key}: ${row.text}`).join('\n')}\n`,
    html: `<table>${rows
      .map((row) => `<tr><td>${row.key}:</td><td>${escapeHtml(row.html)}</td></tr>`)
      .join('\n')}</table>`,
  };
}
