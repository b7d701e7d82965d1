import { forbidden, unauthorized } from '../domain/errors.js';
import { prefixOf, verifyKey } from '../domain/keys.js';
import type { GroupRecord, KeyRecord, Scope, Workspace } from '../domain/records.js';
import type { Store } from '../store/store.js';

/**
 * Who is calling: the workspace behind a management key, or the key, group and workspace
 * behind a federated key. Reading the Authorization header is the HTTP layer's part
 * (src/http/auth.ts); which key is whose is decided here.
 */

export interface WorkspaceCaller {
  workspace: Workspace;
  scope: Scope;
}

export interface FederatedCaller {
  key: KeyRecord;
  group: GroupRecord;
  workspace: Workspace;
}

export class AccessService {
  constructor(private readonly store: Store) {}

  /**
   * The workspace behind a management key: 401 for an unknown key; 403 when the
   * workspace is not onboarded or the key lacks the scope `needed`.
   */
  workspaceCaller(key: string, needed: Scope): WorkspaceCaller {
    const entry = this.store.managementKey(key);
    const workspace = entry && this.store.workspace(entry.workspaceId);
    if (!entry || !workspace) {
      // Only on the refusal path: a live federated key is told what it is (AMBIGUITIES.md).
      if (this.isFederatedKey(key)) {
        throw unauthorized(
          'This is an operator endpoint, not an inference credential: federated gateway keys (for inference, POST /v1/chat/completions) are refused here. Use a workspace API key with management scope.',
          'federated_key_not_allowed',
        );
      }
      throw unauthorized('Invalid API key.', 'invalid_api_key');
    }
    if (!workspace.onboarded) {
      throw forbidden('This workspace is not onboarded to Frontier Gateway.', 'workspace_not_onboarded');
    }
    if (needed === 'management' && entry.scope !== 'management') {
      throw forbidden(`This operation needs a key with management scope; this key has ${entry.scope} scope.`, 'insufficient_scope');
    }
    return { workspace, scope: entry.scope };
  }

  /** Whether `apiKey` is a live federated key (its secret checked). */
  private isFederatedKey(apiKey: string): boolean {
    const key = this.store.key(prefixOf(apiKey));
    return key !== undefined && verifyKey(apiKey, key.hash) && this.store.group(key.groupId) !== undefined;
  }

  /** The caller behind a federated key; 401 for anything but a live key of a live group. */
  federatedCaller(apiKey: string): FederatedCaller {
    const key = this.store.key(prefixOf(apiKey));
    if (!key || !verifyKey(apiKey, key.hash)) {
      if (this.store.managementKey(apiKey)) {
        throw unauthorized(
          'Invalid API key: this is a workspace management key; inference needs a federated API key minted under a group (POST /v1/gateway/groups/{group_id}/api_keys).',
          'invalid_api_key',
        );
      }
      throw unauthorized('Invalid API key: unknown, revoked, or its group was deleted.', 'invalid_api_key');
    }
    const group = this.store.group(key.groupId);
    const workspace = this.store.workspace(key.workspaceId);
    if (!group || !workspace) throw unauthorized('Invalid API key: its group was deleted.', 'invalid_api_key');
    return { key, group, workspace };
  }

}
