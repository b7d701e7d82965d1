import { NO_LIMITS, type Limit, type ModelConfig } from '../domain/limits.js';

/**
 * Groups with the same model configuration share one deep-frozen copy of it. A gateway's
 * customers mostly sit on a few plans (the same slugs with the same limits), and a copy
 * per group was a large share of a group's bytes (docs/performance.md). Models are values: a PATCH replaces a group's
 * list whole (set semantics), nothing edits one in place, and the freeze makes sure of
 * that.
 *
 * The pool remembers at most `max` configurations and forgets the least recently used
 * first, so it stays small, and a store whose groups all differ costs no more than one
 * copy per group, as it would without the pool.
 */
export class ModelPool {
  private byKey = new Map<string, readonly ModelConfig[]>();

  constructor(private readonly max = 1024) {}

  /** The shared, frozen copy of `models` (equal in every field and in order). */
  intern(models: readonly ModelConfig[]): ModelConfig[] {
    const key = keyOf(models);
    let shared = this.byKey.get(key);
    if (shared === undefined) {
      shared = Object.freeze(models.map(frozenModel));
      if (this.byKey.size >= this.max) this.byKey.delete(this.byKey.keys().next().value as string);
    } else {
      // Most recently used last, so the least recently used is dropped first.
      this.byKey.delete(key);
    }
    this.byKey.set(key, shared);
    return shared as ModelConfig[];
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * An exact, unambiguous key of a model list: every field in a fixed order, each string
 * preceded by its length (so no content, whatever characters a restored snapshot holds,
 * can run into the next field), counts before lists.
 */
function keyOf(models: readonly ModelConfig[]): string {
  let key = `${models.length}`;
  for (const m of models) {
    key += `|${m.slug.length}:${m.slug}|${m.rate_limits.length}`;
    for (const l of m.rate_limits) key += limitKey(l);
    key += `|${m.usage_limits.length}`;
    for (const l of m.usage_limits) key += limitKey(l);
  }
  return key;
}

const limitKey = (l: Limit): string => `|${l.type.length}:${l.type}${l.unit.length}:${l.unit}${l.threshold}`;

function frozenModel(m: ModelConfig): ModelConfig {
  return Object.freeze({
    slug: m.slug,
    rate_limits: frozenLimits(m.rate_limits) as ModelConfig['rate_limits'],
    usage_limits: frozenLimits(m.usage_limits) as ModelConfig['usage_limits'],
  });
}

function frozenLimits(limits: readonly Limit[]): readonly Limit[] {
  if (limits.length === 0) return NO_LIMITS;
  return Object.freeze(limits.map((l) => Object.freeze({ type: l.type, unit: l.unit, threshold: l.threshold })));
}
