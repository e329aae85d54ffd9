/** What /search answers: message list items with their score and a marked excerpt. */
import { z } from '@hono/zod-openapi';
import { MessageListItem } from './message-schemas.js';

export const ExcerptPart = z
  .strictObject({
    text: z.string(),
    match: z.boolean().openapi({ description: 'True for text that matched the query' }),
  })
  .openapi('ExcerptPart');

export const SearchHit = MessageListItem.extend({
  score: z.number().openapi({
    description: 'Relevance (bm25; higher is better), comparable only within one search',
  }),
  excerpt: z.array(ExcerptPart).openapi({
    description:
      'A short passage around the match, in order; join the texts to read it, mark the matches.',
  }),
}).openapi('SearchHit');

export const SearchPage = z
  .strictObject({
    items: z.array(SearchHit),
    nextCursor: z.string().nullable().openapi({
      description: 'Pass as `cursor` for the next page; null on the last page.',
    }),
  })
  .openapi('SearchPage');
