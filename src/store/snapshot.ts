import { isInstant } from '../domain/clock.js';
import { GatewayError } from '../domain/errors.js';
import type { IdSourceState } from '../domain/ids.js';
import type { EndpointTarget, Region } from '../domain/endpoints.js';
import { checkCascade, MAX_DEPTH, normalizeModels, type Enforcement, type LimitNode, type ModelConfig } from '../domain/limits.js';
import type { MeterSnapshot } from '../domain/meter.js';
import { describeAjvError } from '../lib/ajv-errors.js';
import { snapshotValidator } from './snapshot-schema.js';
import type { WebhookLogSnapshot } from './webhook-log.js';

/**
 * The versioned format of the store's snapshot (GET /_mock/snapshot, state files) and
 * the check that a snapshot is one this mock can restore: the right format, a version it
 * knows, the shape openapi/mock-admin.yaml's Snapshot schema gives (src/store/snapshot-schema.ts),
 * records that hang together (every key under a live group, every group in a known
 * workspace under a parent of its tree, ...), and the API's own domain rules (model lists,
 * the cascade rule, the depth limit, one mode per tree, instants the clock can hold).
 * Secrets are hashes.
 */

export const SNAPSHOT_FORMAT = 'frontier-gateway-mock/state';
export const SNAPSHOT_VERSION = 1;

export interface Snapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  taken_at: string;
  clock: { now_ms: number; offset_ms: number };
  ids: IdSourceState;
  /** base64 of the key that signs pagination cursors, so cursors survive a restore. */
  cursor_key: string;
  /** The last sequence number handed out (creation order of groups and keys). */
  seq: number;
  workspaces: {
    id: string;
    onboarded: boolean;
    webhook_url: string | null;
    webhook_secret: string;
    /** Secrets a rotation replaced, still signing until expires_at_ms, newest first; absent when none (and in older snapshots). */
    webhook_secrets_retiring?: { secret: string; expires_at_ms: number }[];
    /** Absent in snapshots taken before endpoints and key registration. */
    org_prefixes?: string[];
    environments?: string[];
    register_public_key?: string | null;
  }[];
  management_keys: { sha256: string; workspace_id: string; scope: 'management' | 'view' }[];
  groups: {
    id: string;
    workspace_id: string;
    seq: number;
    name: string | null;
    external_entity_id: string;
    models: ModelConfig[];
    limit_enforcement: Enforcement;
    parent_group_id: string | null;
    created_at_ms: number;
  }[];
  api_keys: {
    prefix: string;
    group_id: string;
    workspace_id: string;
    name: string | null;
    sha256: string;
    seq: number;
    created_at_ms: number;
  }[];
  /** Absent in snapshots taken before endpoints existed. */
  endpoints?: {
    id: string;
    workspace_id: string;
    seq: number;
    slug: string;
    region: Region;
    targets: EndpointTarget[];
    created_at_ms: number;
    updated_at_ms: number;
  }[];
  counters: MeterSnapshot;
  webhooks: WebhookLogSnapshot;
}

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** The largest body POST /_mock/snapshot reads (413 above it): parsing costs several times the text. */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** `raw` as a Snapshot, or a SnapshotError that names the first thing wrong with it. */
export function checkSnapshot(raw: unknown): Snapshot {
  const fail = (message: string): never => {
    throw new SnapshotError(message);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('a snapshot must be a JSON object');
  const head = raw as { format?: unknown; version?: unknown };
  if (head.format !== SNAPSHOT_FORMAT) fail(`not a frontier-gateway-mock snapshot: "format" must be "${SNAPSHOT_FORMAT}"`);
  if (typeof head.version !== 'number' || !Number.isInteger(head.version) || head.version < 1) fail('"version" must be a positive integer');
  if ((head.version as number) > SNAPSHOT_VERSION) {
    fail(`snapshot version ${String(head.version)} is newer than this mock understands (${SNAPSHOT_VERSION}); upgrade frontier-gateway-mock`);
  }
  const validator = snapshotValidator();
  if (!validator(raw)) {
    // In the API's words, naming the field (`groups[0].models[1].slug is malformed.`).
    const e = validator.errors?.[0];
    fail(`snapshot: ${e ? describeAjvError(e).message.replace(/^The request body/, 'the snapshot') : 'invalid'}`);
  }
  const s = raw as Snapshot;
  const unique = (values: string[], what: string) => {
    const seen = new Set<string>();
    for (const v of values) {
      if (seen.has(v)) fail(`snapshot: ${what} "${v}" appears twice`);
      seen.add(v);
    }
  };
  unique(s.workspaces.map((w) => w.id), 'workspace id');
  unique(s.groups.map((g) => g.id), 'group id');
  unique(s.api_keys.map((k) => k.prefix), 'api key prefix');
  const endpoints = s.endpoints ?? [];
  unique(endpoints.map((e) => e.id), 'endpoint id');
  unique(endpoints.map((e) => e.slug), 'endpoint slug');
  unique([...s.groups, ...s.api_keys, ...endpoints].map((r) => String(r.seq)), 'seq');
  unique(s.groups.map((g) => `${g.workspace_id}\u0000${g.external_entity_id}`), 'external_entity_id in a workspace');
  const workspaces = new Set(s.workspaces.map((w) => w.id));
  const groups = new Map(s.groups.map((g) => [g.id, g]));
  for (const k of s.management_keys) if (!workspaces.has(k.workspace_id)) fail(`snapshot: a management key names unknown workspace "${k.workspace_id}"`);
  for (const g of s.groups) {
    if (!workspaces.has(g.workspace_id)) fail(`snapshot: group ${g.id} is in unknown workspace "${g.workspace_id}"`);
    if (g.seq > s.seq) fail(`snapshot: group ${g.id} has seq ${g.seq} above the snapshot's seq ${s.seq}`);
    if (g.parent_group_id !== null) {
      const parent = groups.get(g.parent_group_id);
      if (!parent) fail(`snapshot: group ${g.id} names missing parent ${g.parent_group_id}`);
      if (parent?.workspace_id !== g.workspace_id || parent.limit_enforcement !== g.limit_enforcement) {
        fail(`snapshot: group ${g.id} and its parent ${g.parent_group_id} differ in workspace or limit_enforcement`);
      }
    }
  }
  for (const g of s.groups) {
    let depth = 0;
    for (let at: string | null = g.id; at !== null; at = groups.get(at)?.parent_group_id ?? null) {
      if (++depth > s.groups.length) fail(`snapshot: group ${g.id} is in a parent cycle`);
    }
  }
  for (const k of s.api_keys) {
    const g = groups.get(k.group_id);
    if (!g || g.workspace_id !== k.workspace_id) fail(`snapshot: api key ${k.prefix} names missing group ${k.group_id} in workspace ${k.workspace_id}`);
    if (k.seq > s.seq) fail(`snapshot: api key ${k.prefix} has seq ${k.seq} above the snapshot's seq ${s.seq}`);
  }
  for (const e of endpoints) {
    if (!workspaces.has(e.workspace_id)) fail(`snapshot: endpoint ${e.id} is in unknown workspace "${e.workspace_id}"`);
    if (e.seq > s.seq) fail(`snapshot: endpoint ${e.id} has seq ${e.seq} above the snapshot's seq ${s.seq}`);
  }
  if (Buffer.from(s.cursor_key, 'base64').length < 16) fail('snapshot: cursor_key must be base64 of at least 16 bytes');
  checkDomainRules(s, groups, fail);
  return s;
}

/**
 * The rules the API enforces on every write, so a snapshot cannot hold what the API would
 * have refused: each model list as normalizeModels() takes it, trees at most MAX_DEPTH
 * levels deep, the cascade rule between every CASCADING group and its ancestors
 * (checkCascade), and a clock the mock can run (isInstant).
 */
function checkDomainRules(s: Snapshot, groups: ReadonlyMap<string, Snapshot['groups'][number]>, fail: (message: string) => never): void {
  const { now_ms, offset_ms } = s.clock;
  if (!isInstant(now_ms) || !isInstant(now_ms - offset_ms)) fail(`snapshot: clock now_ms ${now_ms} with offset_ms ${offset_ms} is not an instant the mock clock can hold`);
  s.groups.forEach((g, i) => {
    try {
      normalizeModels(g.models, `groups[${i}].models`);
    } catch (e) {
      if (e instanceof GatewayError) fail(`snapshot: group ${g.id}: ${e.message}`);
      throw e;
    }
  });
  const node = (g: Snapshot['groups'][number]): LimitNode => ({ id: g.id, models: g.models });
  for (const g of s.groups) {
    const ancestors: Snapshot['groups'][number][] = [];
    for (let at = g.parent_group_id === null ? undefined : groups.get(g.parent_group_id); at !== undefined; at = at.parent_group_id === null ? undefined : groups.get(at.parent_group_id)) {
      ancestors.push(at);
      if (ancestors.length >= MAX_DEPTH) fail(`snapshot: group ${g.id} is more than ${MAX_DEPTH} levels deep; a hierarchy is at most ${MAX_DEPTH} levels`);
    }
    if (g.limit_enforcement !== 'CASCADING' || ancestors.length === 0) continue;
    try {
      checkCascade(node(g), ancestors.map(node), []);
    } catch (e) {
      if (e instanceof GatewayError) fail(`snapshot: group ${g.id}: ${e.message}${e.detail ? ` ${e.detail}` : ''}`);
      throw e;
    }
  }
}
