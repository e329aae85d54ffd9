/**
 * The text of an HTML body, for the snippet: a single forward scan that skips markup, comments and
 * raw-text elements and decodes the common entities. It is no HTML parser; it only has to find the
 * first few hundred characters a reader would see, and stay linear on hostile markup.
 */
import type { SnippetBuilder } from './snippet.js';

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '\u00A9',
  reg: '\u00AE',
  trade: '\u2122',
  hellip: '\u2026',
  mdash: '\u2014',
  ndash: '\u2013',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201C',
  rdquo: '\u201D',
  bull: '\u2022',
  middot: '\u00B7',
  euro: '\u20AC',
  zwnj: '',
  zwj: '',
  shy: '',
};

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{1,31}));/g,
    (entity: string, dec?: string, hex?: string, name?: string) => {
      if (name !== undefined) return NAMED_ENTITIES[name.toLowerCase()] ?? entity;
      const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
      const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
      return valid ? String.fromCodePoint(code) : '\uFFFD';
    },
  );
}

/** Elements whose content is never text. */
const RAW_TEXT_ELEMENTS = new Set(['script', 'style', 'title', 'template']);

/** Elements that separate words when rendered ("<p>a</p><p>b</p>" reads "a b", "<b>a</b>b" reads "ab"). */
const BREAKING_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'dd',
  'div',
  'dl',
  'dt',
  'footer',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'img',
  'li',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'td',
  'th',
  'tr',
  'ul',
]);

const TAG_START = /<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)/y;

/**
 * Adds the text of an HTML document to the snippet until it is full. One forward pass: every search
 * starts where the last one ended, and a closing tag that is not found ends the scan, so hostile
 * markup (thousands of unclosed <style>) cannot make it quadratic.
 */
export function addHtmlText(html: string, snippet: SnippetBuilder): void {
  let at = 0;
  while (at < html.length && !snippet.full) {
    const lt = html.indexOf('<', at);
    const textEnd = lt === -1 ? html.length : lt;
    if (textEnd > at) snippet.add(decodeEntities(html.slice(at, textEnd)));
    if (lt === -1) return;
    const next = html.charCodeAt(lt + 1);
    if (html.startsWith('<!--', lt)) {
      const close = html.indexOf('-->', lt + 4);
      if (close === -1) return;
      at = close + 3;
      continue;
    }
    if (next === 0x21 || next === 0x3f) {
      // <!DOCTYPE ...>, <![CDATA[ ...]]>, <?xml ...?>
      const close = html.indexOf('>', lt);
      if (close === -1) return;
      at = close + 1;
      continue;
    }
    TAG_START.lastIndex = lt;
    const tag = TAG_START.exec(html);
    if (tag === null) {
      // A "<" that starts no tag is text ("a < b").
      snippet.add('<');
      at = lt + 1;
      continue;
    }
    const close = html.indexOf('>', TAG_START.lastIndex);
    if (close === -1) return;
    at = close + 1;
    const name = (tag[2] ?? '').toLowerCase();
    if (BREAKING_ELEMENTS.has(name)) snippet.add(' ');
    if (tag[1] === '' && RAW_TEXT_ELEMENTS.has(name)) {
      const closer = new RegExp(`</${name}\\s*>`, 'gi');
      closer.lastIndex = at;
      if (closer.exec(html) === null) return;
      at = closer.lastIndex;
    }
  }
}
