import type { HandlerMap } from '../registry.js';
import { ws } from './groups.js';

/** Billing events: translate the query (repeated parameters arrive as arrays), call the events service. */

export const eventHandlers: HandlerMap = {
  listBillingEvents: (ctx) => {
    const q = ctx.query;
    // Two spellings of the external-entity filter (AMBIGUITIES.md): the ids add up.
    const ids = q.external_entity_ids === undefined && q.external_entity_id === undefined ? undefined : [...(q.external_entity_ids ?? []), ...(q.external_entity_id ?? [])];
    return {
      body: ctx.mock.gateway.events.list(ws(ctx), {
        start_time: q.start_time,
        end_time: q.end_time,
        limit: q.limit,
        cursor: q.cursor,
        api_keys: q.api_keys,
        external_entity_ids: ids,
      }),
    };
  },
};
