import type { ValidateFunction } from 'ajv/dist/2020.js';
import { createRequire } from 'node:module';
import type { IdSourceState } from '../domain/ids.js';
import type { EndpointTarget, Region } from '../domain/endpoints.js';
import type { Enforcement, ModelConfig } from '../domain/limits.js';
import type { MeterSnapshot } from '../domain/meter.js';
import type { WebhookLogSnapshot } from './webhook-log.js';

/**
 * The versioned format of the store's snapshot (GET /_mock/snapshot, state files) and
 * the check that a snapshot is one this mock can restore: the right format, a version it
 * knows, the right shape, and records that hang together (every key under a live group,
 * every group in a known workspace under a parent of its tree, ...). Secrets are hashes.
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

const int = { type: 'integer', minimum: 0 } as const;
const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const limit = (units: string[]) => ({
  type: 'object',
  required: ['type', 'unit', 'threshold'],
  properties: { type: { enum: ['TOKEN', 'REQUEST'] }, unit: { enum: units }, threshold: { type: 'integer', minimum: 1 } },
});
const delivery = { type: 'object', required: ['id', 'workspace_id', 'url', 'state', 'payload', 'signature', 'attempts'] };

const SCHEMA = {
  type: 'object',
  required: ['format', 'version', 'clock', 'ids', 'cursor_key', 'seq', 'workspaces', 'management_keys', 'groups', 'api_keys', 'counters', 'webhooks'],
  properties: {
    clock: { type: 'object', required: ['now_ms', 'offset_ms'], properties: { now_ms: int, offset_ms: { type: 'number' } } },
    ids: { type: 'object', required: ['seed', 'position'], properties: { seed: nullableStr, position: int } },
    cursor_key: { type: 'string', minLength: 1 },
    seq: int,
    workspaces: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'onboarded', 'webhook_url', 'webhook_secret'],
        properties: {
          id: { type: 'string', minLength: 1 },
          onboarded: { type: 'boolean' },
          webhook_url: nullableStr,
          webhook_secret: str,
          webhook_secrets_retiring: {
            type: 'array',
            items: { type: 'object', additionalProperties: false, required: ['secret', 'expires_at_ms'], properties: { secret: str, expires_at_ms: int } },
          },
          org_prefixes: { type: 'array', items: str },
          environments: { type: 'array', items: str },
          register_public_key: { type: ['string', 'null'], pattern: '^[A-Za-z0-9+/]{43}=$' },
        },
      },
    },
    management_keys: {
      type: 'array',
      items: { type: 'object', required: ['sha256', 'workspace_id', 'scope'], properties: { sha256: hex64, workspace_id: str, scope: { enum: ['management', 'view'] } } },
    },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'workspace_id', 'seq', 'name', 'external_entity_id', 'models', 'limit_enforcement', 'parent_group_id', 'created_at_ms'],
        properties: {
          id: { type: 'string', minLength: 1 },
          workspace_id: str,
          seq: int,
          name: nullableStr,
          external_entity_id: { type: 'string', minLength: 1 },
          models: {
            type: 'array',
            items: {
              type: 'object',
              required: ['slug', 'rate_limits', 'usage_limits'],
              properties: { slug: str, rate_limits: { type: 'array', items: limit(['SECOND', 'MINUTE']) }, usage_limits: { type: 'array', items: limit(['DAY']) } },
            },
          },
          limit_enforcement: { enum: ['INDEPENDENT', 'CASCADING'] },
          parent_group_id: nullableStr,
          created_at_ms: int,
        },
      },
    },
    api_keys: {
      type: 'array',
      items: {
        type: 'object',
        required: ['prefix', 'group_id', 'workspace_id', 'name', 'sha256', 'seq', 'created_at_ms'],
        properties: { prefix: { type: 'string', minLength: 1 }, group_id: str, workspace_id: str, name: nullableStr, sha256: hex64, seq: int, created_at_ms: int },
      },
    },
    endpoints: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'workspace_id', 'seq', 'slug', 'region', 'targets', 'created_at_ms', 'updated_at_ms'],
        properties: {
          id: { type: 'string', minLength: 1 },
          workspace_id: str,
          seq: int,
          slug: { type: 'string', pattern: '^[^/]+/[^/]+$' },
          region: { enum: ['UNRESTRICTED', 'EU'] },
          targets: {
            type: 'array',
            items: {
              type: 'object',
              required: ['provider', 'model_id', 'environment_name', 'secret_id', 'target_model', 'vertex_config', 'base_url'],
              properties: { provider: { enum: ['BASETEN', 'BASETEN_MODEL_API', 'ANTHROPIC', 'OPENAI', 'VERTEX', 'OPENAI_COMPATIBLE'] } },
            },
          },
          created_at_ms: int,
          updated_at_ms: int,
        },
      },
    },
    counters: {
      type: 'object',
      required: ['rolling', 'daily'],
      properties: {
        rolling: {
          type: 'array',
          items: {
            type: 'object',
            required: ['bucket', 'entries'],
            properties: {
              bucket: { type: 'string', pattern: '^[^|]+\\|[^|]+\\|(TOKEN|REQUEST)\\|(SECOND|MINUTE)$' },
              entries: { type: 'array', items: { type: 'array', prefixItems: [int, int], minItems: 2, maxItems: 2 } },
            },
          },
        },
        daily: {
          type: 'array',
          items: {
            type: 'object',
            required: ['bucket', 'day_start', 'used'],
            properties: { bucket: { type: 'string', pattern: '^[^|]+\\|[^|]+\\|(TOKEN|REQUEST)\\|DAY$' }, day_start: int, used: int },
          },
        },
      },
    },
    webhooks: {
      type: 'object',
      required: ['deliveries', 'dead_letter'],
      properties: { deliveries: { type: 'array', items: delivery }, dead_letter: { type: 'array', items: delivery } },
    },
  },
};

let validator: ValidateFunction | undefined;

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
  if (!validator) {
    // ajv's compiler is loaded on the first restore, not on every start-up (cold start).
    const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    validator = new Ajv2020({ strict: false, allErrors: false }).compile(SCHEMA);
  }
  if (!validator(raw)) {
    const e = validator.errors?.[0];
    fail(`snapshot${e?.instancePath ? ` at ${e.instancePath}` : ''}: ${e?.message ?? 'invalid'}`);
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
  return s;
}
