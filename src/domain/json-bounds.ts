import { badRequest } from './errors.js';

/**
 * Bounds on user-supplied JSON, checked without recursion so that no nesting, however
 * deep, can overflow the stack here or later (ajv, JSON.stringify, structuredClone).
 * Every refusal is a 400 that names the field.
 */

/** How deep any request body may nest (objects and arrays); far beyond what any documented field needs. */
export const MAX_BODY_DEPTH = 64;

/** A lone UTF-16 surrogate: a string holding one can be stored but never matched again once encoded as UTF-8. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** `models[0].slug` style path, the form 400s name fields in. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

/**
 * Refuses input nested deeper than `maxDepth` or holding a string (value or key) that is
 * not well-formed UTF-16. `root` names the value in messages (empty for a whole body).
 */
export function assertSaneJson(value: unknown, root: string, maxDepth: number = MAX_BODY_DEPTH): void {
  // `top` is the outermost named field, what a too-deep refusal names (not a 64-step path).
  type Entry = { v: unknown; path: string; depth: number; top: string };
  const stack: Entry[] = [{ v: value, path: root, depth: 0, top: root }];
  while (stack.length > 0) {
    const { v, path, depth, top } = stack.pop() as Entry;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) throw malformedString(path);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > maxDepth) {
      throw badRequest(`${top || 'The request body'} is nested more than ${maxDepth} levels deep.`, 'too_deep', top || null);
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: joinPath(path, i), depth: depth + 1, top: top || joinPath(path, i) });
    } else {
      for (const [k, child] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) throw malformedString(path || 'The request body');
        stack.push({ v: child, path: joinPath(path, k), depth: depth + 1, top: top || joinPath(path, k) });
      }
    }
  }
}

const malformedString = (path: string) =>
  badRequest(`${path} contains a lone UTF-16 surrogate; send well-formed Unicode text.`, 'malformed_string', path);

/** Depth of a JSON value: 0 for a scalar, 1 for a flat object or array. Iterative. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}
