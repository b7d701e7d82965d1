import { GatewayError, MANAGEMENT_RATE_LIMIT_CODE, type ErrorKind } from '../domain/errors.js';

/**
 * The one place where errors become HTTP, and the only module that knows the form of an
 * error body (AMBIGUITIES.md #9):
 * - `baseten` (the default), as Baseten documents it: `{"error": "<message>"}`, and for
 *   the management API's own rate limit `{"error": "Rate limit exceeded. Please try
 *   again later.", "retry_after": N}`.
 * - `openai` (`--error-format openai`): `{"error": {"message", "type", "code", "param"}}`
 *   (plus `detail` when the message is a fixed documented text), and the same top-level
 *   `retry_after` on a management 429.
 * The OpenAI SDK raises the class of the status with either form (BadRequestError,
 * AuthenticationError, PermissionDeniedError, NotFoundError, RateLimitError,
 * InternalServerError); with the Baseten form it keeps the message in `err.error`.
 *
 * The message is the same in both forms. What only the OpenAI form's body can hold is
 * sent as headers with every error, whatever the form, so a client of the documented
 * body loses nothing: `X-Fgw-Error-Code` (machine-readable code), `X-Fgw-Error-Param`
 * (the offending field, when there is one) and `X-Fgw-Error-Detail` (the longer
 * explanation behind a fixed documented message). Header values are visible ASCII:
 * anything else is percent-encoded as UTF-8 (so `decodeURIComponent` gives it back).
 */

export type ErrorFormat = 'baseten' | 'openai';

export const ERROR_FORMATS: readonly ErrorFormat[] = ['baseten', 'openai'];

const STATUS: Record<ErrorKind, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
};

/** OpenAI's error `type` for a status (the OpenAI form only). */
function typeOf(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 405:
      return 'method_not_allowed';
    case 429:
      return 'rate_limit_error';
    default:
      return status >= 500 || status < 400 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * An answer a step gives in an operation's place that is not a domain rule: a method the
 * path does not have (405), a body too large to read (413), an injected fault. Thrown
 * like a GatewayError and rendered the same way, in the chosen form.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface BasetenErrorBody {
  error: string;
  retry_after?: number;
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null; detail?: string };
  retry_after?: number;
}

export type ErrorBody = BasetenErrorBody | OpenAIErrorBody;

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

interface Described {
  status: number;
  message: string;
  code: string;
  param?: string | null;
  detail?: string | undefined;
  retryAfter?: number | undefined;
  /** The documented management 429 carries `retry_after` in its body too. */
  retryAfterInBody?: boolean;
  headers?: Record<string, string>;
}

/** The response for `err`; anything that is not a GatewayError, an HttpError or a client error is a 500 and is logged. */
export function errorResponse(err: unknown, logError: (line: string) => void, format: ErrorFormat = 'baseten'): ErrorResponse {
  return render(describe(err, logError), format);
}

function describe(err: unknown, logError: (line: string) => void): Described {
  if (err instanceof GatewayError) {
    return {
      status: STATUS[err.kind],
      message: err.message,
      code: err.code,
      param: err.param,
      detail: err.detail,
      retryAfter: err.retryAfter,
      retryAfterInBody: err.code === MANAGEMENT_RATE_LIMIT_CODE,
    };
  }
  if (err instanceof HttpError) return { status: err.status, message: err.message, code: err.code, headers: err.headers };
  const wire = httpErrorOf(err);
  if (wire) return wire;
  logError(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return { status: 500, message: 'The mock hit an internal error; see its log.', code: 'internal_error' };
}

function render(d: Described, format: ErrorFormat): ErrorResponse {
  const headers: Record<string, string> = { ...d.headers, 'X-Fgw-Error-Code': headerSafe(d.code) };
  if (d.param) headers['X-Fgw-Error-Param'] = headerSafe(d.param);
  if (d.detail) headers['X-Fgw-Error-Detail'] = headerSafe(d.detail);
  if (d.retryAfter !== undefined) headers['Retry-After'] = String(d.retryAfter);
  let body: ErrorBody;
  if (format === 'openai') {
    const error: OpenAIErrorBody['error'] = { message: d.message, type: typeOf(d.status), code: d.code, param: d.param ?? null };
    if (d.detail) error.detail = d.detail;
    body = { error };
  } else {
    body = { error: d.message };
  }
  if (d.retryAfterInBody && d.retryAfter !== undefined) body.retry_after = d.retryAfter;
  return { status: d.status, body, headers };
}

/** Visible ASCII as is; anything else (and `%`) percent-encoded as UTF-8; at most 1000 characters. */
export function headerSafe(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) as number;
    if (c >= 0x20 && c <= 0x7e && ch !== '%') out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (out.length >= 1000) return `${out.slice(0, 1000)}...`;
  }
  return out;
}

/** body-parser's limit in the words the limit was set in: 1mb is "1 MB", 64mb "64 MB". */
const sizeOf = (bytes: number) => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MB` : `${bytes} bytes`);

/** Errors raised by body parsing before any handler runs. */
function httpErrorOf(err: unknown): Described | undefined {
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
