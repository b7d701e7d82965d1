/**
 * Domain errors. Modules throw these; the HTTP layer turns them into responses in
 * exactly one place (src/http/errors.ts).
 */
export type ErrorKind =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'rate_limited';

export class GatewayError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly code: string,
    readonly param: string | null = null,
    /** Seconds, for rate_limited. */
    readonly retryAfter?: number,
    /** A longer explanation, kept apart so `message` can be exactly the documented text. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export const CASCADE_MESSAGE = 'Child group exceeds parent group limit.';

export const badRequest = (message: string, code = 'invalid_request', param: string | null = null) =>
  new GatewayError('invalid_request', message, code, param);
export const notFound = (message: string, code: string, param: string | null = null) =>
  new GatewayError('not_found', message, code, param);
export const forbidden = (message: string, code: string) => new GatewayError('forbidden', message, code);
export const unauthorized = (message: string, code: string) => new GatewayError('unauthorized', message, code);

/** The management API's own rate limit (facts file, "Management API rate limit"): the documented message. */
export const MANAGEMENT_RATE_LIMIT_MESSAGE = 'Rate limit exceeded. Please try again later.';
/** Its code; the HTTP layer adds the documented `retry_after` to the body of this one 429 (made by managementRateLimited, src/domain/refusal.ts). */
export const MANAGEMENT_RATE_LIMIT_CODE = 'management_rate_limit_exceeded';
