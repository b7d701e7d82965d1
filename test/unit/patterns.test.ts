import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MODEL_SLUG, MODEL_SLUG_PATTERN, ORG_PREFIX, ORG_PREFIX_PATTERN } from '../../src/domain/patterns.js';

/**
 * The shapes of names live in src/domain/patterns.ts. The OpenAPI documents and the
 * scenario schema are data files with copies of them; every copy must be the same text.
 */

const read = (path: string): unknown => (path.endsWith('.json') ? JSON.parse(readFileSync(path, 'utf8')) : parse(readFileSync(path, 'utf8')));

/** Every `pattern` in a JSON document, with the path of names that leads to it. */
function patternsIn(doc: unknown, path: string[] = []): { at: string[]; pattern: string }[] {
  if (doc === null || typeof doc !== 'object') return [];
  const out: { at: string[]; pattern: string }[] = [];
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'pattern' && typeof v === 'string') out.push({ at: path, pattern: v });
    else out.push(...patternsIn(v, [...path, k]));
  }
  return out;
}

/** Which of our patterns a schema location must carry, by the name of the field (or schema) it sits under. */
function expectedAt(at: string[]): string | undefined {
  const names = at.filter((n) => !['properties', 'items', 'schema', 'components', 'schemas', '$defs', 'definitions'].includes(n));
  const field = names[names.length - 1] ?? '';
  if (field === 'slug' || field === 'ModelSlug' || field === 'SnapshotSlug') return MODEL_SLUG_PATTERN;
  if (field === 'org_prefixes' || field === 'environments') return ORG_PREFIX_PATTERN;
  return undefined;
}

const DOCUMENTS = ['openapi/frontier-gateway.yaml', 'openapi/mock-admin.yaml', 'scenarios/scenario.schema.json'];

describe('name patterns have one home', () => {
  it('the patterns mean what their names say', () => {
    expect(MODEL_SLUG.test('your-org/model.v2')).toBe(true);
    expect(MODEL_SLUG.test('your-org/')).toBe(false);
    expect(MODEL_SLUG.test('a/b/c')).toBe(false);
    expect(MODEL_SLUG.test('-org/model')).toBe(false);
    expect(ORG_PREFIX.test('my_org.eu')).toBe(true);
    expect(ORG_PREFIX.test('my/org')).toBe(false);
  });

  it('every slug and org-prefix pattern in the spec and the scenario schema is the domain one', () => {
    const checked: string[] = [];
    const differing: string[] = [];
    for (const file of DOCUMENTS) {
      for (const { at, pattern } of patternsIn(read(file))) {
        const expected = expectedAt(at);
        if (expected === undefined) continue;
        checked.push(`${file}: ${at.join('.')}`);
        if (pattern !== expected) differing.push(`${file}: ${at.join('.')} has ${pattern}, the domain has ${expected}`);
      }
    }
    expect(differing).toEqual([]);
    // The copies this test exists for: the gateway's ModelSlug, and the scenario schema's slugs and org names.
    expect(checked.filter((c) => c.startsWith('openapi/frontier-gateway.yaml')).length).toBeGreaterThanOrEqual(1);
    expect(checked.filter((c) => c.startsWith('scenarios/') && c.endsWith('slug')).length).toBeGreaterThanOrEqual(2);
    expect(checked.filter((c) => c.includes('org_prefixes')).length).toBeGreaterThanOrEqual(1);
    // ...and the snapshot format's (the admin document), which a restore is checked against.
    expect(checked.filter((c) => c.startsWith('openapi/mock-admin.yaml') && c.endsWith('SnapshotSlug')).length).toBe(1);
    expect(checked.filter((c) => c.startsWith('openapi/mock-admin.yaml') && c.includes('org_prefixes')).length).toBe(1);
  });
});
