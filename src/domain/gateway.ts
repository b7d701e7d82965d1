import type { Clock } from './clock.js';
import { rfc3339 } from './clock.js';
import { badRequest, forbidden, GatewayError, notFound, unauthorized } from './errors.js';
import { mintKey, prefixOf, storedHash, verifyKey } from './keys.js';
import { checkRegisteredKey, verifyRegisterSignature } from './register.js';
import {
  checkCascade,
  copyModels,
  effectiveModels,
  MAX_DEPTH,
  normalizeModels,
  type EffectiveLimit,
  type EffectiveModel,
  type Enforcement,
  type ModelConfig,
  type ModelConfigInput,
} from './limits.js';
import { bucketKey, type Charge, type Meter } from './meter.js';
import { paginate, SeqIndex, type Page } from './pagination.js';
import type { GroupRecord, KeyRecord, Scope, Store, Workspace } from '../store/store.js';

/**
 * The gateway's backend: every documented rule of groups, keys, usage, authentication
 * and limit admission, over the Store. No HTTP here; handlers call these methods and the
 * HTTP layer turns the GatewayErrors they throw into responses.
 */

export interface GroupView {
  id: string;
  metadata: { name: string | null; external_entity_id: string };
  models: ModelConfig[];
  effective_models: EffectiveModel[];
  hierarchy: { limit_enforcement: Enforcement; parent_group_id: string | null };
  created_at: string;
}

export interface CreateGroupInput {
  metadata: { name?: string | null; external_entity_id: string };
  models: ModelConfigInput[];
  /** Required, as published; null or absent fields mean "inherit, or INDEPENDENT at a root" and "a root". */
  hierarchy: { limit_enforcement?: Enforcement | null; parent_group_id?: string | null };
}

/** `metadata: null` and `models: null` mean "not given", as in the published schema. */
export interface UpdateGroupInput {
  metadata?: { name?: string | null; external_entity_id?: string } | null;
  models?: ModelConfigInput[] | null;
  hierarchy?: { limit_enforcement?: Enforcement | null; parent_group_id?: string | null } | null;
}

export interface UsageEntry {
  type: string;
  unit: string;
  threshold: number;
  current_usage: number | null;
  reset_at: string | null;
}

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

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface WorkspaceCaller {
  workspace: Workspace;
  scope: Scope;
}

export interface FederatedCaller {
  key: KeyRecord;
  group: GroupRecord;
  workspace: Workspace;
}

/** A charge that remembers which limit it enforces, to name it in a 429. */
interface LimitCharge extends Charge {
  sourceGroup: string;
  slug: string;
  kind: 'rate' | 'usage';
}

export class Gateway {
  readonly clock: Clock;

  constructor(readonly store: Store) {
    this.clock = store.clock;
  }

  get meter(): Meter {
    return this.store.meter;
  }

  // ---- groups -------------------------------------------------------------

  createGroup(workspaceId: string, input: CreateGroupInput): GroupView {
    const models = normalizeModels(input.models);
    if (models.length === 0) throw badRequest('models must list at least one model.', 'models_required', 'models');
    const externalId = input.metadata.external_entity_id;
    this.assertExternalIdFree(workspaceId, externalId);

    const parentId = input.hierarchy?.parent_group_id ?? null;
    const declared = input.hierarchy?.limit_enforcement ?? undefined;
    let mode: Enforcement = declared ?? 'INDEPENDENT';
    let ancestors: GroupRecord[] = [];
    if (parentId !== null) {
      const parent = this.store.group(parentId);
      if (!parent || parent.workspaceId !== workspaceId) {
        throw notFound(`Parent group ${parentId} not found in this workspace.`, 'parent_not_found', 'hierarchy.parent_group_id');
      }
      if (declared !== undefined && declared !== parent.mode) {
        throw badRequest(
          `hierarchy.limit_enforcement must be ${parent.mode}, the mode of the parent's tree; a tree has one mode.`,
          'enforcement_mismatch',
          'hierarchy.limit_enforcement',
        );
      }
      mode = parent.mode;
      ancestors = this.pathToRoot(parent);
      if (ancestors.length + 1 > MAX_DEPTH) {
        throw badRequest(`A hierarchy is at most ${MAX_DEPTH} levels deep; group ${parentId} is at level ${ancestors.length}.`, 'hierarchy_too_deep', 'hierarchy.parent_group_id');
      }
    }

    const id = this.uniqueGroupId();
    if (mode === 'CASCADING') checkCascade({ id, models }, ancestors, []);

    const group = this.store.insertGroup({
      id,
      workspaceId,
      name: input.metadata.name ?? null,
      externalEntityId: externalId,
      models,
      mode,
      parentId,
    });
    return this.view(group);
  }

  listGroups(workspaceId: string, page: PageRequest & { externalEntityId?: string }): Page<GroupView> {
    const ext = page.externalEntityId;
    const scope = `groups:${workspaceId}:${ext === undefined ? '*' : `=${ext}`}`;
    let result: Page<GroupRecord>;
    if (ext === undefined) {
      result = paginate(this.store.groupsOf(workspaceId), this.store.cursors, scope, page.limit, page.cursor);
    } else {
      // At most one group matches: a one-item list, with the same cursor contract.
      const only = new SeqIndex<GroupRecord>();
      const g = this.store.groupByExternalId(workspaceId, ext);
      if (g) only.add(g);
      result = paginate(only, this.store.cursors, scope, page.limit, page.cursor);
    }
    return { items: result.items.map((g) => this.view(g)), pagination: result.pagination };
  }

  getGroup(workspaceId: string, groupId: string): GroupView {
    return this.view(this.findGroup(workspaceId, groupId));
  }

  updateGroup(workspaceId: string, groupId: string, input: UpdateGroupInput): GroupView {
    const group = this.findGroup(workspaceId, groupId);
    const metadata = input.metadata ?? undefined;
    const hasName = metadata !== undefined && 'name' in metadata;
    const newModels = input.models ?? undefined;
    // Immutable fields first, so a PATCH that only tries to change one hears that rule.
    const ext = metadata?.external_entity_id;
    if (ext !== undefined && ext !== group.externalEntityId) {
      throw badRequest(
        'metadata.external_entity_id cannot be changed. To re-key a group, delete it and create a new one.',
        'immutable_field',
        'metadata.external_entity_id',
      );
    }
    const h = input.hierarchy ?? undefined;
    if (h !== undefined) {
      const changesMode = h.limit_enforcement != null && h.limit_enforcement !== group.mode;
      const changesParent = 'parent_group_id' in h && (h.parent_group_id ?? null) !== group.parentId;
      if (changesMode || changesParent) {
        throw badRequest('hierarchy is immutable after creation (parent_group_id and limit_enforcement).', 'immutable_field', 'hierarchy');
      }
    }
    if (!hasName && newModels === undefined) {
      throw badRequest('Provide at least one of metadata.name or models (metadata.external_entity_id and hierarchy cannot be changed).', 'empty_update', null);
    }
    let models = group.models;
    if (newModels !== undefined) {
      models = normalizeModels(newModels);
      if (group.mode === 'CASCADING') {
        checkCascade({ id: group.id, models }, this.pathToRoot(group).slice(1), this.subtree(group).slice(1));
      }
    }
    this.store.updateGroup(group.id, { ...(hasName ? { name: metadata?.name ?? null } : {}), models });
    return this.view(group);
  }

  deleteGroup(workspaceId: string, groupId: string): { id: string; metadata: GroupView['metadata']; deleted_at: string } {
    const group = this.findGroup(workspaceId, groupId);
    const deletedAt = rfc3339(this.clock.now()); // before anything changes, like every answer built from the clock
    this.store.removeSubtree(group.id);
    return {
      id: group.id,
      metadata: { name: group.name, external_entity_id: group.externalEntityId },
      deleted_at: deletedAt,
    };
  }

  groupUsage(workspaceId: string, groupId: string): { customer_id: string; usage: Record<string, UsageEntry[]> } {
    const group = this.findGroup(workspaceId, groupId);
    const now = this.clock.now();
    const usage: Record<string, UsageEntry[]> = {};
    for (const m of this.effective(group)) {
      if (m.usage_limits.length === 0) continue;
      usage[m.slug] = m.usage_limits.map((l) => {
        const counter = this.meter.dailyUsage(this.bucketFor(group, m.slug, l), now);
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
    const now = this.clock.now();
    return this.effective(group).flatMap((m) =>
      limitsOf(m).map(({ l, kind }) => {
        const bucket = this.bucketFor(group, m.slug, l);
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

  // ---- keys ---------------------------------------------------------------

  mintKey(workspaceId: string, groupId: string, name: string | null | undefined): { api_key: string; prefix: string; name: string | null } {
    const group = this.findGroup(workspaceId, groupId);
    let minted = mintKey(this.store.ids);
    while (this.store.key(minted.prefix)) minted = mintKey(this.store.ids);
    const record = this.store.insertKey({ prefix: minted.prefix, groupId: group.id, workspaceId, name: name ?? null, hash: storedHash(minted.apiKey) });
    return { api_key: minted.apiKey, prefix: record.prefix, name: record.name };
  }

  /**
   * Stores a key whose full `prefix.secret` the caller already knows (a scenario's fixed
   * secrets), hashed like a minted one. Prefixes are unique across the mock, because
   * inference finds a key by its prefix.
   */
  addKnownKey(workspaceId: string, groupId: string, apiKey: string, name: string | null | undefined): { prefix: string; name: string | null } {
    const group = this.findGroup(workspaceId, groupId);
    const prefix = prefixOf(apiKey);
    if (this.store.key(prefix)) throw badRequest(`A key with prefix ${prefix} already exists; the first 16 characters of a key must be unique.`, 'duplicate_key_prefix', 'api_key');
    const record = this.store.insertKey({ prefix, groupId: group.id, workspaceId, name: name ?? null, hash: storedHash(apiKey) });
    return keyView(record);
  }

  /**
   * Stores a caller-supplied key after the documented checks: a public key on file, the
   * Ed25519 signature over the exact body bytes, length, entropy, a free prefix. Prefixes
   * are unique across the whole mock, not only the workspace, because inference finds a
   * key by its prefix (see AMBIGUITIES.md).
   */
  registerKey(workspaceId: string, groupId: string, input: { key: string; name?: string | null }, rawBody: Buffer, signature: string | string[] | undefined): { ok: true } {
    const group = this.findGroup(workspaceId, groupId);
    verifyRegisterSignature(this.store.workspace(workspaceId)?.registerPublicKey ?? null, rawBody, signature);
    const prefix = checkRegisteredKey(input.key);
    if (this.store.key(prefix)) {
      throw badRequest(`A key with prefix ${prefix} is already registered; the first 16 characters of a key must be unique.`, 'duplicate_key_prefix', 'key');
    }
    this.store.insertKey({ prefix, groupId: group.id, workspaceId, name: input.name ?? null, hash: storedHash(input.key) });
    return { ok: true };
  }

  listKeys(workspaceId: string, groupId: string, page: PageRequest): Page<{ prefix: string; name: string | null }> {
    const group = this.findGroup(workspaceId, groupId);
    const result = paginate(this.store.keysOf(group.id), this.store.cursors, `keys:${group.id}`, page.limit, page.cursor);
    return { items: result.items.map(keyView), pagination: result.pagination };
  }

  getKey(workspaceId: string, groupId: string, prefix: string): { prefix: string; name: string | null } {
    return keyView(this.findKey(workspaceId, groupId, prefix));
  }

  revokeKey(workspaceId: string, groupId: string, prefix: string): { prefix: string } {
    const key = this.findKey(workspaceId, groupId, prefix);
    this.store.removeKey(key.prefix);
    return { prefix: key.prefix };
  }

  // ---- authentication -----------------------------------------------------

  /**
   * The workspace behind a management key: 401 for an unknown key; 403 when the
   * workspace is not onboarded or the key lacks the scope `needed`.
   */
  authenticateWorkspace(key: string, needed: Scope): WorkspaceCaller {
    const entry = this.store.managementKey(key);
    const workspace = entry && this.store.workspace(entry.workspaceId);
    if (!entry || !workspace) throw unauthorized('Invalid API key.', 'invalid_api_key');
    if (!workspace.onboarded) {
      throw forbidden('This workspace is not onboarded to Frontier Gateway.', 'workspace_not_onboarded');
    }
    if (needed === 'management' && entry.scope !== 'management') {
      throw forbidden(`This operation needs a key with management scope; this key has ${entry.scope} scope.`, 'insufficient_scope');
    }
    return { workspace, scope: entry.scope };
  }

  // ---- inference ----------------------------------------------------------

  /** The caller behind a federated key; 401 for anything but a live key of a live group. */
  authenticateFederated(apiKey: string): FederatedCaller {
    const key = this.store.key(prefixOf(apiKey));
    if (!key || !verifyKey(apiKey, key.hash)) {
      throw unauthorized('Invalid API key: unknown, revoked, or its group was deleted.', 'invalid_api_key');
    }
    const group = this.store.group(key.groupId);
    const workspace = this.store.workspace(key.workspaceId);
    if (!group || !workspace) throw unauthorized('Invalid API key: its group was deleted.', 'invalid_api_key');
    return { key, group, workspace };
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
    const model = this.effective(group).find((m) => m.slug === slug);
    if (!model) {
      throw notFound(
        `The model \`${slug}\` does not exist or this key's group may not call it. Callable: ${this.callableSlugs(group).join(', ') || 'none'}.`,
        'model_not_found',
        'model',
      );
    }
    // Rate limits first, then usage limits; built in one pass (this runs on every completion).
    const charges: LimitCharge[] = [];
    for (const kind of ['rate', 'usage'] as const) {
      for (const l of kind === 'rate' ? model.rate_limits : model.usage_limits) {
        charges.push({
          bucket: this.bucketFor(group, slug, l),
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
    const result = this.meter.admit(this.clock.now(), charges);
    if (!result.ok) {
      const c = result.refused;
      const what = c.kind === 'rate' ? 'Rate limit' : 'Usage limit';
      throw new GatewayError(
        'rate_limited',
        `${what} exceeded: ${c.type} per ${c.unit} threshold ${c.threshold} of group ${c.sourceGroup} for ${slug}.`,
        c.kind === 'rate' ? 'rate_limit_exceeded' : 'usage_limit_exceeded',
        null,
        result.retryAfterSeconds,
      );
    }
  }

  /**
   * Counts `amount` of today's usage for `slug` as if the group's keys had made it (a
   * scenario's pre-consumed usage): charged to every DAY limit of `type` in the group's
   * effective models, or refused with a 400 when none applies or one would go over.
   */
  countDailyUsage(workspaceId: string, groupId: string, slug: string, type: Charge['type'], amount: number): void {
    const group = this.findGroup(workspaceId, groupId);
    const limits = this.effective(group).find((m) => m.slug === slug)?.usage_limits.filter((l) => l.type === type) ?? [];
    if (limits.length === 0) {
      throw badRequest(`group ${group.id} has no DAY ${type} limit for ${slug} (its own or inherited), so no usage is counted for it.`, 'no_usage_limit', 'slug');
    }
    const charges = limits.map((l) => ({ bucket: this.bucketFor(group, slug, l), type: l.type, unit: l.unit, threshold: l.threshold, amount, source: l.source_group }));
    const result = this.meter.admit(this.clock.now(), charges);
    if (!result.ok) {
      const c = result.refused;
      throw badRequest(`${amount} more ${type} today would take the DAY limit of group ${c.source} for ${slug} past its threshold ${c.threshold}.`, 'usage_over_limit', 'used');
    }
  }

  // ---- shared -------------------------------------------------------------

  /** 404 when no such live group exists; 403 when it lives in another workspace. */
  findGroup(workspaceId: string, groupId: string): GroupRecord {
    const group = this.store.group(groupId);
    if (!group) throw notFound(`Group ${groupId} not found.`, 'group_not_found', 'group_id');
    if (group.workspaceId !== workspaceId) {
      throw forbidden(`Group ${groupId} is not in your workspace.`, 'group_in_other_workspace');
    }
    return group;
  }

  effective(group: GroupRecord): EffectiveModel[] {
    return effectiveModels(group.mode, this.pathToRoot(group));
  }

  view(group: GroupRecord): GroupView {
    return {
      id: group.id,
      metadata: { name: group.name, external_entity_id: group.externalEntityId },
      models: copyModels(group.models),
      effective_models: this.effective(group),
      hierarchy: { limit_enforcement: group.mode, parent_group_id: group.parentId },
      created_at: rfc3339(group.createdAt),
    };
  }

  /**
   * The bucket a limit draws on. INDEPENDENT: the group's own (usage is metered per
   * group even for inherited limits). CASCADING: the declaring group's, shared by its
   * whole subtree.
   */
  private bucketFor(group: GroupRecord, slug: string, l: { type: Charge['type']; unit: Charge['unit']; source_group: string }): string {
    return bucketKey(group.mode === 'CASCADING' ? l.source_group : group.id, slug, l.type, l.unit);
  }

  private findKey(workspaceId: string, groupId: string, prefix: string): KeyRecord {
    const group = this.findGroup(workspaceId, groupId);
    const key = this.store.key(prefix);
    if (!key || key.groupId !== group.id) {
      throw notFound(`API key ${prefix} not found in group ${groupId}.`, 'api_key_not_found', 'api_key_prefix');
    }
    return key;
  }

  /** The group, its parent, ... up to the root. */
  private pathToRoot(group: GroupRecord): GroupRecord[] {
    const path: GroupRecord[] = [];
    for (let g: GroupRecord | undefined = group; g; g = g.parentId === null ? undefined : this.store.group(g.parentId)) {
      path.push(g);
    }
    return path;
  }

  /** The group and all its descendants, the group first. */
  private subtree(group: GroupRecord): GroupRecord[] {
    const out: GroupRecord[] = [];
    const stack = [group];
    while (stack.length) {
      const g = stack.pop() as GroupRecord;
      out.push(g);
      stack.push(...this.store.childrenOf(g.id));
    }
    return out;
  }

  private assertExternalIdFree(workspaceId: string, externalId: string): void {
    const holder = this.store.groupByExternalId(workspaceId, externalId);
    if (holder !== undefined) {
      throw badRequest(
        `metadata.external_entity_id ${externalId} is already used by group ${holder.id} in this workspace.`,
        'duplicate_external_entity_id',
        'metadata.external_entity_id',
      );
    }
  }

  private uniqueGroupId(): string {
    let id = this.store.ids.groupId();
    while (this.store.group(id)) id = this.store.ids.groupId();
    return id;
  }
}

/** A model's rate limits then its usage limits, each with its kind: the order admission checks them in (admit() spells the same order out in one pass, as it runs on every completion). */
const limitsOf = (m: EffectiveModel) => [
  ...m.rate_limits.map((l) => ({ l: l as EffectiveLimit, kind: 'rate' as const })),
  ...m.usage_limits.map((l) => ({ l: l as EffectiveLimit, kind: 'usage' as const })),
];

const keyView = (k: KeyRecord) => ({ prefix: k.prefix, name: k.name });

