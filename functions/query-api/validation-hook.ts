/**
 * Where a refused parameter becomes an ApiError. zod-openapi calls this after validating each part
 * of a request against its route's declaration; the error it throws is answered by errors.ts like any
 * other, so validation adds no second way of writing an error response.
 */
import type { Hook, z } from '@hono/zod-openapi';
import { ApiError } from './errors.js';
import type { AppEnv } from './query-app-deps.js';
import { apiErrorOf } from './schemas/parameter-schemas.js';

type Issue = z.core.$ZodIssue;
/** The query string as the validator saw it: every value of every parameter, in URL order. */
type RawQuery = Record<string, string[]>;

function parameterOf(issue: Issue): string {
  return issue.code === 'unrecognized_keys' ? (issue.keys[0] ?? '') : String(issue.path[0] ?? '');
}

/** An unknown or repeated parameter: wrong whatever its value, so reported before any value is. */
function isMisplaced(issue: Issue, query: RawQuery): boolean {
  if (issue.code === 'unrecognized_keys') return true;
  return issue.code === 'invalid_type' && (query[parameterOf(issue)]?.length ?? 0) > 1;
}

/** The issue a client hears about: the first misplaced parameter in URL order, else the first. */
function firstIssue(issues: readonly Issue[], query: RawQuery): Issue | undefined {
  const order = Object.keys(query);
  const misplaced = issues
    .filter((issue) => isMisplaced(issue, query))
    .sort((a, b) => order.indexOf(parameterOf(a)) - order.indexOf(parameterOf(b)));
  return misplaced[0] ?? issues[0];
}

function toApiError(issue: Issue | undefined, query: RawQuery): ApiError {
  if (issue === undefined) return new ApiError(400, 'INVALID_PARAMETER', 'invalid request');
  const carried = apiErrorOf(issue);
  if (carried !== undefined) return carried;
  if (issue.code === 'unrecognized_keys') {
    return new ApiError(400, 'UNKNOWN_PARAMETER', issue.message);
  }
  const name = parameterOf(issue);
  const given = query[name];
  // The values the router hands over are strings; a string parameter refused for its type was
  // either left out or given more than once.
  if (issue.code === 'invalid_type' && given === undefined) {
    return new ApiError(400, 'MISSING_PARAMETER', issue.message);
  }
  if (given !== undefined && given.length > 1) {
    return new ApiError(
      400,
      'INVALID_PARAMETER',
      `query parameter ${name} is given more than once`,
    );
  }
  return new ApiError(400, 'INVALID_PARAMETER', issue.message);
}

export const validationHook: Hook<unknown, AppEnv, string, undefined> = (result, c) => {
  if (result.success) return undefined;
  const query = result.target === 'query' ? c.req.queries() : {};
  throw toApiError(firstIssue(result.error.issues, query), query);
};
