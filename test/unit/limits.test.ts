import { describe, expect, it } from 'vitest';
import { CASCADE_MESSAGE, GatewayError } from '../../src/domain/errors.js';
import { checkCascade, effectiveModels, normalizeModels, type LimitNode, type ModelConfig } from '../../src/domain/limits.js';

const S = 'org/model';
const M = 1_000_000;
const tpm = (n: number, slug = S): ModelConfig[] => [{ slug, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: n }], usage_limits: [] }];
const bare = (slug = S): ModelConfig[] => [{ slug, rate_limits: [], usage_limits: [] }];
const node = (id: string, models: ModelConfig[]): LimitNode => ({ id, models });

function rejection(fn: () => void): GatewayError {
  try {
    fn();
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error('expected a rejection');
}

describe('normalizeModels', () => {
  it('fills omitted limit arrays', () => {
    expect(normalizeModels([{ slug: S }])).toEqual(bare());
  });
  it.each([
    ['a slug without a slash', [{ slug: 'nope' }], 'models[0].slug'],
    ['a duplicate slug', [{ slug: S }, { slug: S }], 'models[1].slug'],
    ['two rate limits of one type', [{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1 }, { type: 'TOKEN', unit: 'SECOND', threshold: 1 }] }], 'models[0].rate_limits[1]'],
    ['two usage limits of one (type, unit)', [{ slug: S, usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 1 }, { type: 'REQUEST', unit: 'DAY', threshold: 2 }] }], 'models[0].usage_limits[1]'],
    ['a DAY rate limit', [{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 1 }] }], 'models[0].rate_limits[0].unit'],
    ['a MINUTE usage limit', [{ slug: S, usage_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1 }] }], 'models[0].usage_limits[0].unit'],
    ['a negative threshold', [{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: -1 }] }], 'models[0].rate_limits[0].threshold'],
    ['a fractional threshold', [{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 2.5 }] }], 'models[0].rate_limits[0].threshold'],
  ])('refuses %s, naming the field', (_name, input, param) => {
    const err = rejection(() => normalizeModels(input as never));
    expect(err.kind).toBe('invalid_request');
    expect(err.param).toBe(param);
    expect(err.message).toContain(param);
  });
  it('accepts a threshold of 0, the published minimum since 2026-07-03 (AMBIGUITIES.md #6)', () => {
    const zero = [{ slug: S, rate_limits: [{ type: 'REQUEST' as const, unit: 'SECOND' as const, threshold: 0 }], usage_limits: [{ type: 'TOKEN' as const, unit: 'DAY' as const, threshold: 0 }] }];
    expect(normalizeModels(zero)).toEqual(zero);
  });
  it('allows TOKEN and REQUEST rate limits side by side, and both usage types', () => {
    const input = [
      {
        slug: S,
        rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 5 }, { type: 'REQUEST', unit: 'SECOND', threshold: 1 }],
        usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 5 }, { type: 'REQUEST', unit: 'DAY', threshold: 5 }],
      },
    ];
    expect(normalizeModels(input as never)).toEqual(input);
  });
});

describe('effectiveModels, INDEPENDENT', () => {
  it('plays the free-tier / john / sally example', () => {
    const freeTier = node('free-tier', tpm(100 * M));
    const john = node('john', bare());
    const sally = node('sally', tpm(120 * M));
    expect(effectiveModels('INDEPENDENT', [john, freeTier])[0]?.rate_limits).toEqual([{ type: 'TOKEN', unit: 'MINUTE', threshold: 100 * M, source_group: 'free-tier' }]);
    expect(effectiveModels('INDEPENDENT', [sally, freeTier])[0]?.rate_limits).toEqual([{ type: 'TOKEN', unit: 'MINUTE', threshold: 120 * M, source_group: 'sally' }]);
    const raised = node('free-tier', tpm(150 * M));
    expect(effectiveModels('INDEPENDENT', [john, raised])[0]?.rate_limits[0]?.threshold).toBe(150 * M);
  });
  it('resolves each (type, unit) to the closest declaring group, skipping levels that do not declare it', () => {
    const root: LimitNode = node('root', [{ slug: S, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 9 }], usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 99 }] }]);
    const mid = node('mid', tpm(50));
    const leaf = node('leaf', [{ slug: S, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 3 }], usage_limits: [] }]);
    const [e] = effectiveModels('INDEPENDENT', [leaf, mid, root]);
    expect(e?.rate_limits).toEqual([
      { type: 'REQUEST', unit: 'MINUTE', threshold: 3, source_group: 'leaf' },
      { type: 'TOKEN', unit: 'MINUTE', threshold: 50, source_group: 'mid' },
    ]);
    expect(e?.usage_limits).toEqual([{ type: 'TOKEN', unit: 'DAY', threshold: 99, source_group: 'root' }]);
  });
  it('lists only the group’s own slugs; an ancestor’s other slugs give no access', () => {
    const root = node('root', [...tpm(5), ...tpm(7, 'org/other')]);
    const child = node('child', bare());
    expect(effectiveModels('INDEPENDENT', [child, root]).map((m) => m.slug)).toEqual([S]);
  });
  it('a root’s effective models equal its models, sourced to itself', () => {
    expect(effectiveModels('INDEPENDENT', [node('r', tpm(5))])).toEqual([{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 5, source_group: 'r' }], usage_limits: [] }]);
  });
});

describe('effectiveModels, CASCADING', () => {
  it('lists every gating limit on the path (org / finance / engineering)', () => {
    const org = node('org', tpm(100 * M));
    for (const id of ['finance', 'engineering']) {
      expect(effectiveModels('CASCADING', [node(id, tpm(70 * M)), org])[0]?.rate_limits).toEqual([
        { type: 'TOKEN', unit: 'MINUTE', threshold: 70 * M, source_group: id },
        { type: 'TOKEN', unit: 'MINUTE', threshold: 100 * M, source_group: 'org' },
      ]);
    }
  });
  it('a child with no limits of its own is gated by its ancestors', () => {
    expect(effectiveModels('CASCADING', [node('c', bare()), node('p', tpm(10))])[0]?.rate_limits).toEqual([{ type: 'TOKEN', unit: 'MINUTE', threshold: 10, source_group: 'p' }]);
  });
});

describe('checkCascade', () => {
  const expectCascade = (fn: () => void) => {
    const err = rejection(fn);
    expect(err.kind).toBe('invalid_request');
    expect(err.message).toBe(CASCADE_MESSAGE);
    expect(err.detail).toMatch(/org\/model TOKEN\/MINUTE/);
  };
  it('refuses a new child above its parent', () => expectCascade(() => checkCascade(node('c', tpm(101)), [node('p', tpm(100))], [])));
  it('refuses a child above a grandparent the parent does not constrain', () =>
    expectCascade(() => checkCascade(node('c', tpm(150)), [node('p', bare()), node('g', tpm(100))], [])));
  it('refuses raising a descendant past an ancestor', () => expectCascade(() => checkCascade(node('c', tpm(120)), [node('p', tpm(100))], [])));
  it('refuses lowering an ancestor below the highest descendant, at any depth', () =>
    expectCascade(() => checkCascade(node('p', tpm(50)), [], [node('c', tpm(40)), node('gc', tpm(70))])));
  it('compares a threshold of 0 like any other: a child may hold 0 under any parent, a parent may not drop to 0 over a child above it', () => {
    expect(() => checkCascade(node('c', tpm(0)), [node('p', tpm(100))], [])).not.toThrow();
    expect(() => checkCascade(node('c', tpm(0)), [node('p', tpm(0))], [])).not.toThrow();
    expectCascade(() => checkCascade(node('c', tpm(1)), [node('p', tpm(0))], []));
    expectCascade(() => checkCascade(node('p', tpm(0)), [], [node('c', tpm(5))]));
    expect(() => checkCascade(node('p', tpm(0)), [], [node('c', tpm(0))])).not.toThrow();
  });
  it('accepts equal thresholds, over-provisioning and unrelated limits', () => {
    expect(() => checkCascade(node('p', tpm(100)), [], [node('a', tpm(70)), node('b', tpm(70)), node('c', tpm(100))])).not.toThrow();
    expect(() => checkCascade(node('c', tpm(500, 'org/other')), [node('p', tpm(100))], [])).not.toThrow();
    expect(() =>
      checkCascade(node('c', [{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'SECOND', threshold: 900 }], usage_limits: [] }]), [node('p', tpm(100))], []),
    ).not.toThrow();
  });
});
