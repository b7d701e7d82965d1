import { rfc3339 } from '../domain/clock.js';
import { badRequest, notFound } from '../domain/errors.js';
import type { EffectiveLimit, EffectiveModel } from '../domain/limits.js';
import { bucketOf, type Charge, type Meter } from '../domain/meter.js';
import type { GroupRecord } from '../domain/records.js';
import { LimitRefused, refusalTiming } from '../domain/refusal.js';
import type { UsageEntry } from '../generated/frontier-gateway.js';
import type { Store } from '../store/store.js';
import type { GroupService } from './groups.js';

/**
 * Limit accounting over the store: admitting (and charging) a request against every
 * limit that applies, the usage a group has drawn today, and what the inspector shows.
 * Which bucket a limit draws on is src/domain/meter.ts's bucketOf; the windows and the
 * charging are the Meter's.
 */

/** One DAY limit in the usage view (generated from the spec's `UsageEntry`). */
export type { UsageEntry };

/** One limit of a group as the inspector shows it: what its bucket holds now against the threshold. */
export interface LiveUsage {
  slug: string;
  kind: 'rate' | 'usage';
  type: string;
  unit: string;
  threshold: number;
  source_group: string;
  used: number;
  reset_at: string | null;
}

/** A charge that remembers which limit it enforces, to name it in a 429. */
interface LimitCharge extends Charge {
  sourceGroup: string;
  slug: string;
  kind: 'rate' | 'usage';
}

export class UsageService {
  constructor(
    private readonly store: Store,
    private readonly groups: GroupService,
  ) {}

  private get meter(): Meter {
    return this.store.meter;
  }

  /** The documented usage view of a group: each DAY limit with today's count and reset. */
  groupUsage(workspaceId: string, groupId: string): { customer_id: string; usage: Record<string, UsageEntry[]> } {
    const group = this.groups.find(workspaceId, groupId);
    const now = this.store.clock.now();
    const usage: Record<string, UsageEntry[]> = {};
    for (const m of this.groups.effective(group)) {
      if (m.usage_limits.length === 0) continue;
      usage[m.slug] = m.usage_limits.map((l) => {
        const counter = this.meter.dailyUsage(bucketOf(group, m.slug, l), now);
        return {
          type: l.type,
          unit: l.unit,
          threshold: l.threshold,
          current_usage: counter ? counter.used : null,
          reset_at: counter ? rfc3339(counter.resetAt) : null,
        };
      });
    }
    return { customer_id: group.externalEntityId, usage };
  }

  /**
   * Every effective limit of a group with what its bucket holds now (rolling windows
   * too), for the inspector; the bucket is the one admission charges.
   */
  liveUsage(group: GroupRecord): LiveUsage[] {
    const now = this.store.clock.now();
    return this.groups.effective(group).flatMap((m) =>
      limitsOf(m).map(({ l, kind }) => {
        const bucket = bucketOf(group, m.slug, l);
        const daily = l.unit === 'DAY' ? this.meter.dailyUsage(bucket, now) : null;
        return {
          slug: m.slug,
          kind,
          type: l.type,
          unit: l.unit,
          threshold: l.threshold,
          source_group: l.source_group,
          used: this.meter.currentUse(bucket, now),
          reset_at: daily ? rfc3339(daily.resetAt) : null,
        };
      }),
    );
  }

  /** The slugs a group's keys may call: its effective model set. */
  callableSlugs(group: GroupRecord): string[] {
    return group.models.map((m) => m.slug);
  }

  /**
   * Admits a request of `totalTokens` tokens to `slug` for `group`, charging every limit
   * that applies, or throws a 404 (slug not callable) or a 429 naming the first limit hit.
   */
  admit(group: GroupRecord, slug: string, totalTokens: number): void {
    const model = this.groups.effective(group).find((m) => m.slug === slug);
    if (!model) {
      throw notFound(
        `The model \`${slug}\` does not exist or this key's group may not call it. Callable: ${this.callableSlugs(group).join(', ') || 'none'}.`,
        'model_not_found',
        'model',
      );
    }
    // Rate limits first, then usage limits (limitsOf's order), built in one pass: this runs on every completion.
    const charges: LimitCharge[] = [];
    for (const kind of ['rate', 'usage'] as const) {
      for (const l of kind === 'rate' ? model.rate_limits : model.usage_limits) {
        charges.push({
          bucket: bucketOf(group, slug, l),
          type: l.type,
          unit: l.unit,
          threshold: l.threshold,
          amount: l.type === 'TOKEN' ? totalTokens : 1,
          sourceGroup: l.source_group,
          slug,
          kind,
        });
      }
    }
    const now = this.store.clock.now();
    const result = this.meter.admit(now, charges);
    if (!result.ok) {
      const c = result.refused;
      const what = c.kind === 'rate' ? 'Rate limit' : 'Usage limit';
      // The limit behind the 429, for the journal and the inspector (src/domain/refusal.ts).
      throw new LimitRefused(`${what} exceeded: ${c.type} per ${c.unit} threshold ${c.threshold} of group ${c.sourceGroup} for ${slug}.`, c.kind === 'rate' ? 'rate_limit_exceeded' : 'usage_limit_exceeded', {
        limit: c.kind,
        type: c.type,
        unit: c.unit,
        threshold: c.threshold,
        source_group: c.sourceGroup,
        model: slug,
        operation: null,
        used: result.used,
        requested: c.amount,
        ...refusalTiming(now, result.waitMs),
      });
    }
  }

  /**
   * Counts `amount` of today's usage for `slug` as if the group's keys had made it (a
   * scenario's pre-consumed usage): charged to every DAY limit of `type` in the group's
   * effective models, or refused with a 400 when none applies or one would go over.
   */
  countDailyUsage(workspaceId: string, groupId: string, slug: string, type: Charge['type'], amount: number): void {
    const group = this.groups.find(workspaceId, groupId);
    const limits = this.groups.effective(group).find((m) => m.slug === slug)?.usage_limits.filter((l) => l.type === type) ?? [];
    if (limits.length === 0) {
      throw badRequest(`group ${group.id} has no DAY ${type} limit for ${slug} (its own or inherited), so no usage is counted for it.`, 'no_usage_limit', 'slug');
    }
    const charges = limits.map((l) => ({ bucket: bucketOf(group, slug, l), type: l.type, unit: l.unit, threshold: l.threshold, amount, source: l.source_group }));
    const result = this.meter.admit(this.store.clock.now(), charges);
    if (!result.ok) {
      const c = result.refused;
      throw badRequest(`${amount} more ${type} today would take the DAY limit of group ${c.source} for ${slug} past its threshold ${c.threshold}.`, 'usage_over_limit', 'used');
    }
  }
}

/** A model's rate limits then its usage limits, each with its kind: the order admission checks them in. */
const limitsOf = (m: EffectiveModel) => [
  ...m.rate_limits.map((l) => ({ l: l as EffectiveLimit, kind: 'rate' as const })),
  ...m.usage_limits.map((l) => ({ l: l as EffectiveLimit, kind: 'usage' as const })),
];
