import { describe, expect, it } from 'vitest';
import { readableExcerpt, searchableText } from '../../functions/core/search/search-text.js';

describe('searchableText', () => {
  it('leaves text without Chinese or Japanese as it is', () => {
    expect(searchableText('Résumé for Zürich, 10:30')).toBe('Résumé for Zürich, 10:30');
  });

  it('splits a Japanese or Chinese run into words', () => {
    expect(searchableText('私は東京都に住んでいます').trim().split(/\s+/u)).toEqual([
      '私',
      'は',
      '東京',
      '都',
      'に',
      '住',
      'んで',
      'い',
      'ます',
    ]);
    expect(searchableText('我们在北京大学学习中文').trim().split(/\s+/u)).toEqual([
      '我们',
      '在',
      '北京',
      '大学',
      '学习',
      '中文',
    ]);
  });

  it('segments a word typed alone as it is segmented inside its sentence', () => {
    const sentence = ` ${searchableText('明日の会議は午後三時から始まります')} `;
    for (const query of ['会議', '午後', '始まります', '会議は午後']) {
      expect(sentence).toContain(` ${searchableText(query).trim()} `);
    }
  });

  it('writes ß as ss, so Grüße is found as grusse', () => {
    expect(searchableText('Grüße, STRAẞE')).toBe('Grüsse, STRASSE');
  });

  it('separates CJK from adjacent Latin and folds full-width forms', () => {
    expect(searchableText('iPhone用のＡＢＣ１２３').trim().split(/\s+/u)).toEqual([
      'iPhone',
      '用',
      'の',
      'ABC123',
    ]);
  });
});

describe('readableExcerpt', () => {
  it('takes out the spaces put between CJK words, marks included', () => {
    const indexed = searchableText('私は東京都に住んでいます。 Hello world');
    expect(readableExcerpt(indexed.replace('東京', '\u0002東京\u0003'))).toBe(
      '私は\u0002東京\u0003都に住んでいます。 Hello world',
    );
  });
});
