import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import type { StartOptions } from '../../src/index.js';
import { errorMessage } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';
import { receiverPerFile } from '../support/receiver.js';

/**
 * GET /v1/gateway/events on the mock: the webhooks' own events, held back for a minute on
 * the mock's clock (tests move it with POST /_mock/clock rather than sleeping), filtered,
 * paged with a cursor that pins the window, kept like the webhook log and with it in
 * snapshots and the state file.
 */

const MANAGEMENT = { Authorization: 'Api-Key mock-management-key' };
const mocks = mocksPerTest();
let checker: ContractChecker;
beforeAll(async () => {
  checker = await ContractChecker.load(true);
});

/** A mock with a group and key of `ext` in workspace-a; `chat()` makes one billed request. */
async function setup(options: StartOptions = {}) {
  const m = await mocks.start(options);
  const api = request(m.url);
  const keyed = async (ext: string, auth: Record<string, string> = MANAGEMENT) => {
    const g = await api.post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: ext }, models: [{ slug: 'your-org/m' }], hierarchy: {} });
    expect(g.status, g.text).toBe(200);
    const k = await api.post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
    return { groupId: g.body.id as string, apiKey: k.body.api_key as string, prefix: k.body.prefix as string };
  };
  const chat = async (apiKey: string, text = 'Bill me') => {
    const res = await api.post('/v1/chat/completions').set('Authorization', `Api-Key ${apiKey}`).send({ model: 'your-org/m', messages: [{ role: 'user', content: text }], metadata: { invoice: text } });
    expect(res.status, res.text).toBe(200);
    return res.headers['x-request-id'] as string;
  };
  /** GET /v1/gateway/events with `query` (a string keeps repeated parameters as written), held to the strict spec. */
  const events = async (query: string | Record<string, string | number>, auth: Record<string, string> = MANAGEMENT) => {
    const qs = typeof query === 'string' ? query : new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    const res = await api.get(`/v1/gateway/events${qs ? `?${qs}` : ''}`).set(auth);
    const problems = checker.check({ method: 'get', path: '/v1/gateway/events', status: res.status, contentType: res.headers['content-type'], body: res.body });
    expect(problems, res.text).toEqual([]);
    return res;
  };
  const advance = async (seconds: number) => expect((await api.post('/_mock/clock').send({ advance_seconds: seconds })).status).toBe(200);
  const now = () => m.mock.clock.now();
  return { m, api, keyed, chat, events, advance, now };
}

const iso = (ms: number) => new Date(ms).toISOString();
const keysOf = (res: { body: { items: { idempotencyKey: string }[] } }) => res.body.items.map((e) => e.idempotencyKey);
/** The events' request ids: which requests they are of (each request's X-Request-Id). */
const idsOf = (res: { body: { items: { requestId: string }[] } }) => res.body.items.map((e) => e.requestId);

describe('GET /v1/gateway/events: the webhooks’ own events', () => {
  const rx = receiverPerFile();

  it('are the very events the webhooks carried (same idempotencyKey and values), oldest first, without requestMetadata', async () => {
    const s = await setup({ webhook: { url: rx.url } });
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    for (const text of ['one', 'two', 'three']) await s.chat(apiKey, text);
    await s.m.mock.deliverer.idle();
    const delivered = rx.bodies.map((b) => JSON.parse(b).data.events[0]);
    expect(delivered.map((e) => e.requestMetadata)).toEqual([{ invoice: 'one' }, { invoice: 'two' }, { invoice: 'three' }]);
    await s.advance(61);
    const res = await s.events({ start_time: iso(start) });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items).toEqual(delivered.map(({ requestMetadata: _, ...rest }) => rest));
    expect(res.body.items.every((e: object) => !('requestMetadata' in e))).toBe(true);
    const times = res.body.items.map((e: { timestamp: string }) => Date.parse(e.timestamp));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(res.body.pagination).toEqual({ has_more: false, cursor: null });
    expect(res.body.window.start_time).toBe(iso(start));
    const end = Date.parse(res.body.window.end_time);
    expect(end).toBeLessThanOrEqual(s.now() - 60_000);
    expect(end).toBeGreaterThan(s.now() - 60_000 - 5_000);
  });

  it('come from the webhook log also without a receiver (state no_receiver)', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    const requestId = await s.chat(apiKey);
    await s.advance(61);
    const logged = (await s.api.get('/_mock/webhooks')).body.deliveries;
    expect(logged.map((d: { state: string }) => d.state)).toEqual(['no_receiver']);
    expect(keysOf(await s.events({ start_time: iso(start) }))).toEqual([logged[0].payload.data.events[0].idempotencyKey]);
    expect(logged[0].payload.data.events[0].requestId).toBe(requestId);
  });
});

describe('the window', () => {
  it('holds back the last minute on the mock’s clock: an event shows once the clock has moved past it', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    await s.chat(apiKey);
    expect((await s.events({ start_time: iso(start) })).body.items).toEqual([]);
    await s.advance(30);
    expect((await s.events({ start_time: iso(start) })).body.items).toEqual([]);
    await s.advance(31);
    expect((await s.events({ start_time: iso(start) })).body.items).toHaveLength(1);
  });

  it('the holdback is configurable (events.holdbackSeconds, --events-holdback-seconds)', async () => {
    const s = await setup({ events: { holdbackSeconds: 5 } });
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    await s.chat(apiKey);
    await s.advance(6);
    expect((await s.events({ start_time: iso(start) })).body.items).toHaveLength(1);
    expect(Date.parse((await s.events({ start_time: iso(start) })).body.window.end_time)).toBeGreaterThanOrEqual(s.now() - 5_000 - 1_000);
  });

  it('start_time is inclusive and end_time exclusive, to the millisecond of an event', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    await s.chat(apiKey, 'a');
    await s.advance(2);
    await s.chat(apiKey, 'b');
    await s.advance(61);
    const all = (await s.events({ start_time: iso(start) })).body.items;
    expect(all).toHaveLength(2);
    const [a, b] = all.map((e: { timestamp: string }) => e.timestamp);
    expect(keysOf(await s.events({ start_time: a, end_time: b }))).toEqual([all[0].idempotencyKey]);
    expect(keysOf(await s.events({ start_time: b }))).toEqual([all[1].idempotencyKey]);
    expect(keysOf(await s.events({ start_time: iso(Date.parse(b) + 1) }))).toEqual([]);
    expect(keysOf(await s.events({ start_time: a, end_time: iso(Date.parse(b) + 1) }))).toHaveLength(2);
    // A later end_time than now minus the holdback is cut there.
    await s.chat(apiKey, 'c');
    expect(keysOf(await s.events({ start_time: a, end_time: iso(s.now() + 3_600_000) }))).toHaveLength(2);
  });

  it('invalid times and limits are 400s naming the field; start_time is required unless cursor is given', async () => {
    const s = await setup();
    const t = iso(s.now() - 3_600_000);
    for (const [query, field] of [
      ['', 'start_time'],
      ['start_time=yesterday', 'start_time'],
      ['start_time=2026-12-03', 'start_time'],
      ['start_time=2026-12-31T23:59:60Z', 'start_time'],
      [`start_time=${t}&end_time=not-a-time`, 'end_time'],
      [`start_time=${t}&end_time=${iso(Date.parse(t) - 1)}`, 'end_time'],
      [`start_time=${t}&limit=0`, 'limit'],
      [`start_time=${t}&limit=1001`, 'limit'],
      [`start_time=${t}&limit=ten`, 'limit'],
      ['cursor=garbage', 'cursor'],
    ] as const) {
      const res = await s.events(query);
      expect(res.status, query).toBe(400);
      expect(errorMessage(res.body), query).toMatch(new RegExp(`^${field}\\b`));
    }
    for (const limit of [1, 1000]) expect((await s.events({ start_time: t, limit })).status).toBe(200);
  });
});

describe('filters', () => {
  it('api_keys (repeated, or once) and external entity ids (external_entity_ids, or external_entity_id) keep only theirs; another workspace sees none', async () => {
    const s = await setup();
    const a = await s.keyed('cust-a');
    const b = await s.keyed('cust-b');
    const c = await s.keyed('cust-c');
    const start = s.now();
    const ids: Record<string, string> = {};
    for (const [name, k] of Object.entries({ a, b, c })) ids[name] = await s.chat(k.apiKey);
    await s.advance(61);
    const t = `start_time=${encodeURIComponent(iso(start))}`;
    const got = async (q: string) => idsOf(await s.events(`${t}&${q}`)).sort();
    expect(await got('limit=100')).toEqual([ids.a, ids.b, ids.c].sort());
    expect(await got(`api_keys=${a.prefix}`)).toEqual([ids.a]);
    expect(await got(`api_keys=${a.prefix}&api_keys=${c.prefix}`)).toEqual([ids.a, ids.c].sort());
    expect(await got('api_keys=sky_nosuchkey00000')).toEqual([]);
    expect(await got('external_entity_ids=cust-b')).toEqual([ids.b]);
    expect(await got('external_entity_ids=cust-b&external_entity_ids=cust-c')).toEqual([ids.b, ids.c].sort());
    expect(await got('external_entity_id=cust-b&external_entity_ids=cust-c')).toEqual([ids.b, ids.c].sort());
    expect(await got('external_entity_id=cust-a')).toEqual([ids.a]);
    expect(await got(`api_keys=${a.prefix}&external_entity_ids=cust-b`)).toEqual([]);
    const other = await s.events({ start_time: iso(start) }, { Authorization: 'Api-Key mock-other-workspace-key' });
    expect(other.body.items).toEqual([]);
  });
});

describe('paging', () => {
  it('the cursor pins the window and filters: events arriving meanwhile wait for the next query', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    const first: string[] = [];
    for (let i = 0; i < 5; i++) first.push(await s.chat(apiKey, `m${i}`));
    await s.advance(61);
    const seen: string[] = [];
    let res = await s.events({ start_time: iso(start), limit: 2 });
    const window = res.body.window;
    seen.push(...idsOf(res));
    let later = 0;
    while (res.body.pagination.has_more) {
      later += 1;
      // New traffic, and time for it to pass the holdback: not in this query's window.
      await s.chat(apiKey, 'later');
      await s.advance(120);
      res = await s.events({ cursor: res.body.pagination.cursor, limit: 2 });
      expect(res.status, res.text).toBe(200);
      expect(res.body.window).toEqual(window);
      seen.push(...idsOf(res));
    }
    expect(seen).toEqual(first);
    expect(res.body.pagination.cursor).toBeNull();
    // A new query from the same start sees them all.
    expect(later).toBe(2);
    expect(keysOf(await s.events({ start_time: iso(start), limit: 1000 }))).toHaveLength(first.length + later);
  });

  it('parameters sent again with the cursor must equal the pinned ones; a cursor of another workspace is refused', async () => {
    const s = await setup();
    const { apiKey, prefix } = await s.keyed('cust-1');
    const start = iso(s.now());
    for (let i = 0; i < 3; i++) await s.chat(apiKey);
    await s.advance(61);
    const page = await s.events(`start_time=${encodeURIComponent(start)}&api_keys=${prefix}&limit=1`);
    const cursor = encodeURIComponent(page.body.pagination.cursor);
    expect((await s.events(`cursor=${cursor}&start_time=${encodeURIComponent(start)}&api_keys=${prefix}`)).status).toBe(200);
    for (const [query, field] of [
      [`cursor=${cursor}&start_time=${encodeURIComponent(iso(Date.parse(start) + 1))}`, 'start_time'],
      [`cursor=${cursor}&api_keys=sky_otherkey000000`, 'api_keys'],
      [`cursor=${cursor}&external_entity_ids=cust-2`, 'external_entity_ids'],
    ] as const) {
      const res = await s.events(query);
      expect(res.status).toBe(400);
      expect(errorMessage(res.body)).toMatch(new RegExp(`^${field} differs from the .* the cursor pins`));
    }
    const other = await s.events(`cursor=${cursor}`, { Authorization: 'Api-Key mock-other-workspace-key' });
    expect(other.status).toBe(400);
    expect(errorMessage(other.body)).toMatch(/^cursor is invalid/);
  });

  it('limit defaults to 100', async () => {
    const s = await setup({ webhook: { maxLog: 200 } });
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    for (let i = 0; i < 101; i++) await s.chat(apiKey);
    await s.advance(61);
    const res = await s.events({ start_time: iso(start) });
    expect(res.body.items).toHaveLength(100);
    expect(res.body.pagination.has_more).toBe(true);
    expect((await s.events({ cursor: res.body.pagination.cursor })).body.items).toHaveLength(1);
  });
});

describe('who may call it', () => {
  it('management scope only; a federated key is refused as an operator endpoint; the usual 401s and 403s', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const q = { start_time: iso(s.now() - 60_000) };
    expect((await s.events(q)).status).toBe(200);
    expect((await s.events(q, { Authorization: 'Bearer mock-management-key' })).status).toBe(200);
    const view = await s.events(q, { Authorization: 'Api-Key mock-view-key' });
    expect(view.status).toBe(403);
    expect(errorMessage(view.body)).toMatch(/management scope/);
    for (const scheme of ['Api-Key', 'Bearer']) {
      const federated = await s.events(q, { Authorization: `${scheme} ${apiKey}` });
      expect(federated.status).toBe(401);
      expect(errorMessage(federated.body)).toMatch(/^This is an operator endpoint, not an inference credential/);
    }
    expect((await s.events(q, {})).status).toBe(401);
    expect(errorMessage((await s.events(q, { Authorization: 'Api-Key nope' })).body)).toBe('Invalid API key.');
    expect((await s.events(q, { Authorization: 'Api-Key mock-not-onboarded-key' })).status).toBe(403);
  });
});

describe('kept like the webhook log', () => {
  it('retention is the log’s bound: only the deliveries it still keeps are served', async () => {
    const s = await setup({ webhook: { maxLog: 3 } });
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    const all: string[] = [];
    for (let i = 0; i < 5; i++) all.push(await s.chat(apiKey));
    await s.advance(61);
    expect(idsOf(await s.events({ start_time: iso(start) }))).toEqual(all.slice(2));
  });

  it('a snapshot holds them (a cursor issued before it keeps working after a restore); reset empties them', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const start = s.now();
    for (let i = 0; i < 3; i++) await s.chat(apiKey);
    await s.advance(61);
    const before = await s.events({ start_time: iso(start), limit: 1 });
    const saved = (await s.api.get('/_mock/snapshot')).body;
    await s.chat(apiKey);
    await s.advance(61);
    expect(keysOf(await s.events({ start_time: iso(start) }))).toHaveLength(4);
    expect((await s.api.post('/_mock/snapshot').send(saved)).status).toBe(200);
    const all = await s.events({ start_time: iso(start) });
    expect(keysOf(all)).toHaveLength(3);
    expect(keysOf(await s.events({ cursor: before.body.pagination.cursor }))).toEqual(keysOf(all).slice(1));
    expect((await s.api.post('/_mock/reset')).status).toBe(200);
    expect((await s.events({ start_time: iso(start) })).body.items).toEqual([]);
  });

  it('the state file keeps them across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-events-'));
    try {
      const stateFile = join(dir, 'state.json');
      const s = await setup({ stateFile });
      const { apiKey } = await s.keyed('cust-1');
      const start = s.now();
      const id = await s.chat(apiKey);
      await s.advance(61);
      const stop = async (m: typeof s.m) => {
        mocks.running.splice(mocks.running.indexOf(m), 1);
        await m.close();
      };
      await stop(s.m);
      const again = await setup({ stateFile });
      expect(idsOf(await again.events({ start_time: iso(start) }))).toEqual([id]);
      await stop(again.m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the inspector shows how many events are kept, their span, and up to where they are queryable', async () => {
    const s = await setup();
    const { apiKey } = await s.keyed('cust-1');
    const empty = (await s.api.get('/_mock/inspector.json')).body.events;
    expect(empty).toMatchObject({ retained: 0, oldest: null, newest: null, holdback_seconds: 60, held_back: 0 });
    await s.chat(apiKey);
    await s.chat(apiKey);
    const res = await s.api.get('/_mock/inspector.json');
    expect(checker.check({ method: 'get', path: '/_mock/inspector.json', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
    expect(res.body.events).toMatchObject({ retained: 2, held_back: 2 });
    expect(Date.parse(res.body.events.queryable_until)).toBeLessThanOrEqual(s.now() - 60_000);
    await s.advance(61);
    expect((await s.api.get('/_mock/inspector.json')).body.events).toMatchObject({ retained: 2, held_back: 0 });
    const page = await s.api.get('/_mock/');
    expect(page.text).toContain('GET /v1/gateway/events');
  });
});
