/**
 * Small documented facts shared by the conformance suite (test/conformance/support/documented.ts
 * re-exports them through `frontier-gateway-mock/testing`) and the validating proxy
 * (src/proxy/), so both judge a timestamp and look for a secret the same way.
 */

/**
 * An RFC 3339 timestamp in UTC: `Z` (or `z`), or the offset `+00:00` (which RFC 3339
 * defines as UTC; `-00:00` means an unknown local offset), with or without fractional
 * seconds. What the docs promise for `deleted_at`, `reset_at` and event `timestamp`.
 */
export function isRfc3339Utc(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|\+00:00)$/.exec(value);
  return m !== null && !Number.isNaN(Date.parse(value.toUpperCase()));
}

/** Every string anywhere in a JSON value, with its path (for secrets, wherever a target puts them). */
export function stringsWithPaths(v: unknown, path = '$'): [string, string][] {
  if (typeof v === 'string') return [[path, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringsWithPaths(x, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [...stringsWithPaths(k, `${path}{key}`), ...stringsWithPaths(x, `${path}.${k}`)]);
  return [];
}
