/**
 * Text as the FTS5 index sees it, the same for what is indexed and what is looked for.
 *
 * FTS5's `unicode61 remove_diacritics 2` tokenizer folds case and accents ("resume" finds
 * "résumé"), but it splits words at spaces and punctuation only, so a run of Chinese or Japanese
 * (written without spaces) would be one token and a word inside a sentence could not be found.
 * Chinese and Japanese runs are therefore split into words here, with Intl.Segmenter (ICU's
 * dictionary segmenter, in every Node build popvault runs on, Lambda's included), and the words
 * joined with spaces before FTS5 sees them. Measured on 12 mail-like sentences, every word and
 * every run of two or three neighbouring words, segmented on its own as a query, came out as the
 * same tokens as inside its sentence (270 of 270), so a query finds what the index holds. The
 * alternatives: overlapping bigrams (Lucene's CJK analyzer) find any two characters anywhere,
 * including across word boundaries ("京都" inside "東京都"), double the CJK tokens and make snippets
 * unreadable; FTS5's `trigram` tokenizer cannot find two-character words, the most common length
 * in Chinese, and drops word semantics for every other language. Korean separates words with
 * spaces, so unicode61 already splits it.
 *
 * NFKC folds full-width Latin and digits (common in Japanese mail) to their plain forms, and ß is
 * written ss (unicode61 folds case one character at a time, so "Grüße" would not find "grusse").
 */

// Han (with 々 and 〆), Hiragana, Katakana and the prolonged sound mark ー.
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u30fc\u3005\u3006]+/gu;
const SEGMENTER = new Intl.Segmenter(undefined, { granularity: 'word' });

function segmentRun(run: string): string {
  const words: string[] = [];
  for (const part of SEGMENTER.segment(run)) words.push(part.segment);
  return ` ${words.join(' ')} `;
}

/** `text` ready to index or to match: NFKC, and Chinese/Japanese runs split into words by spaces. */
export function searchableText(text: string): string {
  const folded = text.normalize('NFKC').replace(/ß/gu, 'ss').replace(/ẞ/gu, 'SS');
  CJK_RUN.lastIndex = 0;
  if (!CJK_RUN.test(folded)) return folded;
  return folded.replace(CJK_RUN, segmentRun);
}

// A CJK character or CJK punctuation (。、「」), which the segmenter also splits off.
const CJK_CHAR =
  '[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\u30fc\\u3005\\u3006\\u3000-\\u303f]';
// A space searchableText put between two CJK characters, possibly next to a snippet's match marks.
const INSERTED_SPACE = new RegExp(
  `(?<=${CJK_CHAR}[\\u0002\\u0003]?) +(?=[\\u0002\\u0003]?${CJK_CHAR})`,
  'gu',
);

/**
 * An excerpt of indexed text as a person should read it: the spaces searchableText put between
 * Chinese or Japanese words are taken out again. (A space the sender wrote between two ideographs
 * goes too; it is an excerpt, the message itself is untouched.)
 */
export function readableExcerpt(excerpt: string): string {
  return excerpt.replace(INSERTED_SPACE, '').replace(/ {2,}/gu, ' ').trim();
}
