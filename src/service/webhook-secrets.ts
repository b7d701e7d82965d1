import { rfc3339 } from '../domain/clock.js';
import { badRequest, notFound } from '../domain/errors.js';
import type { Store } from '../store/store.js';

/**
 * Rotating a workspace's webhook signing secret (POST
 * /_mock/workspaces/{workspace_id}/webhook_secret/rotate, RunningMock.rotateWebhookSecret):
 * the new secret signs every delivery from now on; the one it replaces keeps signing
 * beside it for 24 hours of mock time (src/domain/webhooks.ts), as the live service does.
 */

export interface RotatedSecret {
  workspace_id: string;
  /** The new secret, shown here once. */
  secret: string;
  /** The replaced secrets that still sign, newest first, and when each stops. */
  retiring: { expires_at: string }[];
}

export function rotateWebhookSecret(store: Store, workspaceId: string, secret?: string): RotatedSecret {
  if (!store.workspace(workspaceId)) throw notFound(`No workspace ${workspaceId}.`, 'workspace_not_found', 'workspace_id');
  if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0)) {
    throw badRequest('secret must be a non-empty string.', 'invalid_request', 'secret');
  }
  const next = secret ?? `whsec_${store.ids.string(32)}`;
  const w = store.rotateWebhookSecret(workspaceId, next);
  const now = store.clock.now();
  return {
    workspace_id: workspaceId,
    secret: w.webhookSecret,
    retiring: (w.retiringWebhookSecrets ?? []).filter((r) => r.expiresAt > now).map((r) => ({ expires_at: rfc3339(r.expiresAt) })),
  };
}
