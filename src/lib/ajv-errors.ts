import type { ErrorObject } from 'ajv/dist/2020.js';

/**
 * Plain words for an ajv error, naming the field: request validation, the contract
 * checker and the snapshot check all say what is wrong the same way.
 */

/** `/models/0/rate_limits/1/threshold` -> `models[0].rate_limits[1].threshold`. */
export function fieldPath(pointer: string): string {
  return joinPath(pointerSegments(pointer));
}

/** `['models', '0', 'slug']` -> `models[0].slug`. */
export function joinPath(segments: readonly string[]): string {
  return segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

export const pointerSegments = (pointer: string): string[] =>
  pointer === '' ? [] : pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** Plain-words message for the first ajv error, naming the field. */
export function describeAjvError(e: ErrorObject, rootSchema?: unknown): { message: string; param: string | null } {
  const at = fieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const join = (name: unknown) => (at ? `${at}.${String(name)}` : String(name));
  switch (e.keyword) {
    case 'required':
      return { message: `${join(p.missingProperty)} is required.`, param: join(p.missingProperty) };
    case 'additionalProperties':
      return { message: `${join(p.additionalProperty)} is not a known field${at ? ` of ${at}` : ''}.`, param: join(p.additionalProperty) };
    case 'enum':
      return { message: `${at} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}.`, param: at };
    case 'const':
      return { message: `${at} must be ${JSON.stringify(p.allowedValue)}.`, param: at };
    case 'pattern': {
      const desc = (e.parentSchema as { description?: string } | undefined)?.description;
      return { message: `${at} is malformed${desc ? `: ${desc.replace(/\.$/, '')}` : ''}.`, param: at };
    }
    case 'type':
      return { message: `${at || 'The request body'} must be ${String(p.type).split(',').map(article).join(' or ')}.`, param: at || null };
    case 'minLength':
    case 'maxLength':
      return { message: `${at} must be at ${e.keyword === 'minLength' ? 'least' : 'most'} ${String(p.limit)} character${p.limit === 1 ? '' : 's'} long.`, param: at };
    case 'minProperties':
    case 'maxProperties': {
      // Name the fields to choose from, e.g. the clock route's advance_seconds or now.
      const schema = (e.parentSchema ?? (at === '' ? rootSchema : undefined)) as { properties?: object } | undefined;
      const names = Object.keys(schema?.properties ?? {}).join(' or ');
      const what = at || 'The request body';
      if (e.keyword === 'minProperties' && p.limit === 1 && names) return { message: `Provide ${names}.`, param: at || null };
      if (e.keyword === 'maxProperties' && p.limit === 1 && names) return { message: `${what} takes only one of ${names}.`, param: at || null };
      return { message: `${what} ${e.message ?? 'is invalid'}.`, param: at || null };
    }
    case 'format':
      if (p.format === 'date-time') return { message: `${at} must be an ISO 8601 UTC date-time (RFC 3339), such as 2026-12-03T12:00:00Z.`, param: at };
      return { message: `${at} must be a valid ${String(p.format)}.`, param: at };
    case 'minItems':
    case 'maxItems': {
      const limit = Number(p.limit);
      const least = e.keyword === 'minItems';
      // The body itself: named as such, its items by the schema's `x-fgw-item` (e.g. `rule`).
      const item = at === '' ? itemNoun(rootSchema) : 'item';
      const count = `${least && limit === 1 ? 'one' : String(limit)} ${item}${limit === 1 ? '' : 's'}`;
      if (at === '') return { message: `The request body must hold ${least ? 'at least' : 'at most'} ${count}${least && limit === 1 ? ', not an empty list' : ''}.`, param: null };
      return { message: `${at} must have ${least ? 'at least' : 'at most'} ${count}.`, param: at };
    }
    default:
      return { message: `${at || 'The request body'} ${e.message ?? 'is invalid'}.`, param: at || null };
  }
}

/** What one item of a list body is called (`x-fgw-item` on the body's schema), or `item`. */
function itemNoun(rootSchema: unknown): string {
  const name = (rootSchema as { 'x-fgw-item'?: unknown } | undefined)?.['x-fgw-item'];
  return typeof name === 'string' && name ? name : 'item';
}

const article = (type: string) => (type === 'null' ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`);

