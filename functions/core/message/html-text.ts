/**
 * The text of an HTML body, for the snippet: a single forward scan that skips markup, comments and
 * raw-text elements and decodes entities. It is no HTML parser; it only has to find the
 * first few hundred characters a reader would see, and stay linear on hostile markup.
 */
import { decodeHTML } from 'entities';
import type { SnippetBuilder } from './snippet.js';

/**
 * Every entity HTML5 names (over 2,000: &eacute;, &auml;, &hearts;...), decoded as a browser does,
 * by `entities` (the decoder htmlparser2 uses): a word written with entities in an HTML-only
 * message must be found by search and read right in its snippet.
 */
function decodeEntities(text: string): string {
  return text.includes('&') ? decodeHTML(text) : text;
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
