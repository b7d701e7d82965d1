import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EVENTS_HOLDBACK_SECONDS,
  eventsCursor,
  eventsLimit,
  fetchedEvent,
  openEventsCursor,
  parseInstant,
  positionOf,
  readFrom,
  resolveEventsQuery,
  selectEvents,
  windowView,
  type EventRef,
  type EventsContext,
  type EventsQuery,
  type EventsQueryInput,
} from '../../src/domain/events.js';
import { CursorCodec } from '../../src/domain/pagination.js';
import { billingEvent } from '../../src/domain/webhooks.js';
import { refusal } from '../support/refusal.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const codec = new CursorCodec();
const ctx = (over: Partial<EventsContext> = {}): EventsContext => ({ now: T0 + 3_600_000, holdbackMs: 60_000, codec, scope: 'events:ws', ...over });
const iso = (ms: number) => new Date(ms).toISOString();


let n = 0;
const ref = (at: number, over: Partial<EventRef> = {}): EventRef => ({ at, workspaceId: 'ws', apiKeyPrefix: 'k1', externalEntityId: 'e1', delivery: `d${++n}`, index: 0, ...over });
const names = (rs: EventRef[]) => rs.map((r) => r.delivery);

/** Drains `refs` with pages of `limit`, resolving each request as the service does. */
function drain(refs: EventRef[], input: EventsQueryInput, c = ctx(), between?: (page: number) => void): EventRef[] {
  const out: EventRef[] = [];
  let q = resolveEventsQuery(input, c);
  for (let page = 0; ; page++) {
    const all = refs.filter((r) => r.at >= readFrom(q));
    const { items, hasMore } = selectEvents(all, q, 'ws');
    out.push(...items);
    if (!hasMore) return out;
    const cursor = eventsCursor(codec, c.scope, q.window, positionOf(items[items.length - 1] as EventRef));
    between?.(page);
    q = resolveEventsQuery({ cursor, ...(input.limit ? { limit: input.limit } : {}) }, c);
  }
}

describe('parseInstant', () => {
  it('reads RFC 3339 date-times in UTC or with an offset, to the millisecond', () => {
    expect(parseInstant('2026-12-03T12:00:00Z', 'start_time')).toBe(T0);
    expect(parseInstant('2026-12-03t12:00:00z', 'start_time')).toBe(T0);
    expect(parseInstant('2026-12-03T13:30:00+01:30', 'start_time')).toBe(T0);
    expect(parseInstant('2026-12-03T12:00:00.25Z', 'start_time')).toBe(T0 + 250);
    expect(parseInstant('0001-01-01T00:00:00Z', 'x')).toBe(Date.parse('0001-01-01T00:00:00Z'));
  });

  it('rounds a sub-millisecond fraction up, so both bounds stay exact for events stamped to the millisecond', () => {
    expect(parseInstant('2026-12-03T12:00:00.0001Z', 'start_time')).toBe(T0 + 1);
    expect(parseInstant('2026-12-03T12:00:00.1230000Z', 'start_time')).toBe(T0 + 123);
    expect(parseInstant('2026-12-03T12:00:00.1231Z', 'end_time')).toBe(T0 + 124);
  });

  it.each([
    ['yesterday', /is not a date-time/],
    ['2026-12-03', /is not a date-time/],
    ['2026-12-03T12:00:00', /is not a date-time/],
    ['2026-12-31T23:59:60Z', /leap second/],
    ['2026-02-30T00:00:00Z', /does not exist/],
    ['2026-13-01T00:00:00Z', /out of range/],
    ['2026-12-03T24:00:00Z', /out of range/],
    ['2026-12-03T12:00:00+24:00', /offset out of range/],
  ])('refuses %s with a 400 naming the field', (value, why) => {
    const r = refusal(() => parseInstant(value, 'end_time'));
    expect(r.param).toBe('end_time');
    expect(r.message).toMatch(why);
    expect(r.message).toMatch(/^end_time /);
  });
});

describe('resolveEventsQuery: the window', () => {
  it('start_time is required unless cursor is given', () => {
    expect(refusal(() => resolveEventsQuery({}, ctx()))).toMatchObject({ param: 'start_time', message: 'start_time is required unless cursor is given.' });
  });

  it('end_time defaults to now minus the holdback (60 s by default), on the given clock', () => {
    expect(DEFAULT_EVENTS_HOLDBACK_SECONDS).toBe(60);
    const q = resolveEventsQuery({ start_time: iso(T0) }, ctx());
    expect(q.window).toEqual({ startMs: T0, endMs: T0 + 3_600_000 - 60_000, requestedEndMs: null, apiKeys: null, externalEntityIds: null });
    expect(resolveEventsQuery({ start_time: iso(T0) }, ctx({ holdbackMs: 0 })).window.endMs).toBe(T0 + 3_600_000);
  });

  it('an earlier end_time is kept; a later one is cut at the holdback (the last minute is never queryable yet)', () => {
    expect(resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0 + 1000) }, ctx()).window).toMatchObject({ endMs: T0 + 1000, requestedEndMs: T0 + 1000 });
    expect(resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0 + 7_200_000) }, ctx()).window).toMatchObject({ endMs: T0 + 3_540_000, requestedEndMs: T0 + 7_200_000 });
  });

  it('end_time before start_time is a 400 naming end_time; equal is an empty window', () => {
    expect(refusal(() => resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0 - 1) }, ctx())).param).toBe('end_time');
    const q = resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0) }, ctx());
    expect(selectEvents([ref(T0)], q, 'ws').items).toEqual([]);
  });

  it('limit: 100 by default, 1 to 1000, else a 400 naming limit', () => {
    expect(eventsLimit(undefined)).toBe(100);
    expect(eventsLimit(1)).toBe(1);
    expect(eventsLimit(1000)).toBe(1000);
    for (const bad of [0, 1001, 2.5, -1]) expect(refusal(() => eventsLimit(bad)).param).toBe('limit');
  });

  it('filters are kept sorted and distinct; none means every key and entity', () => {
    const q = resolveEventsQuery({ start_time: iso(T0), api_keys: ['b', 'a', 'b'], external_entity_ids: ['z'] }, ctx());
    expect(q.window).toMatchObject({ apiKeys: ['a', 'b'], externalEntityIds: ['z'] });
  });

  it('the window view states both bounds with milliseconds, never an end before the start', () => {
    expect(windowView({ startMs: T0, endMs: T0 + 5, requestedEndMs: null, apiKeys: null, externalEntityIds: null })).toEqual({ start_time: '2026-12-03T12:00:00.000Z', end_time: '2026-12-03T12:00:00.005Z' });
    expect(windowView({ startMs: T0, endMs: T0 - 5, requestedEndMs: null, apiKeys: null, externalEntityIds: null }).end_time).toBe('2026-12-03T12:00:00.000Z');
  });
});

describe('selectEvents', () => {
  it('start inclusive, end exclusive, ascending, only the workspace and its filters', () => {
    const refs = [
      ref(T0 - 1, { delivery: 'before' }),
      ref(T0, { delivery: 'at-start' }),
      ref(T0 + 1, { delivery: 'other-ws', workspaceId: 'ws2' }),
      ref(T0 + 2, { delivery: 'k2', apiKeyPrefix: 'k2' }),
      ref(T0 + 3, { delivery: 'e2', externalEntityId: 'e2' }),
      ref(T0 + 10, { delivery: 'at-end' }),
    ];
    const q = (input: EventsQueryInput) => resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0 + 10), ...input }, ctx());
    expect(names(selectEvents(refs, q({}), 'ws').items)).toEqual(['at-start', 'k2', 'e2']);
    expect(names(selectEvents(refs, q({ api_keys: ['k2'] }), 'ws').items)).toEqual(['k2']);
    expect(names(selectEvents(refs, q({ api_keys: ['k1', 'k2'] }), 'ws').items)).toEqual(['at-start', 'k2', 'e2']);
    expect(names(selectEvents(refs, q({ external_entity_ids: ['e2'] }), 'ws').items)).toEqual(['e2']);
    expect(names(selectEvents(refs, q({ api_keys: ['k2'], external_entity_ids: ['e2'] }), 'ws').items)).toEqual([]);
  });

  it('has_more is exact at the boundary', () => {
    const refs = [ref(T0), ref(T0 + 1)];
    const q = (limit: number): EventsQuery => resolveEventsQuery({ start_time: iso(T0), limit }, ctx());
    expect(selectEvents(refs, q(2), 'ws').hasMore).toBe(false);
    expect(selectEvents(refs, q(1), 'ws').hasMore).toBe(true);
  });

  it('pages through many events at the same millisecond without repeating or skipping one', () => {
    const refs = Array.from({ length: 25 }, (_, i) => ref(T0 + (i < 20 ? 0 : i)));
    expect(names(drain(refs, { start_time: iso(T0), limit: 3 }))).toEqual(names(refs));
  });

  it('the cursor pins the window: events recorded while paging (later, so outside it) never show up', () => {
    const refs = Array.from({ length: 10 }, (_, i) => ref(T0 + i * 1000));
    const c = ctx({ now: T0 + 10_000 + 60_000 });
    const out = drain(refs, { start_time: iso(T0), limit: 2 }, c, () => {
      c.now += 120_000;
      refs.push(ref(c.now - 100_000));
    });
    expect(names(out)).toEqual(names(refs.slice(0, 10)));
  });

  it("when the position's event has left the bounded log, the rest of its instant follows", () => {
    const refs = [ref(T0), ref(T0), ref(T0), ref(T0 + 1)];
    const q1 = resolveEventsQuery({ start_time: iso(T0), limit: 1 }, ctx());
    const first = selectEvents(refs, q1, 'ws');
    const cursor = eventsCursor(codec, 'events:ws', q1.window, positionOf(first.items[0] as EventRef));
    const rest = refs.slice(1);
    // The oldest goes, as the log drops it: the next page starts with what is left.
    expect(names(selectEvents(rest, resolveEventsQuery({ cursor, limit: 10 }, ctx()), 'ws').items)).toEqual(names(rest));
    // With it still there: after it.
    expect(names(selectEvents(refs, resolveEventsQuery({ cursor, limit: 10 }, ctx()), 'ws').items)).toEqual(names(rest));
  });
});

describe('the events cursor', () => {
  const first = resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0 + 5000), api_keys: ['k1'], external_entity_ids: ['e1'] }, ctx());
  const cursor = eventsCursor(codec, 'events:ws', first.window, { at: T0 + 1, delivery: 'd', index: 0 });

  it('carries window, filters and position: a request with only the cursor continues the same query', () => {
    const q = resolveEventsQuery({ cursor }, ctx({ now: T0 + 86_400_000 }));
    expect(q.window).toEqual(first.window);
    expect(q.after).toEqual({ at: T0 + 1, delivery: 'd', index: 0 });
    expect(openEventsCursor(codec, cursor, 'events:ws').window).toEqual(first.window);
  });

  it('accepts the same parameters sent again (the requested end_time, not the cut one) and refuses different ones, naming them', () => {
    const same = resolveEventsQuery({ cursor, start_time: iso(T0), end_time: iso(T0 + 5000), api_keys: ['k1', 'k1'], external_entity_ids: ['e1'] }, ctx());
    expect(same.window).toEqual(first.window);
    const far = resolveEventsQuery({ start_time: iso(T0), end_time: iso(T0 + 86_400_000) }, ctx());
    const farCursor = eventsCursor(codec, 'events:ws', far.window, { at: T0, delivery: 'd', index: 0 });
    expect(resolveEventsQuery({ cursor: farCursor, end_time: iso(T0 + 86_400_000) }, ctx()).window.endMs).toBe(far.window.endMs);
    for (const [input, field] of [
      [{ start_time: iso(T0 + 1) }, 'start_time'],
      [{ end_time: iso(T0 + 4000) }, 'end_time'],
      [{ api_keys: ['k2'] }, 'api_keys'],
      [{ api_keys: ['k1', 'k2'] }, 'api_keys'],
      [{ external_entity_ids: ['e2'] }, 'external_entity_ids'],
    ] as const) {
      const r = refusal(() => resolveEventsQuery({ cursor, ...input }, ctx()));
      expect(r.param).toBe(field);
      expect(r.message).toContain('the cursor pins');
    }
  });

  it('is refused when tampered with, made up, of another workspace or another list', () => {
    const other = new CursorCodec();
    for (const bad of [
      'garbage',
      `${cursor}x`,
      eventsCursor(codec, 'events:ws2', first.window, { at: T0, delivery: 'd', index: 0 }),
      eventsCursor(other, 'events:ws', first.window, { at: T0, delivery: 'd', index: 0 }),
      codec.encode('events:ws', 5),
      codec.seal('events:ws', { w: [T0, 'x', null], k: null, e: null, a: [T0, 'd', 0] }),
    ]) {
      expect(refusal(() => resolveEventsQuery({ cursor: bad }, ctx())).param, bad).toBe('cursor');
    }
  });
});

describe('fetchedEvent', () => {
  it('is the webhook event without requestMetadata, every other field and value the same', () => {
    const e = billingEvent({ requestId: 'r1', at: T0, requestMetadata: { order: 'o1' }, modelSlug: 'a/b', externalEntityId: 'e1', apiKeyPrefix: 'k1', promptTokens: 3, completionTokens: 4 });
    const { requestMetadata, ...rest } = e;
    expect(requestMetadata).toEqual({ order: 'o1' });
    expect(fetchedEvent(e)).toEqual(rest);
    expect('requestMetadata' in fetchedEvent(e)).toBe(false);
  });
});
