import { badRequest, notFound } from '../domain/errors.js';
import { mintKey, prefixOf, storedHash } from '../domain/keys.js';
import { paginate, type Page } from '../domain/pagination.js';
import type { KeyRecord } from '../domain/records.js';
import type { ApiKey } from '../generated/frontier-gateway.js';
import { checkRegisteredKey, verifyRegisterSignature } from '../domain/register.js';
import type { Store } from '../store/store.js';
import type { GroupService, PageRequest } from './groups.js';

/**
 * Federated API keys over the store: minting (the secret shown once), registering a
 * caller's own key (src/domain/register.ts), listing, lookup and revocation. Keys are
 * kept as hashes (src/domain/keys.ts); no answer but the mint's carries a secret.
 */

/** A key as lists and lookups show it (generated from the spec's `ApiKey`): never its secret. */
export type KeyView = ApiKey;

export class KeyService {
  constructor(
    private readonly store: Store,
    private readonly groups: GroupService,
  ) {}

  mint(workspaceId: string, groupId: string, name: string | null | undefined): { api_key: string; prefix: string; name: string | null } {
    const group = this.groups.find(workspaceId, groupId);
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
  addKnown(workspaceId: string, groupId: string, apiKey: string, name: string | null | undefined): KeyView {
    const group = this.groups.find(workspaceId, groupId);
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
  register(workspaceId: string, groupId: string, input: { key: string; name?: string | null }, rawBody: Buffer, signature: string | string[] | undefined): { ok: true } {
    const group = this.groups.find(workspaceId, groupId);
    verifyRegisterSignature(this.store.workspace(workspaceId)?.registerPublicKey ?? null, rawBody, signature);
    const prefix = checkRegisteredKey(input.key);
    if (this.store.key(prefix)) {
      throw badRequest(`A key with prefix ${prefix} is already registered; the first 16 characters of a key must be unique.`, 'duplicate_key_prefix', 'key');
    }
    this.store.insertKey({ prefix, groupId: group.id, workspaceId, name: input.name ?? null, hash: storedHash(input.key) });
    return { ok: true };
  }

  list(workspaceId: string, groupId: string, page: PageRequest): Page<KeyView> {
    const group = this.groups.find(workspaceId, groupId);
    const result = paginate(this.store.keysOf(group.id), this.store.cursors, `keys:${group.id}`, page.limit, page.cursor);
    return { items: result.items.map(keyView), pagination: result.pagination };
  }

  get(workspaceId: string, groupId: string, prefix: string): KeyView {
    return keyView(this.find(workspaceId, groupId, prefix));
  }

  revoke(workspaceId: string, groupId: string, prefix: string): { prefix: string } {
    const key = this.find(workspaceId, groupId, prefix);
    this.store.removeKey(key.prefix);
    return { prefix: key.prefix };
  }

  private find(workspaceId: string, groupId: string, prefix: string): KeyRecord {
    const group = this.groups.find(workspaceId, groupId);
    const key = this.store.key(prefix);
    if (!key || key.groupId !== group.id) {
      throw notFound(`API key ${prefix} not found in group ${groupId}.`, 'api_key_not_found', 'api_key_prefix');
    }
    return key;
  }
}

const keyView = (k: KeyRecord): KeyView => ({ prefix: k.prefix, name: k.name });
