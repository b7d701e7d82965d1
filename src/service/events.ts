import {
  DEFAULT_EVENTS_HOLDBACK_SECONDS,
  eventsCursor,
  fetchedEvent,
  positionOf,
  readFrom,
  resolveEventsQuery,
  selectEvents,
  windowView,
  type EventsQueryInput,
  type FetchedBillingEvent,
} from '../domain/events.js';
import type { Store } from '../store/store.js';

/**
 * The billing events API over the store: the events are the webhook log's own
 * (src/store/webhook-log.ts), so a fetched event is the very one its webhook carried, same
 * `idempotencyKey`, and the log's bound (10,000 deliveries, 32 MiB) is the events' retention.
 * The rules (window, holdback, filters, cursor, limit) are src/domain/events.ts.
 */

export interface EventPage {
  items: FetchedBillingEvent[];
  pagination: { has_more: boolean; cursor: string | null };
  /** The window the page was taken from (pinned by the cursor): `start_time` inclusive, `end_time` exclusive. */
  window: { start_time: string; end_time: string };
}

export interface EventsPolicy {
  /** Events younger than this many seconds are not queryable yet (default 60, the documented "about a minute"). */
  holdbackSeconds?: number;
}

export class EventService {
  readonly holdbackMs: number;

  constructor(
    private readonly store: Store,
    policy: EventsPolicy = {},
  ) {
    const seconds = policy.holdbackSeconds ?? DEFAULT_EVENTS_HOLDBACK_SECONDS;
    if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new RangeError('the events holdback must be a finite number of seconds, 0 or more');
    this.holdbackMs = Math.round(seconds * 1000);
  }

  list(workspaceId: string, input: EventsQueryInput): EventPage {
    const scope = `events:${workspaceId}`;
    const query = resolveEventsQuery(input, { now: this.store.clock.now(), holdbackMs: this.holdbackMs, codec: this.store.cursors, scope });
    const log = this.store.webhooks;
    const { items, hasMore } = selectEvents(log.eventsFrom(readFrom(query)), query, workspaceId);
    const last = items[items.length - 1];
    return {
      items: items.map((r) => fetchedEvent(log.eventOf(r))),
      pagination: { has_more: hasMore, cursor: hasMore && last ? eventsCursor(this.store.cursors, scope, query.window, positionOf(last)) : null },
      window: windowView(query.window),
    };
  }

  /** Up to where events are queryable now (ms): now minus the holdback. */
  horizon(): number {
    return this.store.clock.now() - this.holdbackMs;
  }
}
