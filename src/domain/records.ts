import type { KeyObject } from 'node:crypto';
import type { EndpointTarget, Region } from './endpoints.js';
import type { Enforcement, ModelConfig } from './limits.js';
import type { RetiringSecret } from './webhooks.js';

/**
 * The nouns of the domain: what the store keeps and the services work on. Plain data,
 * no behaviour; the rules about them are the pure modules beside this one.
 */

/** What a management key may do: everything, or read only (see AMBIGUITIES.md on "view scope"). */
export type Scope = 'management' | 'view';

export interface Workspace {
  id: string;
  onboarded: boolean;
  webhookUrl: string | null;
  /** The newest signing secret. */
  webhookSecret: string;
  /** Secrets a rotation replaced, still signing until they expire, newest first (absent or empty: none). */
  retiringWebhookSecrets?: RetiringSecret[];
  /** Endpoint slug prefixes the workspace's organisation owns. */
  orgPrefixes: string[];
  /** Baseten environments its deployments know. */
  environments: string[];
  /** Ed25519 key that signs key registrations; null until configured. */
  registerPublicKey: KeyObject | null;
}

export interface ManagementKey {
  /** managementKeyDigest() of the key (src/domain/keys.ts); the key itself is never kept. */
  digest: string;
  workspaceId: string;
  scope: Scope;
}

export interface GroupRecord {
  id: string;
  workspaceId: string;
  seq: number;
  name: string | null;
  externalEntityId: string;
  models: ModelConfig[];
  mode: Enforcement;
  parentId: string | null;
  createdAt: number;
}

export interface KeyRecord {
  prefix: string;
  groupId: string;
  workspaceId: string;
  name: string | null;
  /** storedHash() of the whole key (src/domain/keys.ts); the plaintext is never kept. Snapshots carry it as hex. */
  hash: string;
  seq: number;
  createdAt: number;
}

export interface EndpointRecord {
  id: string;
  workspaceId: string;
  seq: number;
  slug: string;
  region: Region;
  targets: EndpointTarget[];
  createdAt: number;
  updatedAt: number;
}
