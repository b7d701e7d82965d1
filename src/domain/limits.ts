import { badRequest, CASCADE_MESSAGE, GatewayError } from './errors.js';
import { MODEL_SLUG } from './patterns.js';

/** The rules of rate and usage limits: shapes, inheritance, and the cascade check. */

export type LimitType = 'TOKEN' | 'REQUEST';
export type RateUnit = 'SECOND' | 'MINUTE';
export type UsageUnit = 'DAY';
export type LimitUnit = RateUnit | UsageUnit;
export type Enforcement = 'INDEPENDENT' | 'CASCADING';

export interface Limit<U extends LimitUnit = LimitUnit> {
  type: LimitType;
  unit: U;
  threshold: number;
}

export interface ModelConfig {
  slug: string;
  rate_limits: Limit<RateUnit>[];
  usage_limits: Limit<UsageUnit>[];
}

export interface EffectiveLimit<U extends LimitUnit = LimitUnit> extends Limit<U> {
  source_group: string;
}

export interface EffectiveModel {
  slug: string;
  rate_limits: EffectiveLimit<RateUnit>[];
  usage_limits: EffectiveLimit<UsageUnit>[];
}

/** What a group contributes to limit resolution. */
export interface LimitNode {
  id: string;
  models: readonly ModelConfig[];
}

/** Input as a client sends it: the limit arrays may be omitted. */
export interface ModelConfigInput {
  slug: string;
  rate_limits?: Limit<RateUnit>[];
  usage_limits?: Limit<UsageUnit>[];
}

export const MAX_DEPTH = 5;
/**
 * At most this many models per group. The documentation names no bound; without one a
 * 1 MB body of short slugs made a group of thousands of models, several MB in memory and
 * in every view of it (a list of 100 such groups blocked the server for seconds).
 */
export const MAX_MODELS_PER_GROUP = 256;
const RATE_UNITS: readonly string[] = ['SECOND', 'MINUTE'];
const TYPES: readonly string[] = ['TOKEN', 'REQUEST'];

/**
 * Checks a model list against the documented shape rules and returns it with empty
 * arrays filled in. The spec's schema catches most of this at the HTTP edge; this is
 * the authority, so that scenarios and programmatic callers get the same rules.
 */
export function normalizeModels(input: readonly ModelConfigInput[], field = 'models'): ModelConfig[] {
  if (input.length > MAX_MODELS_PER_GROUP) {
    throw badRequest(`${field} has ${input.length} models; a group may have at most ${MAX_MODELS_PER_GROUP}.`, 'too_many_models', field);
  }
  const seen = new Set<string>();
  return input.map((m, i) => {
    const at = `${field}[${i}]`;
    if (typeof m.slug !== 'string' || !MODEL_SLUG.test(m.slug)) {
      throw badRequest(`${at}.slug must be a model slug shaped org/name.`, 'invalid_slug', `${at}.slug`);
    }
    if (seen.has(m.slug)) {
      throw badRequest(`${at}.slug: duplicate slug ${m.slug}; each slug may appear once.`, 'duplicate_slug', `${at}.slug`);
    }
    seen.add(m.slug);
    const rate = (m.rate_limits ?? []).map((l, j) => checkLimit(l, `${at}.rate_limits[${j}]`, RATE_UNITS));
    const usage = (m.usage_limits ?? []).map((l, j) => checkLimit(l, `${at}.usage_limits[${j}]`, ['DAY']));
    rejectDuplicates(rate, `${at}.rate_limits`, (l) => l.type, 'one rate limit per type per slug');
    rejectDuplicates(usage, `${at}.usage_limits`, (l) => `${l.type}/${l.unit}`, 'one usage limit per (type, unit) per slug');
    return {
      slug: m.slug,
      // An empty list is the one shared frozen array: most models declare no limit of a kind.
      rate_limits: rate.length > 0 ? (rate as Limit<RateUnit>[]) : (NO_LIMITS as Limit<RateUnit>[]),
      usage_limits: usage.length > 0 ? (usage as Limit<UsageUnit>[]) : (NO_LIMITS as Limit<UsageUnit>[]),
    };
  });
}

/** The one shared, frozen empty limit list. */
export const NO_LIMITS: readonly Limit[] = Object.freeze([]);

function checkLimit(l: Limit, at: string, units: readonly string[]): Limit {
  if (!TYPES.includes(l.type)) throw badRequest(`${at}.type must be one of TOKEN, REQUEST.`, 'invalid_limit', `${at}.type`);
  if (!units.includes(l.unit)) {
    throw badRequest(`${at}.unit must be one of ${units.join(', ')}.`, 'invalid_limit', `${at}.unit`);
  }
  // At least 0: the published schema's minimum since 2026-07-03 (AMBIGUITIES.md #6); a limit of 0 admits nothing.
  if (!Number.isSafeInteger(l.threshold) || l.threshold < 0) {
    throw badRequest(`${at}.threshold must be an integer >= 0.`, 'invalid_limit', `${at}.threshold`);
  }
  return { type: l.type, unit: l.unit, threshold: l.threshold };
}

function rejectDuplicates(limits: Limit[], at: string, key: (l: Limit) => string, rule: string): void {
  const seen = new Set<string>();
  limits.forEach((l, j) => {
    const k = key(l);
    if (seen.has(k)) throw badRequest(`${at}[${j}]: duplicate ${k}; ${rule}.`, 'duplicate_limit', `${at}[${j}]`);
    seen.add(k);
  });
}

/**
 * The limits the runtime enforces on a group, from its path to the root (`path[0]` is
 * the group itself, then its parent, up to the root). Only the group's own slugs appear:
 * a group may call exactly the slugs of its own `models`.
 *
 * INDEPENDENT: each (type, unit) resolves to the closest group that declares it for the
 * slug, self first; a child's declaration overrides an ancestor's, up or down.
 * CASCADING: every limit declared for the slug anywhere on the path gates the traffic,
 * each listed with the group that declares it, self first.
 */
export function effectiveModels(mode: Enforcement, path: readonly LimitNode[]): EffectiveModel[] {
  const self = path[0];
  if (!self) return [];
  // Plain loops, no Set of string keys: this runs for every group in every view and on
  // every completion (docs/performance.md).
  return self.models.map((own) => {
    const rate: EffectiveLimit<RateUnit>[] = [];
    const usage: EffectiveLimit<UsageUnit>[] = [];
    for (const node of path) {
      const m = node === self ? own : node.models.find((x) => x.slug === own.slug);
      if (!m) continue;
      addLimits(rate, m.rate_limits, node.id, mode);
      addLimits(usage, m.usage_limits, node.id, mode);
    }
    return { slug: own.slug, rate_limits: rate, usage_limits: usage };
  });
}

/** Appends the limits `source` declares; INDEPENDENT keeps only the first (closest) of each (type, unit). */
function addLimits<U extends LimitUnit>(out: EffectiveLimit<U>[], limits: readonly Limit<U>[], source: string, mode: Enforcement): void {
  for (const l of limits) {
    if (mode === 'INDEPENDENT' && out.some((o) => o.type === l.type && o.unit === l.unit)) continue;
    out.push({ type: l.type, unit: l.unit, threshold: l.threshold, source_group: source });
  }
}

/** A deep copy of a model list, for views that must not share the store's arrays; several times cheaper than structuredClone. */
export function copyModels(models: readonly ModelConfig[]): ModelConfig[] {
  return models.map((m) => ({ slug: m.slug, rate_limits: m.rate_limits.map(copyLimit), usage_limits: m.usage_limits.map(copyLimit) }));
}

const copyLimit = <U extends LimitUnit>(l: Limit<U>): Limit<U> => ({ type: l.type, unit: l.unit, threshold: l.threshold });

type Thresholds = Map<string, { threshold: number; group: string }>;

function thresholdsOf(node: LimitNode): Thresholds {
  const out: Thresholds = new Map();
  for (const m of node.models) {
    for (const l of [...m.rate_limits, ...m.usage_limits]) {
      out.set(`${m.slug}|${l.type}|${l.unit}`, { threshold: l.threshold, group: node.id });
    }
  }
  return out;
}

/**
 * The CASCADING write-time rule, for a create or an update of `candidate`: no threshold
 * may exceed any ancestor's for the same (slug, type, unit), and none may fall below a
 * descendant's. `ancestors` are the candidate's ancestors (any order); `descendants` its
 * whole subtree. Throws 400 `Child group exceeds parent group limit.` naming the pair.
 */
export function checkCascade(
  candidate: LimitNode,
  ancestors: readonly LimitNode[],
  descendants: readonly LimitNode[],
): void {
  const own = thresholdsOf(candidate);
  const fail = (key: string, detail: string): never => {
    const [slug, type, unit] = key.split('|');
    throw new GatewayError(
      'invalid_request',
      CASCADE_MESSAGE,
      'child_exceeds_parent_limit',
      'models',
      undefined,
      `${slug} ${type}/${unit}: ${detail}`,
    );
  };
  for (const a of ancestors) {
    for (const [key, up] of thresholdsOf(a)) {
      const mine = own.get(key);
      if (mine && mine.threshold > up.threshold) {
        fail(key, `${mine.threshold} is above ${up.threshold} set by ancestor ${up.group}.`);
      }
    }
  }
  for (const d of descendants) {
    for (const [key, down] of thresholdsOf(d)) {
      const mine = own.get(key);
      if (mine && mine.threshold < down.threshold) {
        fail(key, `${mine.threshold} is below ${down.threshold} set by descendant ${down.group}.`);
      }
    }
  }
}
