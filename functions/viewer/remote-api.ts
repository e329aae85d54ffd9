/**
 * The query API of a deployed archive, as the local viewer's `api`: each read the page makes is
 * forwarded to the stack's API signed with SigV4 from the standard AWS credentials (environment,
 * profile, SSO), so a person browses their deployed archive without any public web app.
 * Only reads are forwarded; the page never writes.
 */
import type { AwsCredentialIdentity, Provider } from '@smithy/types';
import { createSignedApiClient } from '../cli/signed-api-client.js';

/** Headers that describe the deployed API's own transfer, not the content: never passed on. */
const HOP_HEADERS = ['content-encoding', 'content-length', 'transfer-encoding', 'connection'];

export function remoteApi(options: {
  baseUrl: string;
  region?: string;
  credentials?: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
}): { fetch(request: Request): Promise<Response> } {
  const get = createSignedApiClient(options);
  return {
    async fetch(request) {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return Response.json(
          {
            error: {
              code: 'METHOD_NOT_ALLOWED',
              message: `${request.method} is not allowed; use GET`,
            },
          },
          { status: 405, headers: { Allow: 'GET, HEAD' } },
        );
      }
      const url = new URL(request.url);
      // Relative to the API's base: a stage path such as /prod stays in front.
      const answer = await get(`.${url.pathname}${url.search}`);
      const headers = new Headers(answer.headers);
      for (const name of HOP_HEADERS) headers.delete(name);
      return new Response(request.method === 'HEAD' ? null : answer.body, {
        status: answer.status,
        headers,
      });
    },
  };
}
