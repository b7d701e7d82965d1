import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/domain/limits.js';
import { ModelPool } from '../../src/store/model-pool.js';

const plan = (threshold: number, slug = 'org/model'): ModelConfig[] => [
  { slug, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold }], usage_limits: [] },
];

describe('ModelPool', () => {
  it('gives equal model lists one shared, deeply frozen copy', () => {
    const pool = new ModelPool();
    const a = pool.intern(plan(10));
    const b = pool.intern(plan(10));
    expect(b).toBe(a);
    expect(a).toEqual(plan(10));
    expect(Object.isFrozen(a) && Object.isFrozen(a[0]) && Object.isFrozen(a[0]!.rate_limits) && Object.isFrozen(a[0]!.rate_limits[0])).toBe(true);
    expect(() => {
      (a[0]!.rate_limits[0] as { threshold: number }).threshold = 99;
    }).toThrow(TypeError);
  });

  it('keeps lists apart that differ in any field or in order', () => {
    const pool = new ModelPool();
    const variants: ModelConfig[][] = [
      plan(10),
      plan(11),
      plan(10, 'org/other'),
      [{ slug: 'org/model', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 10 }], usage_limits: [] }],
      [{ slug: 'org/model', rate_limits: [{ type: 'REQUEST', unit: 'SECOND', threshold: 10 }], usage_limits: [] }],
      [{ slug: 'org/model', rate_limits: [], usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 10 }] }],
      [...plan(1, 'org/a'), ...plan(2, 'org/b')],
      [...plan(2, 'org/b'), ...plan(1, 'org/a')],
      [],
      // Slugs a restored snapshot might hold, made to run into the next field if the key were a plain join.
      plan(1, 'a|1'),
      [...plan(1, 'a'), ...plan(1, '')],
      plan(11, 'a'),
      [{ slug: 'a', rate_limits: [], usage_limits: [] }, { slug: '1|0|0', rate_limits: [], usage_limits: [] }],
      [{ slug: 'a|0|0|1:1', rate_limits: [], usage_limits: [] }],
    ];
    const shared = variants.map((v) => pool.intern(v));
    expect(new Set(shared).size).toBe(variants.length);
    shared.forEach((s, i) => expect(s).toEqual(variants[i]));
  });

  it('remembers at most max lists, dropping the least recently used', () => {
    const pool = new ModelPool(3);
    const one = pool.intern(plan(1));
    pool.intern(plan(2));
    pool.intern(plan(3));
    expect(pool.intern(plan(1))).toBe(one); // used again: now the most recent
    pool.intern(plan(4)); // drops plan(2)
    expect(pool.size).toBe(3);
    expect(pool.intern(plan(1))).toBe(one);
    const two = pool.intern(plan(2));
    expect(two).toEqual(plan(2));
    expect(pool.size).toBe(3);
  });
});
