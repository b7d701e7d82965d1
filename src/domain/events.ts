import { MAX_INSTANT_MS, rfc3339Millis } from './clock.js';
import { badRequest } from './errors.js';
import { invalidCursor, type CursorCodec } from './pagination.js';
import type { BillingEvent } from './webhooks.js';

/**
 * The billing events API (`GET /v1/gateway/events`) as pure rules: the query's window
 * (`start_time` inclusive, `end_time` exclusive and by default now minus the ingestion
 * holdback), its filters, its limit, the cursor that pins window and filters, and the
 * selection of one page from events in ascending time. No I/O: the store hands over the
 * events (src/store/webhook-log.ts), the service (src/service/events.ts) wires the two.
 */

/** The documented holdback: events of roughly the last minute are not queryable yet. */
export const DEFAULT_EVENTS_HOLDBACK_SECONDS = 60;
export const DEFAULT_EVENTS_LIMIT = 100;
export const MAX_EVENTS_LIMIT = 1000;

/** A fetched event: the webhook's event without `requestMetadata` (only webhooks carry it). */
export type FetchedBillingEvent = Omit<BillingEvent, 'requestMetadata'>;

/** What the caller asked, as the HTTP layer read it (repeated parameters as arrays). */
export interface EventsQueryInput {
  start_time?: string | undefined;
  end_time?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
  api_keys?: readonly string[] | undefined;
  external_entity_ids?: readonly string[] | undefined;
}

/** The window and filters a query is evaluated over; a cursor pins all of it. */
export interface EventWindow {
  /** Inclusive, ms. */
  startMs: number;
  /** Exclusive, ms: the requested end, or now minus the holdback, whichever is earlier. */
  endMs: number;
  /** The `end_time` the caller gave (ms), or null when it was left to the default. */
  requestedEndMs: number | null;
  /** Key prefixes to keep, sorted and distinct; null for all keys. */
  apiKeys: string[] | null;
  /** External entity ids to keep, sorted and distinct; null for all. */
  externalEntityIds: string[] | null;
}

/** Where a page ended: the last event returned (its time, its delivery, its place in that delivery). */
export interface EventPosition {
  at: number;
  delivery: string;
  index: number;
}

export interface EventsQuery {
  window: EventWindow;
  /** Continue after this event (from a cursor); null for the first page. */
  after: EventPosition | null;
  limit: number;
}

/** One event as the store indexes it: enough to select it without reading it whole. */
export interface EventRef {
  /** The event's `timestamp`, in ms. */
  at: number;
  workspaceId: string;
  apiKeyPrefix: string;
  externalEntityId: string;
  /** The delivery (X-Baseten-Request-ID) that carries it, and its index in that delivery's events. */
  delivery: string;
  index: number;
}

export interface EventsContext {
  /** The mock's clock, ms. */
  now: number;
  /** Events younger than this are held back (not queryable yet). */
  holdbackMs: number;
  codec: CursorCodec;
  /** The list a cursor belongs to (one workspace's events): a cursor of another is refused. */
  scope: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 date-time (ISO 8601 with a `Z` or a numeric offset) as ms since the epoch,
 * or a 400 naming `field`. A fraction finer than a millisecond rounds up: events are
 * stamped to the millisecond, so an event is at or after `…00.0001Z` exactly when it is at
 * or after `…00.001Z` (both bounds, inclusive start and exclusive end, stay exact). A leap
 * second (`:60`) is refused, as the clock route refuses it.
 */
export function parseInstant(value: string, field: string): number {
  const bad = (why: string) => badRequest(`${field} ${why}: expected an ISO 8601 UTC date-time such as 2026-12-03T12:00:00Z.`, 'invalid_request', field);
  const m = RFC3339.exec(value);
  if (!m) throw bad(`is not a date-time (${JSON.stringify(value.slice(0, 40))})`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (second === 60) throw bad('is a leap second, which is not an instant the mock can hold');
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) throw bad('is out of range');
  const date = new Date(Date.UTC(year, month - 1, day));
  date.setUTCFullYear(year); // Date.UTC maps years 0..99 to 1900..1999
  if (day < 1 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) throw bad('names a day that does not exist');
  const fraction = m[7] ?? '';
  let ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (/[1-9]/.test(fraction.slice(3))) ms += 1;
  const offsetMin = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (!m[8] && (Number(m[10]) > 23 || Number(m[11]) > 59)) throw bad('has an offset out of range');
  const t = date.getTime() + ((hour * 60 + minute - offsetMin) * 60 + second) * 1000 + ms;
  if (!Number.isFinite(t) || Math.abs(t) > MAX_INSTANT_MS) throw bad('is out of range');
  return t;
}

/** Sorted distinct values, or null for "no filter". */
function filterOf(values: readonly string[] | undefined): string[] | null {
  if (values === undefined) return null;
  return [...new Set(values)].sort();
}

const sameList = (a: readonly string[] | null, b: readonly string[] | null) =>
  a === b || (a !== null && b !== null && a.length === b.length && a.every((x, i) => x === b[i]));

/** The limit of a page: 100 by default, 1..1000. */
export function eventsLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_EVENTS_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS_LIMIT) {
    throw badRequest(`limit must be an integer from 1 to ${MAX_EVENTS_LIMIT}.`, 'invalid_request', 'limit');
  }
  return limit;
}

/**
 * Resolves a request into the query it stands for. Without a cursor: `start_time` is
 * required; `end_time`, when given, may not be before it; the window ends at `end_time`
 * or at now minus the holdback, whichever is earlier (the last minute is not queryable
 * yet, whatever the caller asks). With a cursor: the window and filters it pins, evaluated
 * once on the first page; parameters sent again must equal the pinned ones (a 400 naming
 * the one that differs), so a changed filter is never silently ignored.
 */
export function resolveEventsQuery(input: EventsQueryInput, ctx: EventsContext): EventsQuery {
  const limit = eventsLimit(input.limit);
  const apiKeys = filterOf(input.api_keys);
  const externalEntityIds = filterOf(input.external_entity_ids);
  const start = input.start_time === undefined ? undefined : parseInstant(input.start_time, 'start_time');
  const end = input.end_time === undefined ? undefined : parseInstant(input.end_time, 'end_time');

  if (input.cursor !== undefined) {
    const { window, after } = openEventsCursor(ctx.codec, input.cursor, ctx.scope);
    const pinned = (field: string, what: string) =>
      badRequest(`${field} differs from the ${what} the cursor pins: a cursor continues the query it came from; omit ${field}, or start a new query without cursor.`, 'cursor_mismatch', field);
    if (start !== undefined && start !== window.startMs) throw pinned('start_time', 'window');
    if (end !== undefined && end !== window.requestedEndMs) throw pinned('end_time', 'window');
    if (apiKeys !== null && !sameList(apiKeys, window.apiKeys)) throw pinned('api_keys', 'filter');
    if (externalEntityIds !== null && !sameList(externalEntityIds, window.externalEntityIds)) throw pinned('external_entity_ids', 'filter');
    return { window, after, limit };
  }

  if (start === undefined) throw badRequest('start_time is required unless cursor is given.', 'invalid_request', 'start_time');
  if (end !== undefined && end < start) throw badRequest('end_time must not be before start_time.', 'invalid_request', 'end_time');
  const horizon = ctx.now - ctx.holdbackMs;
  return {
    window: { startMs: start, endMs: Math.min(end ?? horizon, horizon), requestedEndMs: end ?? null, apiKeys, externalEntityIds },
    after: null,
    limit,
  };
}

/** The cursor of the page after `after`, pinning `window`. */
export function eventsCursor(codec: CursorCodec, scope: string, window: EventWindow, after: EventPosition): string {
  return codec.seal(scope, {
    w: [window.startMs, window.endMs, window.requestedEndMs],
    k: window.apiKeys,
    e: window.externalEntityIds,
    a: [after.at, after.delivery, after.index],
  });
}

const isInstant = (x: unknown): x is number => Number.isSafeInteger(x) && Math.abs(x as number) <= MAX_INSTANT_MS;
const isStrings = (x: unknown): x is string[] | null => x === null || (Array.isArray(x) && x.every((v) => typeof v === 'string'));

/** The window and position an events cursor carries; 400 for anything else. */
export function openEventsCursor(codec: CursorCodec, cursor: string, scope: string): { window: EventWindow; after: EventPosition } {
  const state = codec.open(cursor, scope) as { w?: unknown; k?: unknown; e?: unknown; a?: unknown };
  const w = state?.w;
  const a = state?.a;
  if (
    !Array.isArray(w) || w.length !== 3 || !isInstant(w[0]) || !isInstant(w[1]) || !(w[2] === null || isInstant(w[2])) ||
    !isStrings(state.k) || !isStrings(state.e) ||
    !Array.isArray(a) || a.length !== 3 || !isInstant(a[0]) || typeof a[1] !== 'string' || !Number.isSafeInteger(a[2])
  ) {
    throw invalidCursor();
  }
  return {
    window: { startMs: w[0], endMs: w[1], requestedEndMs: w[2], apiKeys: state.k, externalEntityIds: state.e },
    after: { at: a[0], delivery: a[1], index: a[2] },
  };
}

/** Where to start reading the store's events, ascending by time. */
export const readFrom = (q: EventsQuery): number => (q.after ? Math.max(q.after.at, q.window.startMs) : q.window.startMs);

/**
 * One page of `workspaceId`'s events in the query's window and filters, from `refs`, the
 * store's events in ascending time (it may start early: earlier ones are skipped) and, for
 * equal times, in the order they were recorded. After a cursor's position, the page goes
 * on with the event recorded after it; if that event has left the bounded store since,
 * the events at its instant that are still kept all came after it (the store drops the
 * oldest first), so they are the continuation.
 */
export function selectEvents<R extends EventRef>(refs: Iterable<R>, q: EventsQuery, workspaceId: string): { items: R[]; hasMore: boolean } {
  const { startMs, endMs } = q.window;
  const keys = q.window.apiKeys && new Set(q.window.apiKeys);
  const entities = q.window.externalEntityIds && new Set(q.window.externalEntityIds);
  const after = q.after;
  const items: R[] = [];
  let hasMore = false;
  /** Whether `r` is in the page; false once the page is full (and more is known to follow). */
  const take = (r: R): boolean => {
    if (r.workspaceId !== workspaceId || (keys && !keys.has(r.apiKeyPrefix)) || (entities && !entities.has(r.externalEntityId))) return true;
    if (items.length === q.limit) {
      hasMore = true;
      return false;
    }
    items.push(r);
    return true;
  };
  let seeking = after !== null;
  let sameInstant: R[] = [];
  const resume = (): boolean => {
    // The position's event is gone: what is left at its instant came after it.
    seeking = false;
    const held = sameInstant;
    sameInstant = [];
    return held.every(take);
  };
  for (const r of refs) {
    if (r.at < startMs) continue;
    if (r.at >= endMs) break;
    if (seeking && after) {
      if (r.at < after.at) continue;
      if (r.at === after.at) {
        if (r.delivery === after.delivery && r.index === after.index) {
          seeking = false;
          sameInstant = [];
        } else {
          sameInstant.push(r);
        }
        continue;
      }
      if (!resume()) break;
    }
    if (!take(r)) break;
  }
  if (seeking && !hasMore) resume();
  return { items, hasMore };
}

/** The position of an event, for the next page's cursor. */
export const positionOf = (r: EventRef): EventPosition => ({ at: r.at, delivery: r.delivery, index: r.index });

/** A webhook event as the events API returns it: the same fields and values, without `requestMetadata`. */
export function fetchedEvent(e: BillingEvent): FetchedBillingEvent {
  const { requestMetadata: _dropped, ...rest } = e;
  return rest;
}

/** The window as the response states it. */
export function windowView(w: EventWindow): { start_time: string; end_time: string } {
  return { start_time: rfc3339Millis(w.startMs), end_time: rfc3339Millis(Math.max(w.startMs, w.endMs)) };
}
