import { PREFIX_LENGTH, prefixOf } from '../domain/keys.js';

/**
 * Redaction for everything the mock records about traffic (the request journal, the
 * inspector). A key keeps its prefix, which is public (listed, shown in the console),
 * and loses the rest; an Authorization value keeps its scheme only. Applied while a body
 * is serialised, before anything is stored, so no secret is ever held by the journal.
 */

export const REDACTED = '[redacted]';

/** Body fields that carry a key or a secret, at any depth. */
const KEY_FIELDS = new Set(['api_key', 'key']);
const SECRET_FIELDS = new Set(['secret', 'webhook_secret', 'private_key', 'password', 'token', 'access_token', 'refresh_token']);
/** Headers whose value is a credential. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization']);
const OPAQUE_HEADERS = new Set(['cookie', 'set-cookie', 'x-api-key', 'api-key']);

/** A key with its secret part gone: the 16-character prefix when the key is long enough to have a secret beyond it. */
export function redactKey(value: unknown): unknown {
  if (typeof value !== 'string') return value === null || value === undefined ? value : REDACTED;
  return value.length >= PREFIX_LENGTH + 8 ? `${prefixOf(value)}${REDACTED}` : REDACTED;
}

/** `Api-Key sky_...` -> `Api-Key [redacted]`; a value without a scheme is redacted whole. */
export function redactAuthorization(value: string): string {
  const m = /^([A-Za-z][A-Za-z0-9_-]*)[ \t]+\S/.exec(value);
  return m ? `${m[1]} ${REDACTED}` : REDACTED;
}

/**
 * Matches a field named like a sensitive one anywhere in compact JSON text (JSON.stringify
 * without indentation writes every field as `"name":`). Case-insensitive with Unicode case
 * folding, so it finds every name whose toLowerCase() is in the sets above (the Kelvin
 * sign included); it may also match inside a string value, which only costs the slow path.
 */
const SENSITIVE_FIELD = new RegExp(`"(?:${[...KEY_FIELDS, ...SECRET_FIELDS].join('|')})":`, 'iu');

/** The replacer that redacts key and secret fields while JSON.stringify walks a body. */
function redactField(k: string, v: unknown): unknown {
  if (k === '') return v;
  const name = k.toLowerCase();
  if (KEY_FIELDS.has(name)) return redactKey(v);
  if (SECRET_FIELDS.has(name)) return v === null ? null : REDACTED;
  return v;
}

const UNRECORDABLE = JSON.stringify({ unrecordable: true });

/**
 * The JSON text of a body with every key and secret field redacted (the redaction happens
 * inside JSON.stringify, so no unredacted copy is kept). null for no body; a marker when
 * the body cannot be serialised (e.g. nested too deep). `compact`, when given, is the
 * body's own compact JSON text, already written (the response the client got): a body
 * with no sensitive field name in it is recorded as that text, without serialising again.
 */
export function redactedJson(value: unknown, compact?: string): string {
  if (value === undefined || value === null) return 'null';
  try {
    // Most bodies carry no key or secret: JSON.stringify without a replacer (its fast
    // path) and one regex test, instead of a replacer call per field.
    const text = compact ?? JSON.stringify(value);
    if (text === undefined) return 'null';
    return SENSITIVE_FIELD.test(text) ? redactedJsonSlow(value) : text;
  } catch {
    return UNRECORDABLE;
  }
}

/** Every field through the replacer: redactedJson's path once a sensitive name is found (tests compare the two). */
export function redactedJsonSlow(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  try {
    return JSON.stringify(value, redactField) ?? 'null';
  } catch {
    return UNRECORDABLE;
  }
}

/** Query parameters whose value is redacted whole, beside the key and secret field names. */
const QUERY_CREDENTIALS = new Set([...CREDENTIAL_HEADERS, ...OPAQUE_HEADERS, 'apikey']);
/** A value shaped like a federated key (a 16-character prefix, a dot, a secret), whatever its parameter's name. */
export const KEY_SHAPE = '[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{16,}';
const KEY_SHAPED = new RegExp(`^${KEY_SHAPE}$`);

const decodeLoose = (text: string): string => {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
};

/**
 * A query string (without its `?`) with the same redaction as bodies and headers: a
 * parameter named like a key field keeps the key's prefix, one named like a secret or a
 * credential header is redacted whole, and any value shaped like a federated key keeps
 * only its prefix. Names are compared decoded and case-insensitively; other parameters
 * are kept byte for byte.
 */
export function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const rawName = pair.slice(0, eq);
      const name = decodeLoose(rawName).toLowerCase();
      const value = decodeLoose(pair.slice(eq + 1));
      if (KEY_FIELDS.has(name) || KEY_SHAPED.test(value)) return `${rawName}=${String(redactKey(value))}`;
      if (SECRET_FIELDS.has(name) || QUERY_CREDENTIALS.has(name)) return `${rawName}=${REDACTED}`;
      return pair;
    })
    .join('&');
}

/** A request target (path and query) with its query redacted (redactQuery); the path as it is. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q + 1)}${redactQuery(url.slice(q + 1))}`;
}

/** Headers as plain strings, credentials redacted. */
export function redactHeaders(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  // for-in over Node's header objects (no prototype, lower-case names) allocates no entry arrays.
  for (const k in headers) {
    const raw = headers[k];
    if (raw === undefined) continue;
    const name = k.toLowerCase();
    const value = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join(', ') : String(raw);
    if (CREDENTIAL_HEADERS.has(name)) out[name] = redactAuthorization(value);
    else if (OPAQUE_HEADERS.has(name)) out[name] = REDACTED;
    else out[name] = value;
  }
  return out;
}
