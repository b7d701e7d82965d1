import type { Enforcement, ModelConfig } from '../domain/limits.js';
import { SeqIndex } from '../domain/pagination.js';

/**
 * All mutable state of the mock, in one place, with one reset(). Plain data and indexes;
 * the rules that change it live in src/domain/gateway.ts. Later persistence and
 * scenario loading read and write this object.
 */

export interface Workspace {
  id: string;
  onboarded: boolean;
  webhookUrl: string | null;
  webhookSecret: string;
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
  children: Set<string>;
  createdAt: number;
}

export interface KeyRecord {
  prefix: string;
  groupId: string;
  workspaceId: string;
  name: string | null;
  /** SHA-256 of the whole key; the plaintext is never kept. */
  hash: Buffer;
  seq: number;
  createdAt: number;
}

export class State {
  readonly workspaces = new Map<string, Workspace>();
  readonly groups = new Map<string, GroupRecord>();
  /** Live groups of each workspace in creation order. */
  readonly groupIndex = new Map<string, SeqIndex<GroupRecord>>();
  /** `workspace \0 external_entity_id` of live groups -> group id. */
  readonly externalIds = new Map<string, string>();
  /** Live keys by prefix (prefixes are unique across the mock). */
  readonly keys = new Map<string, KeyRecord>();
  /** Live keys of each group in creation order. */
  readonly keyIndex = new Map<string, SeqIndex<KeyRecord>>();
  private seq = 0;

  constructor(private readonly seedWorkspaces: () => Workspace[]) {
    this.reset();
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  reset(): void {
    this.workspaces.clear();
    this.groups.clear();
    this.groupIndex.clear();
    this.externalIds.clear();
    this.keys.clear();
    this.keyIndex.clear();
    for (const w of this.seedWorkspaces()) this.workspaces.set(w.id, w);
  }
}

export const externalIdKey = (workspaceId: string, externalId: string): string => `${workspaceId}\u0000${externalId}`;
