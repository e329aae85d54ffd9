import { ArchiveError } from './errors.js';
import type { LeaseRequest } from './ports.js';

/**
 * Refuses a lease request whose times are not whole milliseconds or whose TTL is not positive: every
 * index compares them as numbers, and a NaN or negative TTL would make a lease that never expires
 * or one that is free the moment it is taken.
 */
export function checkLeaseRequest(request: LeaseRequest): void {
  if (
    !Number.isSafeInteger(request.now) ||
    !Number.isSafeInteger(request.ttlMs) ||
    request.ttlMs <= 0
  ) {
    throw new ArchiveError('INVALID_ARGUMENT', 'lease now and ttlMs must be integers, ttlMs > 0');
  }
}
