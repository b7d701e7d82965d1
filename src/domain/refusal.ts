import { rfc3339Millis } from './clock.js';
import { GatewayError, MANAGEMENT_RATE_LIMIT_CODE, MANAGEMENT_RATE_LIMIT_MESSAGE } from './errors.js';
import type { Refusal } from '../generated/mock-admin.js';
import { retryAfterSeconds, WINDOW_MS } from './meter.js';

/**
 * Which limit refused a request (a 429), as plain data: the journal records it and the
 * inspector explains the refusal with it. Made where the limit check already knows it
 * (src/service/usage.ts for a group's limits, src/http/rate-limit.ts for the management
 * API's own limit), only on the refusal path. Its fields are the admin spec's `Refusal`
 * (openapi/mock-admin.yaml), which describes each.
 */
export type { Refusal };

/** A 429 that carries the Refusal behind it; rendered like any GatewayError (src/http/errors.ts). */
export class LimitRefused extends GatewayError {
  constructor(
    message: string,
    code: string,
    readonly refusal: Refusal,
  ) {
    super('rate_limited', message, code, null, refusal.retry_after);
  }
}

/** A refusal's `retry_after` and `reset_at` from the ms until the limit admits the request (`retry_after` at least 1 s). */
export function refusalTiming(now: number, waitMs: number): { retry_after: number; reset_at: string } {
  const ms = Math.max(0, waitMs);
  return { retry_after: retryAfterSeconds(ms), reset_at: rfc3339Millis(now + ms) };
}

/**
 * The management API's own rate limit refusing a request (src/domain/management-rate.ts):
 * the documented message and code, and which limit it was: `limit` requests per window
 * on `operation`, for the presented key, until `resetAt` (ms).
 */
export function managementRateLimited(operation: string, limit: number, windowMs: number, now: number, resetAt: number): LimitRefused {
  return new LimitRefused(MANAGEMENT_RATE_LIMIT_MESSAGE, MANAGEMENT_RATE_LIMIT_CODE, {
    limit: 'management',
    type: 'REQUEST',
    // The service's window is one second (facts: 100 requests per second); a minute's window exists only in unit tests.
    unit: windowMs === WINDOW_MS.MINUTE ? 'MINUTE' : 'SECOND',
    threshold: limit,
    source_group: null,
    model: null,
    operation,
    used: limit,
    requested: 1,
    ...refusalTiming(now, resetAt - now),
  });
}
