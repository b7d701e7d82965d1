import { GatewayError, type ErrorKind } from '../domain/errors.js';

/**
 * The one place where errors become HTTP. Every error body has the OpenAI shape
 * `{ error: { message, type, code, param } }`, so OpenAI clients raise the matching
 * class (BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
 * RateLimitError) and management clients get the same shape everywhere.
 */

const MAPPING: Record<ErrorKind, { status: number; type: string }> = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unauthorized: { status: 401, type: 'authentication_error' },
  forbidden: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'not_found_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
};

export interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null; detail?: string };
}

export function errorBody(type: string, message: string, code: string | null = null, param: string | null = null): ErrorBody {
  return { error: { message, type, code, param } };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/** The response for `err`; anything that is not a GatewayError or a client error is a 500 and is logged. */
export function errorResponse(err: unknown, logError: (line: string) => void): ErrorResponse {
  if (err instanceof GatewayError) {
    const { status, type } = MAPPING[err.kind];
    const body = errorBody(type, err.message, err.code, err.param);
    if (err.detail) body.error.detail = err.detail;
    return { status, body, ...(err.retryAfter !== undefined ? { headers: { 'Retry-After': String(err.retryAfter) } } : {}) };
  }
  const wire = httpErrorOf(err);
  if (wire) return { status: wire.status, body: errorBody('invalid_request_error', wire.message, wire.code) };
  logError(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return { status: 500, body: errorBody('api_error', 'The mock hit an internal error; see its log.', 'internal_error') };
}

/** body-parser's limit in the words the limit was set in: 1mb is "1 MB", 64mb "64 MB". */
const sizeOf = (bytes: number) => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MB` : `${bytes} bytes`);

/** Errors raised by body parsing before any handler runs. */
function httpErrorOf(err: unknown): { status: number; message: string; code: string } | undefined {
  const e = err as { type?: string; status?: number; message?: string; limit?: number };
  if (e?.type === 'entity.parse.failed') return { status: 400, message: `The request body is not valid JSON: ${e.message}`, code: 'malformed_json' };
  if (e?.type === 'entity.too.large') return { status: 413, message: `The request body is too large (limit ${sizeOf(e.limit ?? 1024 * 1024)}).`, code: 'body_too_large' };
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return { status: 400, message: `The request body encoding is not supported: ${e.message}`, code: 'unsupported_encoding' };
  }
  // Express's own client errors, e.g. a path segment that is not valid percent-encoding.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: 400, message: `The request is malformed: ${e.message ?? 'bad request'}.`, code: 'malformed_request' };
  }
  return undefined;
}
