import type { Scope } from '../domain/records.js';
import { unauthorized } from '../domain/errors.js';
import type { Operation } from './spec.js';

/**
 * The HTTP side of authentication: reading the Authorization header, and the scope an
 * operation needs. Who a key belongs to is the domain's business (Gateway.authenticate*).
 */

export type ViewScopeReading = 'reads' | 'list-only';

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

/**
 * The scope `op` needs. The list page names "view scope" (`x-fgw-page-names-view-scope`),
 * the other pages "management scope". Read as `reads` (default): view scope may call
 * every read. Read as `list-only`: view scope may call only the operations whose page
 * names it. See AMBIGUITIES.md.
 */
export function requiredScope(op: Operation, reading: ViewScopeReading): Scope {
  if (op.scope === 'view' && reading === 'list-only' && !op.pageNamesViewScope) return 'management';
  return op.scope ?? 'management';
}
