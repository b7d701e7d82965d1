import type { HandlerMap } from '../registry.js';
import { ws } from './groups.js';

/** Billing events: translate the query (repeated parameters arrive as arrays), call the events service. */

const list = (v: unknown): string[] | undefined => (v === undefined ? undefined : (v as string[]));
const text = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));

export const eventHandlers: HandlerMap = {
  listBillingEvents: (ctx) => {
    const q = ctx.query;
    // Two spellings of the external-entity filter (AMBIGUITIES.md): the ids add up.
    const ids = q.external_entity_ids === undefined && q.external_entity_id === undefined ? undefined : [...(list(q.external_entity_ids) ?? []), ...(list(q.external_entity_id) ?? [])];
    return {
      body: ctx.mock.gateway.events.list(ws(ctx), {
        start_time: text(q.start_time),
        end_time: text(q.end_time),
        limit: q.limit as number | undefined,
        cursor: text(q.cursor),
        api_keys: list(q.api_keys),
        external_entity_ids: ids,
      }),
    };
  },
};
