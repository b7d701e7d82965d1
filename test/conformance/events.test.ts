import request from 'supertest';
import { describe, expect } from 'vitest';
import { isRfc3339Utc } from './support/documented.js';
import { mockRule, model, rule, type Harness, type Res } from './support/harness.js';

/**
 * The billing events API, GET /v1/gateway/events. The events of a request become
 * queryable within about a minute: on a target with a test clock the suite moves it;
 * elsewhere it polls (at most 150 s, once per file: the events are made once and shared
 * by the rules below). The response envelope is not in the published page, so on other
 * targets the suite reads the events from `items`, `events` or `data` and the next cursor
 * from `pagination.cursor`, `next_cursor` or `cursor`; the mock's own envelope is a mock choice.
 */

const WAIT_MS = 150_000;
const TIMEOUT = { timeout: WAIT_MS + 90_000 };
const hello = [{ role: 'user' as const, content: 'Bill this' }];

interface Page {
  events: any[];
  hasMore: boolean;
  cursor: string | null;
}

/** The events and the next page of a 200, whatever documented-looking envelope the target uses. */
function pageOf(res: Res): Page {
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  const b = res.body;
  const events = Array.isArray(b) ? b : (b?.items ?? b?.events ?? b?.data?.events ?? b?.data);
  expect(Array.isArray(events), `no list of events in ${res.text.slice(0, 300)}`).toBe(true);
  const cursor = b?.pagination?.cursor ?? b?.next_cursor ?? b?.cursor ?? null;
  const hasMore = b?.pagination?.has_more ?? b?.has_more ?? cursor !== null;
  return { events, hasMore: hasMore === true && typeof cursor === 'string', cursor: typeof cursor === 'string' ? cursor : null };
}

/** A query string with repeated parameters as given. */
const qs = (params: [string, string | number][]) => params.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
const get = (h: Harness, params: [string, string | number][], key?: string) =>
  h.api.get(`/v1/gateway/events?${qs(params)}`, key === undefined ? {} : { key });

/** Every event of a query, following cursors (given only the cursor, as the docs allow), at most `pages` pages. */
async function drain(h: Harness, params: [string, string | number][], limit: number, between?: () => Promise<void>, pages = 50): Promise<any[]> {
  const out: any[] = [];
  let page = pageOf(await get(h, [...params, ['limit', limit]]));
  out.push(...page.events);
  for (let i = 0; page.hasMore && i < pages; i++) {
    expect(page.events.length, 'a page is never longer than limit').toBeLessThanOrEqual(limit);
    await between?.();
    page = pageOf(await get(h, [['cursor', page.cursor as string], ['limit', limit]]));
    out.push(...page.events);
  }
  expect(page.hasMore, 'the pages end').toBe(false);
  return out;
}

/** The target's time: the mock's clock where there is one, else this machine's. */
async function targetNow(h: Harness): Promise<number> {
  if (!h.t.capabilities.has('clock')) return Date.now();
  return Date.parse((await request(h.api.baseUrl).get('/_mock/clock')).body.now);
}

interface Made {
  /** Well before the events (10 minutes). */
  start: string;
  a: { prefix: string; group: any };
  b: { prefix: string; group: any };
  /** Request ids of the completions (when the target sends X-Request-Id), in order. */
  requestIds: (string | undefined)[];
  /** The four events of a and b, as fetched, once all are queryable. */
  events: any[];
}

let made: Promise<Made> | undefined;

/** Two groups with a key each, four billed completions with metadata, and their events once queryable. Once per file. */
function events(h: Harness): Promise<Made> {
  made ??= (async () => {
    const start = new Date((await targetNow(h)) - 600_000).toISOString();
    const keyed = async () => {
      const group = await h.group({ models: [model(h.slug())] });
      const key = await h.key(group.id);
      return { group, prefix: key.prefix, apiKey: key.api_key };
    };
    const a = await keyed();
    const b = await keyed();
    const requestIds: (string | undefined)[] = [];
    for (const [k, text] of [[a, 'one'], [b, 'two'], [a, 'three'], [b, 'four']] as const) {
      const res = await h.inference.post('/v1/chat/completions', { model: h.slug(), messages: hello, metadata: { order: text } }, { key: k.apiKey });
      expect(res.status, res.text).toBe(200);
      requestIds.push(res.headers['x-request-id']);
    }
    const query: [string, string][] = [['start_time', start], ['api_keys', a.prefix], ['api_keys', b.prefix]];
    let found: any[] = [];
    if (h.t.capabilities.has('clock')) {
      await h.advanceClock(90);
      found = await drain(h, query, 1000);
    } else {
      // "Events become queryable within about a minute of the request."
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        found = await drain(h, query, 1000);
        if (found.length >= 4 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    expect(found, `all four events queryable within ${WAIT_MS / 1000} s`).toHaveLength(4);
    return { start, a, b, requestIds, events: found };
  })();
  return made;
}

const keysOf = (events: any[]) => events.map((e) => e.idempotencyKey);

describe('Billing events API: GET /v1/gateway/events', () => {
  rule("a request's event becomes queryable within about a minute, with every documented field and no requestMetadata", ['inference'], async (h) => {
    const { events: found, a, b } = await events(h);
    for (const e of found) {
      expect(typeof e.idempotencyKey).toBe('string');
      // "timestamp (ISO 8601 UTC)".
      expect(isRfc3339Utc(e.timestamp), `timestamp ${e.timestamp} is UTC`).toBe(true);
      expect(typeof e.requestId).toBe('string');
      expect(e.modelSlug).toBe(h.slug());
      for (const n of ['inputTokens', 'outputTokens', 'cachedInputTokens']) expect(Number.isInteger(e.tokens?.[n]), `tokens.${n}`).toBe(true);
      expect('requestMetadata' in e, `fetched events do not include requestMetadata: ${JSON.stringify(e)}`).toBe(false);
    }
    h.sameSet(
      found.map((e) => ({ apiKeyPrefix: e.apiKeyPrefix, externalEntityId: e.externalEntityId })),
      [a, b, a, b].map((k) => ({ apiKeyPrefix: k.prefix, externalEntityId: k.group.metadata.external_entity_id })),
    );
    expect(new Set(keysOf(found)).size).toBe(4);
  }, TIMEOUT);

  rule('events come back in ascending timestamp order', ['inference'], async (h) => {
    const { events: found } = await events(h);
    const times = found.map((e) => Date.parse(e.timestamp));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    h.expectOrObserve(
      found.map((e) => e.requestId).join() === (await events(h)).requestIds.join(),
      'events of requests made one after another come back in the order of the requests',
    );
  }, TIMEOUT);

  rule('the events are the webhooks’ own: the same idempotencyKey and values', ['inference', 'webhook-inbox'], async (h) => {
    const { events: found } = await events(h);
    const log = (await request(h.api.baseUrl).get('/_mock/webhooks')).body.deliveries as any[];
    const sent = new Map(log.flatMap((d) => d.payload.data.events).map((e: any) => [e.idempotencyKey, e]));
    for (const e of found) {
      const hook = sent.get(e.idempotencyKey);
      expect(hook, `a webhook carried ${e.idempotencyKey}`).toBeDefined();
      const { requestMetadata, ...rest } = hook;
      expect(requestMetadata, 'the webhook carries the metadata').toEqual({ order: expect.any(String) });
      expect(e).toEqual(rest);
    }
  }, TIMEOUT);

  rule('start_time is inclusive and end_time exclusive', ['inference'], async (h) => {
    const { events: found, a, b } = await events(h);
    const keys: [string, string][] = [['api_keys', a.prefix], ['api_keys', b.prefix]];
    const distinct = found.filter((e, i) => i === 0 || Date.parse(e.timestamp) > Date.parse(found[i - 1].timestamp));
    expect(distinct.length, 'two events at different instants').toBeGreaterThanOrEqual(2);
    const pivot = distinct[1];
    const from = await drain(h, [['start_time', pivot.timestamp], ...keys], 100);
    expect(from[0]?.idempotencyKey, 'the event at start_time is included').toBe(pivot.idempotencyKey);
    const before = await drain(h, [['start_time', found[0].timestamp], ['end_time', pivot.timestamp], ...keys], 100);
    expect(keysOf(before), 'the event at end_time is excluded').not.toContain(pivot.idempotencyKey);
    expect(keysOf(before)).toContain(found[0].idempotencyKey);
    expect(keysOf(before).length + keysOf(from).length).toBe(found.length);
  }, TIMEOUT);

  rule('api_keys, repeated once per key prefix, keeps only those keys’ events', ['inference'], async (h) => {
    const { events: found, start, a, b } = await events(h);
    const only = await drain(h, [['start_time', start], ['api_keys', a.prefix]], 100);
    expect(keysOf(only)).toEqual(keysOf(found.filter((e) => e.apiKeyPrefix === a.prefix)));
    const both = await drain(h, [['start_time', start], ['api_keys', b.prefix], ['api_keys', a.prefix]], 100);
    expect(keysOf(both)).toEqual(keysOf(found));
  }, TIMEOUT);

  rule('the cursor pins the window: pages continue inside it, given only the cursor, each event once', ['inference'], async (h) => {
    const { events: found, start, a, b } = await events(h);
    const extra = await h.key((await h.group({ models: [model(h.slug())] })).id);
    const seen = await drain(h, [['start_time', start], ['api_keys', a.prefix], ['api_keys', b.prefix], ['api_keys', extra.prefix]], 1, async () => {
      // New traffic while paging: after the window's end, so never in it.
      await h.inference.post('/v1/chat/completions', { model: h.slug(), messages: hello }, { key: extra.api_key });
      if (h.t.capabilities.has('clock')) await h.advanceClock(120);
    });
    expect(keysOf(seen)).toEqual(keysOf(found));
  }, TIMEOUT);

  rule('limit: 1 and 1000 are accepted and a page never holds more than limit', ['inference'], async (h) => {
    const { start, a, b } = await events(h);
    const keys: [string, string][] = [['api_keys', a.prefix], ['api_keys', b.prefix]];
    expect(pageOf(await get(h, [['start_time', start], ...keys, ['limit', 1]])).events).toHaveLength(1);
    expect(pageOf(await get(h, [['start_time', start], ...keys, ['limit', 1000]])).events.length).toBeLessThanOrEqual(1000);
  }, TIMEOUT);

  rule('start_time is required unless cursor is given (400 on the mock)', [], async (h) => {
    h.expectRefused(await get(h, []), 400, 'no start_time and no cursor');
  });

  rule('a view-scope key is refused (403): the route needs management scope', ['view-key'], async (h) => {
    expect((await get(h, [['start_time', new Date(Date.now() - 3_600_000).toISOString()]], h.t.keys.view)).status).toBe(403);
  });

  rule('a workspace that is not onboarded gets 403', ['not-onboarded'], async (h) => {
    expect((await get(h, [['start_time', new Date(Date.now() - 3_600_000).toISOString()]], h.t.keys.notOnboarded)).status).toBe(403);
  });

  rule('a federated key is refused: an operator endpoint, not an inference credential (401 on the mock)', [], async (h) => {
    const g = await h.group();
    const k = await h.key(g.id);
    const res = await get(h, [['start_time', new Date(Date.now() - 3_600_000).toISOString()]], k.api_key);
    h.expectRefused(res, 401, 'a federated key (AMBIGUITIES.md #83)');
    h.expectOrObserve(/operator endpoint/i.test(res.text), `the refusal does not say it is an operator endpoint: ${res.text.slice(0, 200)}`);
  });

  rule('another workspace does not see these events', ['inference', 'other-workspace'], async (h) => {
    const { start, a, b } = await events(h);
    const other = pageOf(await get(h, [['start_time', start], ['api_keys', a.prefix], ['api_keys', b.prefix]], h.t.keys.otherWorkspace));
    expect(other.events).toEqual([]);
  }, TIMEOUT);

  mockRule('the envelope is items, pagination {has_more, cursor} and the window read', 81, ['inference'], async (h) => {
    const { start, a } = await events(h);
    const res = await get(h, [['start_time', start], ['api_keys', a.prefix], ['limit', 1]]);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'pagination', 'window']);
    expect(res.body.pagination).toEqual({ has_more: true, cursor: expect.any(String) });
    expect(res.body.window.start_time).toBe(start);
  }, TIMEOUT);

  mockRule('the external-entity filter is external_entity_ids (repeated), also spelled external_entity_id', 82, ['inference'], async (h) => {
    const { events: found, start, a, b } = await events(h);
    const ext = (k: typeof a) => k.group.metadata.external_entity_id as string;
    expect(keysOf(await drain(h, [['start_time', start], ['external_entity_ids', ext(b)]], 100))).toEqual(keysOf(found.filter((e) => e.apiKeyPrefix === b.prefix)));
    expect(keysOf(await drain(h, [['start_time', start], ['external_entity_ids', ext(a)], ['external_entity_id', ext(b)]], 100))).toEqual(keysOf(found));
  }, TIMEOUT);

  mockRule('invalid times and limits are 400s; a parameter sent with a cursor must equal the pinned one', '73,75', ['inference'], async (h) => {
    const { start, a } = await events(h);
    for (const params of [
      [['start_time', 'yesterday']],
      [['start_time', start], ['end_time', new Date(Date.parse(start) - 1).toISOString()]],
      [['start_time', start], ['limit', 0]],
      [['start_time', start], ['limit', 1001]],
      [['cursor', 'garbage']],
    ] as [string, string | number][][]) {
      expect((await get(h, params)).status, qs(params)).toBe(400);
    }
    const first = pageOf(await get(h, [['start_time', start], ['api_keys', a.prefix], ['limit', 1]]));
    expect((await get(h, [['cursor', first.cursor as string], ['api_keys', 'sky_someotherkey0']])).status).toBe(400);
    expect((await get(h, [['cursor', first.cursor as string], ['api_keys', a.prefix], ['start_time', start]])).status).toBe(200);
  }, TIMEOUT);

  mockRule('end_time defaults to now minus a 60 s holdback, on the mock’s clock', 85, ['inference', 'clock'], async (h) => {
    await events(h);
    const now = await targetNow(h);
    const k = await h.key((await h.group({ models: [model(h.slug())] })).id);
    await h.inference.post('/v1/chat/completions', { model: h.slug(), messages: hello }, { key: k.api_key });
    const q: [string, string][] = [['start_time', new Date(now - 1000).toISOString()], ['api_keys', k.prefix]];
    expect(pageOf(await get(h, q)).events).toEqual([]);
    await h.advanceClock(59);
    expect(pageOf(await get(h, q)).events).toEqual([]);
    await h.advanceClock(2);
    expect(pageOf(await get(h, q)).events).toHaveLength(1);
  }, TIMEOUT);
});
