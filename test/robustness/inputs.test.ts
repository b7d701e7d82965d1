import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInstantError, MAX_INSTANT_MS, OffsetClock } from '../../src/domain/clock.js';
import { MAX_COMPLETION_TOKENS, MAX_METADATA_BYTES, MAX_METADATA_DEPTH } from '../../src/domain/inference.js';
import type { RunningMock } from '../../src/index.js';
import { mocksPerTest } from '../support/mocks.js';
import { errorOf } from '../support/errors.js';

/** Hostile and oversized inputs against a real server: every bound answers a clear 4xx, never a crash. */

const auth = { Authorization: 'Api-Key mock-management-key' };
const { start: mock } = mocksPerTest();
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => (s.closeAllConnections(), s.close(r)));
});
async function keyFor(m: RunningMock, models: unknown[] = [{ slug: 'a/b' }]) {
  const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: `e-${Math.random()}` }, models, hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } });
  expect(g.status, g.text).toBe(200);
  const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
  return { group: g.body, key: k.body.api_key as string };
}
const nested = (levels: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
};
/** JSON text nested `levels` deep, built as text (JSON.stringify would recurse). */
const nestedText = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('1. the clock refuses times that are no instant', () => {
  it('a leap second is a 400 naming now, and the mock keeps working (creates included)', async () => {
    const m = await mock();
    const res = await request(m.url).post('/_mock/clock').send({ now: '2030-06-30T23:59:60Z' });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('now');
    expect(errorOf(res).message).toContain('2030-06-30T23:59:60Z');
    expect((await request(m.url).get('/_mock/clock')).status).toBe(200);
    const created = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'after-leap' }, models: [{ slug: 'a/b' }], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } });
    expect(created.status).toBe(200);
  });

  it('the clock itself refuses NaN and times past the representable range', () => {
    expect(() => new OffsetClock().setNow(Number.NaN)).toThrow(InvalidInstantError);
    const nearEnd = new OffsetClock({ now: () => MAX_INSTANT_MS - 1000 });
    expect(() => nearEnd.advance(2000)).toThrow(InvalidInstantError);
    expect(() => nearEnd.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(nearEnd.now()).toBe(MAX_INSTANT_MS - 1000);
  });
});

describe('the clock ends where RFC 3339 does', () => {
  it('at 9999-12-31 the clock stops short of year 10000 with a 400, and snapshots and scenario loads still work (spec-fuzz found a 500)', async () => {
    const m = await mock();
    expect((await request(m.url).post('/_mock/clock').send({ now: '9999-12-31T23:59:00Z' })).status).toBe(200);
    const past = await request(m.url).post('/_mock/clock').send({ advance_seconds: 120 });
    expect(past.status).toBe(400);
    expect(errorOf(past).message).toContain('past the last time it can represent');
    expect((await request(m.url).post('/_mock/scenarios').send({})).status).toBe(200);
    const snapshot = await request(m.url).get('/_mock/snapshot');
    expect(snapshot.status).toBe(200);
    expect((await request(m.url).post('/_mock/snapshot').send(snapshot.body)).status).toBe(200);
    expect((await request(m.url).get('/_mock/clock')).body.now).toMatch(/^9999-12-31T23:59:/);
    // At the very last instant, with real time flowing past it, a scenario load (which forks
    // and adopts the state) and a snapshot round trip still work.
    expect((await request(m.url).post('/_mock/clock').send({ now: '9999-12-31T23:59:59.999Z' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    expect((await request(m.url).post('/_mock/scenarios').send({})).status).toBe(200);
    const last = await request(m.url).get('/_mock/snapshot');
    expect(last.body.clock.now_ms).toBe(MAX_INSTANT_MS);
    expect((await request(m.url).post('/_mock/snapshot').send(last.body)).status).toBe(200);
  });

  it('time flowing on from the very last instant stops there (a snapshot taken then is still valid)', () => {
    let real = 0;
    const clock = new OffsetClock({ now: () => real });
    clock.setNow(MAX_INSTANT_MS);
    real = 5_000;
    expect(clock.now()).toBe(MAX_INSTANT_MS);
  });
});

describe('8. plain messages and well-formed strings', () => {
  it('the clock route names advance_seconds and now', async () => {
    const m = await mock();
    const empty = await request(m.url).post('/_mock/clock').send({});
    expect(empty.status).toBe(400);
    expect(errorOf(empty).message).toBe('Provide advance_seconds or now.');
    const both = await request(m.url).post('/_mock/clock').send({ advance_seconds: 1, now: '2030-01-01T00:00:00Z' });
    expect(both.status).toBe(400);
    expect(errorOf(both).message).toContain('only one of advance_seconds or now');
  });

  it('a lone surrogate in external_entity_id is refused, so nothing is stored that cannot be found', async () => {
    const m = await mock();
    const res = await request(m.url)
      .post('/v1/gateway/groups')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"metadata":{"external_entity_id":"x\\ud800y"},"models":[{"slug":"a/b"}],"hierarchy":{"limit_enforcement":"INDEPENDENT","parent_group_id":null}}');
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('metadata.external_entity_id');
    expect(m.mock.store.allGroups().length).toBe(0);
  });
});

describe('3. chat metadata: size and depth limits, never charged when refused', () => {
  it('too deep or too large is a 400 naming metadata, and the daily limit is untouched', async () => {
    const m = await mock();
    const { key, group } = await keyFor(m, [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 2 }] }]);
    const chat = (text: string) =>
      request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).set('Content-Type', 'application/json').send(text);
    const deep = await chat(`{"model":"a/b","messages":[{"role":"user","content":"hi"}],"metadata":${nestedText(5000)}}`);
    expect(deep.status).toBe(400);
    expect(errorOf(deep).param).toBe('metadata');
    const justDeep = await chat(JSON.stringify({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }], metadata: nested(MAX_METADATA_DEPTH + 1) }));
    expect(justDeep.status).toBe(400);
    expect(errorOf(justDeep).param).toBe('metadata');
    const big = await chat(JSON.stringify({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }], metadata: { blob: 'x'.repeat(MAX_METADATA_BYTES) } }));
    expect(big.status).toBe(400);
    expect(errorOf(big).param).toBe('metadata');
    const usage = await request(m.url).get(`/v1/gateway/groups/${group.id}/usage`).set(auth);
    expect(usage.body.usage['a/b'][0].current_usage).toBeNull();
    const ok = await chat(JSON.stringify({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }], metadata: nested(MAX_METADATA_DEPTH) }));
    expect(ok.status).toBe(200);
    expect(m.mock.store.webhooks.view().deliveries).toHaveLength(1);
  });

  it('a 429 leaves no billing event and no charge on the other limits', async () => {
    const m = await mock();
    const { key } = await keyFor(m, [{ slug: 'a/b', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 1 }], usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 5 }] }]);
    const chat = () => request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }] });
    expect((await chat()).status).toBe(200);
    expect((await chat()).status).toBe(429);
    expect(m.mock.store.webhooks.view().deliveries).toHaveLength(1);
    expect(m.mock.meter.dailySnapshot(m.mock.clock.now())[0]?.used).toBe(1);
  });
});

describe('2 and 4. the webhook log is bounded by bytes and always listable', () => {
  it('retains at most the byte budget, dropping the oldest first', async () => {
    const m = await mock({ webhook: { maxLogBytes: 64 * 1024 } });
    const { key } = await keyFor(m);
    for (let i = 0; i < 20; i++) {
      const res = await request(m.url)
        .post('/v1/chat/completions')
        .set('Authorization', `Bearer ${key}`)
        .send({ model: 'a/b', messages: [{ role: 'user', content: `n${i}` }], metadata: { i, blob: 'x'.repeat(15_000) } });
      expect(res.status).toBe(200);
    }
    const list = await request(m.url).get('/_mock/webhooks');
    expect(list.status).toBe(200);
    const kept = list.body.deliveries.map((d: any) => d.payload.data.events[0].requestMetadata.i);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(5);
    expect(kept.at(-1)).toBe(19);
    expect(kept).toEqual([...kept].sort((a: number, b: number) => a - b));
  });

  it('metadata as deep as allowed is listed without error', async () => {
    const m = await mock();
    const { key } = await keyFor(m);
    const res = await request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }], metadata: nested(MAX_METADATA_DEPTH) });
    expect(res.status).toBe(200);
    const list = await request(m.url).get('/_mock/webhooks');
    expect(list.status).toBe(200);
    expect(list.body.deliveries[0].payload.data.events[0].requestMetadata).toEqual(nested(MAX_METADATA_DEPTH));
  });

  it('any request body nested past the body bound is a 400, not a 500', async () => {
    const m = await mock();
    const res = await request(m.url).post('/v1/gateway/groups').set(auth).set('Content-Type', 'application/json').send(`{"metadata":{"external_entity_id":"d","name":null},"models":[{"slug":"a/b"}],"hierarchy":{"limit_enforcement":"INDEPENDENT","parent_group_id":null},"x":${nestedText(3000)}}`);
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('x');
  });
});

describe('5. streaming is bounded', () => {
  it('a 1 MB prompt streams at most the maximum completion length', async () => {
    const m = await mock();
    const { key } = await keyFor(m);
    const prompt = 'w '.repeat(450_000);
    const res = await request(m.url)
      .post('/v1/chat/completions')
      .set('Authorization', `Bearer ${key}`)
      .send({ model: 'a/b', messages: [{ role: 'user', content: prompt }], stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const events = res.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const usage = JSON.parse((events.at(-2) as string).slice(6)).usage;
    expect(usage.completion_tokens).toBe(MAX_COMPLETION_TOKENS);
    expect(events.length).toBe(MAX_COMPLETION_TOKENS + 4);
    const finish = JSON.parse((events.at(-3) as string).slice(6));
    expect(finish.choices[0].finish_reason).toBe('length');
  });

  it('max_tokens above the maximum is a 400 naming the field, and not charged', async () => {
    const m = await mock();
    const { key } = await keyFor(m);
    const res = await request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }], max_tokens: MAX_COMPLETION_TOKENS + 1 });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('max_tokens');
    expect(m.mock.store.webhooks.view().deliveries).toHaveLength(0);
  });
});

describe('7. a large body that is not JSON', () => {
  it('gets its 400 after the upload, without EPIPE', async () => {
    const m = await mock();
    const size = 5 * 1024 * 1024;
    const outcome = await new Promise<{ text: string; sent: number; error: string | null }>((resolve) => {
      const socket = connect(m.port, '127.0.0.1');
      let text = '';
      let error: string | null = null;
      let sent = 0;
      socket.on('data', (c) => (text += c.toString()));
      socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
      socket.on('close', () => resolve({ text, sent, error }));
      socket.write(`POST /v1/gateway/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Api-Key mock-management-key\r\nContent-Type: text/plain\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let queued = 0;
      const pump = () => {
        while (queued < size && !socket.destroyed) {
          queued += chunk.length;
          const ok = socket.write(chunk, (err) => {
            if (!err) sent += chunk.length;
            if (!err && sent >= size) socket.end();
          });
          if (!ok) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    const answer = outcome.text;
    expect(outcome.error).toBeNull();
    expect(outcome.sent).toBe(size);
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('Content-Type: application/json');
  });
});

describe('6. outgoing webhook connections are bounded', () => {
  it('never more than maxConcurrent attempts in flight; the rest queue and are delivered', async () => {
    let open = 0;
    let peak = 0;
    const server = createServer((req, res) => {
      open += 1;
      peak = Math.max(peak, open);
      req.resume();
      setTimeout(() => {
        open -= 1;
        res.end();
      }, 30);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    const m = await mock({ webhook: { url, maxConcurrent: 3 } });
    const { key } = await keyFor(m);
    await Promise.all(
      Array.from({ length: 12 }, () => request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] })),
    );
    await m.mock.deliverer.idle();
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    expect(m.mock.store.webhooks.view().deliveries.every((d) => d.state === 'delivered')).toBe(true);
  });
});

describe('11. webhook failures are logged, one line each, without secrets', () => {
  it('logs each failed attempt and the dead-lettering, naming only the origin', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tok-123?sig=abc`;
    const lines: string[] = [];
    const m = await mock({ log: (l) => lines.push(l), webhook: { url, secret: 'whsec-do-not-log', policy: { initialBackoffMs: 10, maxBackoffMs: 20, maxElapsedMs: 400, attemptTimeoutMs: 200 } } });
    const { key } = await keyFor(m);
    await request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] });
    await m.mock.deliverer.idle();
    const hooks = lines.filter((l) => l.startsWith('webhook '));
    const attempts = m.mock.store.webhooks.view().dead_letter[0]?.attempts.length ?? 0;
    expect(attempts).toBeGreaterThan(1);
    expect(hooks.filter((l) => l.includes('failed (HTTP 503); retrying'))).toHaveLength(attempts - 1);
    expect(hooks.filter((l) => l.includes('dead-lettered'))).toHaveLength(1);
    const all = lines.join('\n');
    for (const secret of ['whsec-do-not-log', 'tok-123', 'sig=abc', key.split('.')[1] as string]) expect(all).not.toContain(secret);
  });
});
