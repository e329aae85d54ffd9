/** What the text routes answer: a message's readable text, as the search index keeps it. */
import { z } from '@hono/zod-openapi';

export const MessageTextBody = z
  .strictObject({
    text: z.string().openapi({
      description:
        'The text parts decoded (an HTML-only message reduced to its text), bounded; never HTML',
    }),
    truncated: z.boolean().openapi({ description: 'The bound cut the text short' }),
  })
  .openapi('MessageText');
