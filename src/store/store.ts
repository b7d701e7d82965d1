import type { KeyObject } from 'node:crypto';
import { isInstant, ManualClock, OffsetClock, rfc3339, type Clock } from '../domain/clock.js';
import type { EndpointTarget } from '../domain/endpoints.js';
import { subtreeOf } from '../domain/groups.js';
import { IdSource } from '../domain/ids.js';
import { managementKeyDigest } from '../domain/keys.js';
import type { Enforcement, ModelConfig } from '../domain/limits.js';
import { Meter, type TokenLimitPolicy } from '../domain/meter.js';
import { CursorCodec, SeqIndex } from '../domain/pagination.js';
import type { EndpointRecord, GroupRecord, KeyRecord, ManagementKey, Scope, Workspace } from '../domain/records.js';
import { parsePublicKey, publicKeyBase64 } from '../domain/register.js';
import { rotateSecrets } from '../domain/webhooks.js';
import { ModelPool } from './model-pool.js';
import { PromptCache } from './prompt-cache.js';
import type { ChangeSink } from './change-sink.js';
import { endpointOut, groupOut, keyOut, managementKeyOut, workspaceOut } from './snapshot-records.js';
import { checkSnapshot, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot } from './snapshot.js';
import { WebhookLog } from './webhook-log.js';

/**
 * The one store that owns all mutable state of the mock: workspaces and their management
 * keys, groups, API keys, the indexes derived from them, the limit counters, the webhook
 * log and dead-letter queue, the clock's offset, and the seeds of ids and cursor signing.
 *
 * Callers read through its methods and change it only through its insert/update/remove
 * operations, which keep every index right. `reset()` goes back to the seed (the
 * configuration); `snapshot()` and `restore()` save and bring back everything in one
 * versioned format, where secrets stay hashed and indexes are rebuilt, never stored.
 * The store knows no rule of the domain: the services (src/service/) apply the rules of
 * src/domain/ and change the store through these operations.
 */

/** What reset() goes back to: the configured workspaces and management keys. */
export interface StoreSeed {
  workspaces: Workspace[];
  managementKeys: { key: string; workspace: string; scope: Scope }[];
}

export interface StoreOptions {
  seed: () => StoreSeed;
  /** The base clock; the mock's clock is this plus an offset the store owns. */
  baseClock?: Clock;
  /** Ids and secrets from a seeded stream instead of the OS's random source. */
  idSeed?: string | null;
  tokenLimitPolicy?: TokenLimitPolicy;
  maxWebhookLog?: number;
  /** Payload bytes the webhook log retains (default 32 MiB; the dead-letter queue likewise). */
  maxWebhookLogBytes?: number;
}

type NewGroup = Omit<GroupRecord, 'seq' | 'createdAt'>;

/**
 * A group's keys, kept on the group record itself under a symbol only this module knows
 * (so no view, spread, JSON or snapshot sees it): null without keys, the key itself while
 * it is the only one, a SeqIndex from the second on: most groups hold one key, and a map
 * or an index per group would cost more than the key (docs/performance.md).
 */
const KEYS = Symbol('keys');
type Stored<G> = G & { [KEYS]: KeyRecord | SeqIndex<KeyRecord> | null };
type NewKey = Omit<KeyRecord, 'seq' | 'createdAt'>;
type NewEndpoint = Omit<EndpointRecord, 'seq' | 'createdAt' | 'updatedAt'>;

export class Store {
  readonly clock: OffsetClock;
  readonly ids: IdSource;
  readonly meter: Meter;
  readonly webhooks: WebhookLog;
  /** Prompt prefixes recently sent, for cached tokens; memory only, forgotten on reset and restore. */
  readonly promptCache = new PromptCache();
  private readonly options: StoreOptions;
  private readonly seed: () => StoreSeed;
  private readonly idSeed: string | null;
  /** What reset() goes back to when set (the start-up state with its scenarios); else the seed. */
  private baseline: Snapshot | null = null;
  /** Bumped by every change of records; see `revision`. */
  private changes = 0;

  private workspaceMap = new Map<string, Workspace>();
  private managementKeyMap = new Map<string, ManagementKey>();
  private groupMap = new Map<string, GroupRecord>();
  private keyMap = new Map<string, KeyRecord>();
  private endpointMap = new Map<string, EndpointRecord>();
  private seq = 0;
  private cursorCodec!: CursorCodec;
  // Derived indexes: rebuilt from the records, never stored or written by callers.
  private groupIndex = new Map<string, SeqIndex<GroupRecord>>();
  /** Per workspace, external id -> group (nested rather than one map keyed by a joined string: docs/performance.md). */
  private externalIds = new Map<string, Map<string, GroupRecord>>();
  private children = new Map<string, Set<string>>();
  /** Slug -> endpoint id; slugs are unique across every workspace. */
  private endpointSlugs = new Map<string, string>();
  private endpointIndex = new Map<string, SeqIndex<EndpointRecord>>();
  /** Called after every reset() and restore(), e.g. to cancel deliveries in flight. */
  private readonly listeners: (() => void)[] = [];
  /** Shared frozen model lists (src/store/model-pool.ts): a cache of values, kept across resets. */
  private readonly modelPool = new ModelPool();
  /** Told every change as it is made (a state file's redo log); null without one, so the hot path pays a null check. */
  private sink: ChangeSink | null = null;

  constructor(options: StoreOptions) {
    this.options = options;
    this.seed = options.seed;
    this.idSeed = options.idSeed ?? null;
    this.clock = new OffsetClock(options.baseClock);
    this.ids = new IdSource(this.idSeed);
    this.meter = new Meter(options.tokenLimitPolicy ?? 'strict');
    this.webhooks = new WebhookLog(options.maxWebhookLog, options.maxWebhookLogBytes);
    this.clear();
  }

  /**
   * Tells `sink` every change from now on, synchronously, as it is made: the store's own
   * writes, and those of its meter, webhook log and clock. Null stops it.
   */
  setChangeSink(sink: ChangeSink | null): void {
    this.sink = sink;
    this.meter.onAdmit = sink && ((now, charges) => sink.charged(now, charges));
    this.webhooks.onChange = sink && ((d, added, deadLettered) => sink.delivery(d, added, deadLettered));
    this.clock.onMove = sink && (() => sink.clockMoved(this.clock.offset));
  }

  /**
   * The live maps' iterators, in no particular order: a state file's background snapshot
   * walks them a slice at a time while changes go on (its redo log covers those).
   */
  liveRecords(): { workspaces: Iterable<Workspace>; managementKeys: Iterable<ManagementKey>; groups: Iterator<GroupRecord>; keys: Iterator<KeyRecord>; endpoints: Iterator<EndpointRecord> } {
    return {
      workspaces: [...this.workspaceMap.values()],
      managementKeys: [...this.managementKeyMap.values()],
      groups: this.groupMap.values(),
      keys: this.keyMap.values(),
      endpoints: this.endpointMap.values(),
    };
  }

  /** The last sequence number handed out. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Runs `fn` after every reset() and restore(). */
  onReplaced(fn: () => void): void {
    this.listeners.push(fn);
  }

  /**
   * A number that changes whenever the state does: records, counters, webhook log, clock.
   * Each part only bumps an integer on its own writes, so watching it (the state file
   * does, on a timer) costs the hot path nothing more. Id draws alone do not count: the
   * stream's position is saved with the next change.
   */
  get revision(): number {
    return this.changes + this.meter.revision + this.webhooks.revision + this.clock.revision;
  }

  /**
   * A detached copy of this store at this instant, with its own clock frozen there: a
   * scratch space where changes can be tried (e.g. a scenario applied through the
   * Gateway's own rules) and then taken over whole with adopt(), or dropped.
   */
  fork(): Store {
    const base = this.clock.now() - this.clock.offset;
    const copy = new Store({ ...this.options, baseClock: new ManualClock(base) });
    copy.restore(this.snapshot(), { clock: 'offset' });
    return copy;
  }

  /** Takes over the whole state of `other` (a fork), keeping this store's clock running. */
  adopt(other: Store): void {
    this.restore(other.snapshot(), { clock: 'offset' });
  }

  /** From now on reset() goes back to the current state instead of the seed. */
  markBaseline(): void {
    this.baseline = this.snapshot();
  }

  // ---- reads ------------------------------------------------------------------

  get cursors(): CursorCodec {
    return this.cursorCodec;
  }
  workspace(id: string): Workspace | undefined {
    return this.workspaceMap.get(id);
  }
  workspaces(): Workspace[] {
    return [...this.workspaceMap.values()];
  }
  managementKey(key: string): ManagementKey | undefined {
    return this.managementKeyMap.get(managementKeyDigest(key));
  }
  group(id: string): GroupRecord | undefined {
    return this.groupMap.get(id);
  }
  /** The live group of `workspaceId` whose external id is `externalId`. */
  groupByExternalId(workspaceId: string, externalId: string): GroupRecord | undefined {
    return this.externalIds.get(workspaceId)?.get(externalId);
  }
  /** Live groups of a workspace in creation order. */
  groupsOf(workspaceId: string): SeqIndex<GroupRecord> | undefined {
    return this.groupIndex.get(workspaceId);
  }
  /** Every live group, in creation order. */
  allGroups(): GroupRecord[] {
    return [...this.groupMap.values()].sort((a, b) => a.seq - b.seq);
  }
  childrenOf(groupId: string): GroupRecord[] {
    return [...(this.children.get(groupId) ?? [])].map((id) => this.groupMap.get(id) as GroupRecord);
  }
  /** The live key with this prefix (prefixes are unique across the mock). */
  key(prefix: string): KeyRecord | undefined {
    return this.keyMap.get(prefix);
  }
  /** Live keys of a group in creation order. */
  keysOf(groupId: string): SeqIndex<KeyRecord> | undefined {
    const keys = (this.groupMap.get(groupId) as Stored<GroupRecord> | undefined)?.[KEYS];
    if (keys === undefined || keys === null) return undefined;
    if (keys instanceof SeqIndex) return keys;
    const one = new SeqIndex<KeyRecord>();
    one.add(keys);
    return one;
  }
  /** Every live key, in creation order. */
  allKeys(): KeyRecord[] {
    return [...this.keyMap.values()].sort((a, b) => a.seq - b.seq);
  }

  endpoint(id: string): EndpointRecord | undefined {
    return this.endpointMap.get(id);
  }
  /** The live endpoint with this slug, in whichever workspace. */
  endpointBySlug(slug: string): EndpointRecord | undefined {
    const id = this.endpointSlugs.get(slug);
    return id === undefined ? undefined : this.endpointMap.get(id);
  }
  /** Live endpoints of a workspace in creation order. */
  endpointsOf(workspaceId: string): SeqIndex<EndpointRecord> | undefined {
    return this.endpointIndex.get(workspaceId);
  }
  /** Every live endpoint, in creation order. */
  allEndpoints(): EndpointRecord[] {
    return [...this.endpointMap.values()].sort((a, b) => a.seq - b.seq);
  }

  // ---- writes -----------------------------------------------------------------

  /** Adds a workspace, or replaces the one with the same id (its keys and groups stay). */
  putWorkspace(workspace: Workspace): Workspace {
    const record = { ...workspace };
    this.workspaceMap.set(record.id, record);
    this.changes += 1;
    this.sink?.workspace(record);
    return record;
  }

  /** Adds a management key (kept as its SHA-256 digest) to an existing workspace. */
  insertManagementKey(key: string, workspaceId: string, scope: Scope): ManagementKey {
    if (!this.workspaceMap.has(workspaceId)) throw new Error(`store: no workspace ${workspaceId}`);
    const record: ManagementKey = { digest: managementKeyDigest(key), workspaceId, scope };
    this.managementKeyMap.set(record.digest, record);
    this.changes += 1;
    this.sink?.managementKey(record);
    return record;
  }

  /** Sets or clears (null) the key that signs a workspace's key registrations. */
  setRegisterPublicKey(workspaceId: string, key: KeyObject | null): Workspace {
    const workspace = this.workspaceMap.get(workspaceId);
    if (!workspace) throw new Error(`store: no workspace ${workspaceId}`);
    workspace.registerPublicKey = key;
    this.changes += 1;
    this.sink?.workspace(workspace);
    return workspace;
  }

  /**
   * Rotates a workspace's webhook signing secret to `next` (src/domain/webhooks.ts
   * rotateSecrets): the current one keeps signing, beside it, for 24 hours of mock time.
   */
  rotateWebhookSecret(workspaceId: string, next: string): Workspace {
    const workspace = this.workspaceMap.get(workspaceId);
    if (!workspace) throw new Error(`store: no workspace ${workspaceId}`);
    const rotated = rotateSecrets(workspace.webhookSecret, workspace.retiringWebhookSecrets, this.clock.now(), next);
    workspace.webhookSecret = rotated.current;
    workspace.retiringWebhookSecrets = rotated.retiring;
    this.changes += 1;
    this.sink?.workspace(workspace);
    return workspace;
  }

  insertEndpoint(fields: NewEndpoint): EndpointRecord {
    const now = this.clock.now();
    const endpoint: EndpointRecord = { ...fields, seq: this.nextSeq(), createdAt: now, updatedAt: now };
    this.indexEndpoint(endpoint);
    this.changes += 1;
    this.sink?.endpoint(endpoint);
    return endpoint;
  }

  /** Renames and/or re-points; `updatedAt` moves forward by at least 1 ms on every call. */
  updateEndpoint(id: string, change: { slug?: string; targets?: EndpointTarget[] }): EndpointRecord {
    const endpoint = this.endpointMap.get(id);
    if (!endpoint) throw new Error(`store: no endpoint ${id}`);
    if (change.slug !== undefined && change.slug !== endpoint.slug) {
      this.endpointSlugs.delete(endpoint.slug);
      endpoint.slug = change.slug;
      this.endpointSlugs.set(endpoint.slug, endpoint.id);
    }
    if (change.targets !== undefined) endpoint.targets = change.targets;
    endpoint.updatedAt = Math.max(this.clock.now(), endpoint.updatedAt + 1);
    this.changes += 1;
    this.sink?.endpoint(endpoint);
    return endpoint;
  }

  removeEndpoint(id: string): EndpointRecord | undefined {
    const endpoint = this.endpointMap.get(id);
    if (!endpoint) return undefined;
    this.endpointMap.delete(id);
    this.endpointSlugs.delete(endpoint.slug);
    this.endpointIndex.get(endpoint.workspaceId)?.remove(endpoint.seq);
    this.changes += 1;
    this.sink?.removedEndpoint(id);
    return endpoint;
  }

  insertGroup(fields: NewGroup): GroupRecord {
    // Every field spelled out, in one order, rather than `{ ...fields, seq }`, so every
    // record shares one hidden class (docs/performance.md, "Why the code is shaped so").
    const group: Stored<GroupRecord> = {
      id: fields.id,
      workspaceId: fields.workspaceId,
      seq: this.nextSeq(),
      name: fields.name,
      externalEntityId: fields.externalEntityId,
      models: this.modelPool.intern(fields.models),
      mode: sharedMode(fields.mode),
      parentId: fields.parentId,
      createdAt: this.clock.now(),
      [KEYS]: null,
    };
    this.indexGroup(group);
    this.changes += 1;
    this.sink?.group(group);
    return group;
  }

  updateGroup(id: string, change: { name?: string | null; models?: ModelConfig[] }): GroupRecord {
    const group = this.groupMap.get(id);
    if (!group) throw new Error(`store: no group ${id}`);
    if (change.name !== undefined) group.name = change.name;
    if (change.models !== undefined) group.models = this.modelPool.intern(change.models);
    this.changes += 1;
    this.sink?.group(group);
    return group;
  }

  /**
   * Removes the group and its whole subtree with every key in it, frees their external
   * ids and forgets their counters. Returns the removed groups, the group first.
   */
  removeSubtree(id: string): GroupRecord[] {
    const root = this.groupMap.get(id);
    if (!root) return [];
    const doomed = subtreeOf(root, (id) => this.childrenOf(id));
    for (const g of doomed) {
      for (const key of [...(this.keysOf(g.id) ?? [])]) this.keyMap.delete(key.prefix);
      this.groupMap.delete(g.id);
      this.groupIndex.get(g.workspaceId)?.remove(g.seq);
      this.externalIds.get(g.workspaceId)?.delete(g.externalEntityId);
      this.children.delete(g.id);
    }
    if (root.parentId !== null) this.children.get(root.parentId)?.delete(root.id);
    this.meter.forgetGroups(new Set(doomed.map((g) => g.id)));
    this.changes += 1;
    this.sink?.removedGroups(doomed);
    return doomed;
  }

  insertKey(fields: NewKey): KeyRecord {
    // Spelled out for the same reason as in insertGroup.
    const key: KeyRecord = {
      prefix: fields.prefix,
      groupId: fields.groupId,
      workspaceId: fields.workspaceId,
      name: fields.name,
      hash: fields.hash,
      seq: this.nextSeq(),
      createdAt: this.clock.now(),
    };
    this.indexKey(key);
    this.changes += 1;
    this.sink?.key(key);
    return key;
  }

  removeKey(prefix: string): KeyRecord | undefined {
    const key = this.keyMap.get(prefix);
    if (!key) return undefined;
    this.keyMap.delete(prefix);
    const group = this.groupMap.get(key.groupId) as Stored<GroupRecord> | undefined;
    if (group !== undefined) {
      const keys = group[KEYS];
      if (keys instanceof SeqIndex) keys.remove(key.seq);
      else if (keys === key) group[KEYS] = null;
    }
    this.changes += 1;
    this.sink?.removedKey(prefix);
    return key;
  }

  // ---- whole state ------------------------------------------------------------

  /**
   * Everything back to the baseline (the start-up state, scenarios included, with the
   * clock's start-up offset) or, without one, to the seed: records, counters, webhook
   * log, clock, id stream, cursor key.
   */
  reset(): void {
    if (this.baseline) return this.restore(this.baseline, { clock: 'offset' });
    this.clear();
    this.changes += 1;
    this.sink?.replaced();
    this.notify();
  }

  /** The whole state in the versioned format. Key secrets are hashes; indexes are left out. */
  snapshot(): Snapshot {
    const now = this.clock.now();
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      taken_at: rfc3339(now),
      clock: { now_ms: now, offset_ms: this.clock.offset },
      ids: this.ids.state(),
      cursor_key: this.cursorCodec.key.toString('base64'),
      seq: this.seq,
      workspaces: this.workspaces().map((w) => workspaceOut(w, now)),
      management_keys: [...this.managementKeyMap.values()].map(managementKeyOut),
      groups: this.allGroups().map(groupOut),
      api_keys: this.allKeys().map(keyOut),
      endpoints: this.allEndpoints().map(endpointOut),
      counters: this.meter.snapshot(now),
      webhooks: this.webhooks.snapshot(),
    };
  }

  /**
   * Replaces the whole state with `raw`, or throws a SnapshotError saying what is wrong
   * and changes nothing. `clock: 'instant'` (default) puts the clock back at the
   * snapshot's time, so the state is exactly as it was; `'offset'` keeps the offset, so
   * time that passed meanwhile (a restart) counts.
   */
  restore(raw: unknown, options: { clock?: 'instant' | 'offset' } = {}): void {
    const s = checkSnapshot(raw);
    // The instant the clock is put at must be one it can hold (a state file's offset is
    // added to today's time): checked before anything changes.
    const at = (options.clock ?? 'instant') === 'instant' ? s.clock.now_ms : this.clock.now() - this.clock.offset + s.clock.offset_ms;
    if (!isInstant(at)) throw new SnapshotError(`snapshot: the clock would be at ${at}, which is not an instant the mock clock can hold`);
    // Build every record and index first; only then swap, so a bad snapshot changes nothing.
    const next = {
      workspaceMap: new Map(
        s.workspaces.map((w): [string, Workspace] => [
          w.id,
          {
            id: w.id,
            onboarded: w.onboarded,
            webhookUrl: w.webhook_url,
            webhookSecret: w.webhook_secret,
            ...(w.webhook_secrets_retiring ? { retiringWebhookSecrets: w.webhook_secrets_retiring.map((r) => ({ secret: r.secret, expiresAt: r.expires_at_ms })) } : {}),
            // Snapshots taken before endpoints and registration existed lack these.
            orgPrefixes: w.org_prefixes ?? [w.id],
            environments: w.environments ?? ['production', 'staging'],
            registerPublicKey: w.register_public_key ? parsePublicKey(w.register_public_key) : null,
          },
        ]),
      ),
      managementKeyMap: new Map(s.management_keys.map((k) => [k.sha256, { digest: k.sha256, workspaceId: k.workspace_id, scope: k.scope }])),
      groups: s.groups.map(
        (g): Stored<GroupRecord> => ({
          id: g.id,
          workspaceId: g.workspace_id,
          seq: g.seq,
          name: g.name,
          externalEntityId: g.external_entity_id,
          models: this.modelPool.intern(g.models),
          mode: sharedMode(g.limit_enforcement),
          parentId: g.parent_group_id,
          createdAt: g.created_at_ms,
          [KEYS]: null,
        }),
      ),
      keys: s.api_keys.map(
        (k): KeyRecord => ({
          prefix: k.prefix,
          groupId: k.group_id,
          workspaceId: k.workspace_id,
          name: k.name,
          hash: Buffer.from(k.sha256, 'hex').toString('latin1'),
          seq: k.seq,
          createdAt: k.created_at_ms,
        }),
      ),
      endpoints: (s.endpoints ?? []).map(
        (e): EndpointRecord => ({
          id: e.id,
          workspaceId: e.workspace_id,
          seq: e.seq,
          slug: e.slug,
          region: e.region,
          targets: structuredClone(e.targets),
          createdAt: e.created_at_ms,
          updatedAt: e.updated_at_ms,
        }),
      ),
    };
    this.clearRecords();
    this.workspaceMap = next.workspaceMap;
    this.managementKeyMap = next.managementKeyMap;
    for (const g of next.groups.sort((a, b) => a.seq - b.seq)) this.indexGroup(g);
    for (const k of next.keys.sort((a, b) => a.seq - b.seq)) this.indexKey(k);
    for (const e of next.endpoints.sort((a, b) => a.seq - b.seq)) this.indexEndpoint(e);
    this.seq = s.seq;
    this.cursorCodec = new CursorCodec(Buffer.from(s.cursor_key, 'base64'));
    this.ids.restore(s.ids);
    this.meter.restore(s.counters);
    this.webhooks.restore(s.webhooks);
    if ((options.clock ?? 'instant') === 'instant') this.clock.restoreTo(s.clock.now_ms);
    else this.clock.restoreOffset(s.clock.offset_ms);
    this.changes += 1;
    this.sink?.replaced();
    this.notify();
  }

  // ---- internals --------------------------------------------------------------

  private clear(): void {
    this.clearRecords();
    const seed = this.seed();
    for (const w of seed.workspaces) this.workspaceMap.set(w.id, { ...w });
    for (const k of seed.managementKeys) {
      const digest = managementKeyDigest(k.key);
      this.managementKeyMap.set(digest, { digest, workspaceId: k.workspace, scope: k.scope });
    }
    this.seq = 0;
    this.meter.reset();
    this.webhooks.reset();
    this.clock.reset();
    this.ids.restore({ seed: this.idSeed, position: 0 });
    this.cursorCodec = new CursorCodec(this.ids.bytes(32));
  }

  private clearRecords(): void {
    this.workspaceMap = new Map();
    this.managementKeyMap = new Map();
    this.groupMap = new Map();
    this.keyMap = new Map();
    this.groupIndex = new Map();
    this.externalIds = new Map();
    this.children = new Map();
    this.endpointMap = new Map();
    this.endpointSlugs = new Map();
    this.endpointIndex = new Map();
  }

  private notify(): void {
    this.promptCache.clear();
    for (const fn of this.listeners) fn();
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  private indexGroup(group: GroupRecord): void {
    this.groupMap.set(group.id, group);
    indexIn(this.groupIndex, group.workspaceId).add(group);
    let byExternalId = this.externalIds.get(group.workspaceId);
    if (!byExternalId) this.externalIds.set(group.workspaceId, (byExternalId = new Map()));
    byExternalId.set(group.externalEntityId, group);
    if (group.parentId !== null) {
      let siblings = this.children.get(group.parentId);
      if (!siblings) this.children.set(group.parentId, (siblings = new Set()));
      siblings.add(group.id);
    }
  }

  private indexEndpoint(endpoint: EndpointRecord): void {
    this.endpointMap.set(endpoint.id, endpoint);
    this.endpointSlugs.set(endpoint.slug, endpoint.id);
    indexIn(this.endpointIndex, endpoint.workspaceId).add(endpoint);
  }

  private indexKey(key: KeyRecord): void {
    this.keyMap.set(key.prefix, key);
    const group = this.groupMap.get(key.groupId) as Stored<GroupRecord>;
    const keys = group[KEYS];
    if (keys === null) group[KEYS] = key;
    else if (keys instanceof SeqIndex) keys.add(key);
    else {
      const index = new SeqIndex<KeyRecord>();
      index.add(keys);
      index.add(key);
      group[KEYS] = index;
    }
  }
}

/**
 * The mode as the one constant string, not the string of its own each parsed request
 * body holds (docs/performance.md).
 */
const sharedMode = (mode: Enforcement): Enforcement => (mode === 'CASCADING' ? 'CASCADING' : mode === 'INDEPENDENT' ? 'INDEPENDENT' : mode);

function indexIn<T extends { seq: number }>(map: Map<string, SeqIndex<T>>, id: string): SeqIndex<T> {
  let index = map.get(id);
  if (!index) map.set(id, (index = new SeqIndex<T>()));
  return index;
}
