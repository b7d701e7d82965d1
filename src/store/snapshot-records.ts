import type { EndpointRecord, GroupRecord, KeyRecord, ManagementKey, Workspace } from '../domain/records.js';
import { publicKeyBase64 } from '../domain/register.js';
import type { Snapshot } from './snapshot.js';

/**
 * The store's records in the snapshot's form: what a snapshot holds, and what the state
 * file's redo log writes for each change (src/store/redo-log.ts).
 */

/** A workspace; with `now`, only the retiring webhook secrets still signing then (a rotation in progress, else none at all). */
export const workspaceOut = (w: Workspace, now?: number): Snapshot['workspaces'][number] => {
  const retiring = (w.retiringWebhookSecrets ?? []).filter((r) => now === undefined || r.expiresAt > now);
  return {
  id: w.id,
  onboarded: w.onboarded,
  webhook_url: w.webhookUrl,
  webhook_secret: w.webhookSecret,
  ...(retiring.length > 0 ? { webhook_secrets_retiring: retiring.map((r) => ({ secret: r.secret, expires_at_ms: r.expiresAt })) } : {}),
  org_prefixes: [...w.orgPrefixes],
  environments: [...w.environments],
  register_public_key: w.registerPublicKey ? publicKeyBase64(w.registerPublicKey) : null,
  };
};

export const managementKeyOut = (k: ManagementKey): Snapshot['management_keys'][number] => ({ sha256: k.digest, workspace_id: k.workspaceId, scope: k.scope });

export const groupOut = (g: GroupRecord): Snapshot['groups'][number] => ({
  id: g.id,
  workspace_id: g.workspaceId,
  seq: g.seq,
  name: g.name,
  external_entity_id: g.externalEntityId,
  models: structuredClone(g.models),
  limit_enforcement: g.mode,
  parent_group_id: g.parentId,
  created_at_ms: g.createdAt,
});

export const keyOut = (k: KeyRecord): Snapshot['api_keys'][number] => ({
  prefix: k.prefix,
  group_id: k.groupId,
  workspace_id: k.workspaceId,
  name: k.name,
  sha256: Buffer.from(k.hash, 'latin1').toString('hex'),
  seq: k.seq,
  created_at_ms: k.createdAt,
});

export const endpointOut = (e: EndpointRecord): NonNullable<Snapshot['endpoints']>[number] => ({
  id: e.id,
  workspace_id: e.workspaceId,
  seq: e.seq,
  slug: e.slug,
  region: e.region,
  targets: structuredClone(e.targets),
  created_at_ms: e.createdAt,
  updated_at_ms: e.updatedAt,
});

