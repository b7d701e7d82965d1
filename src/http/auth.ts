import { createHash } from 'node:crypto';
import type { ManagementKeyConfig, Scope } from '../config.js';
import { forbidden, unauthorized } from '../domain/errors.js';
import type { Workspace } from '../store/state.js';
import type { Operation } from './spec.js';

/**
 * Authentication and tenancy. Workspace (management) keys come from the config; the
 * mock keeps only their SHA-256, so a lookup compares digests, never the secret itself.
 */

export type ViewScopeReading = 'reads' | 'list-only';

export interface WorkspaceCaller {
  workspace: Workspace;
  scope: Scope;
}

const SCHEME = /^(Api-Key|Bearer)[ \t]+(\S+)[ \t]*$/i;

/** The key of an `Authorization: Api-Key <key>` or `Bearer <key>` header; 401 otherwise. */
export function credentialOf(header: string | undefined, allowBearer = true): string {
  if (!header) throw unauthorized('Missing Authorization header: send "Authorization: Api-Key <key>".', 'missing_api_key');
  const m = SCHEME.exec(header);
  if (!m) throw unauthorized('Malformed Authorization header: expected "Api-Key <key>" or "Bearer <key>".', 'malformed_authorization');
  if (!allowBearer && (m[1] as string).toLowerCase() === 'bearer') {
    throw unauthorized('Bearer is not accepted for federated keys on this server: send "Authorization: Api-Key <key>".', 'bearer_not_accepted');
  }
  return m[2] as string;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

export class WorkspaceAuth {
  private readonly byDigest = new Map<string, { workspace: string; scope: Scope }>();

  constructor(
    keys: readonly ManagementKeyConfig[],
    private readonly viewScope: ViewScopeReading = 'reads',
  ) {
    for (const k of keys) this.byDigest.set(digest(k.key), { workspace: k.workspace, scope: k.scope });
  }

  /**
   * 401 for a missing, malformed or unknown key; 403 when the workspace is not onboarded
   * or the key lacks the scope the operation needs.
   */
  authorize(header: string | undefined, op: Operation, workspaces: ReadonlyMap<string, Workspace>): WorkspaceCaller {
    const entry = this.byDigest.get(digest(credentialOf(header)));
    const workspace = entry && workspaces.get(entry.workspace);
    if (!entry || !workspace) throw unauthorized('Invalid API key.', 'invalid_api_key');
    if (!workspace.onboarded) {
      throw forbidden('This workspace is not onboarded to Frontier Gateway.', 'workspace_not_onboarded');
    }
    const needed = this.requiredScope(op);
    if (needed === 'management' && entry.scope !== 'management') {
      throw forbidden(`This operation needs a key with management scope; this key has ${entry.scope} scope.`, 'insufficient_scope');
    }
    return { workspace, scope: entry.scope };
  }

  /**
   * The list page names "view scope", the other pages "management scope". Read as
   * `reads` (default): view scope may call every read. Read as `list-only`: view scope
   * may only list groups. See AMBIGUITIES.md.
   */
  private requiredScope(op: Operation): Scope {
    if (op.scope === 'view' && this.viewScope === 'list-only' && op.id !== 'listGroups') return 'management';
    return op.scope ?? 'management';
  }
}
