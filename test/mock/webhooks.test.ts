import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadSpecs } from '../../src/http/spec.js';
import { newAjv } from '../../src/lib/ajv.js';
import { startMock, verifySignature, type RunningMock } from '../../src/index.js';

const SECRET = 'whsec-test';
const POLICY = { initialBackoffMs: 20, maxBackoffMs: 50, maxElapsedMs: 200, attemptTimeoutMs: 150 };

interface Received {
  body: string;
  headers: IncomingMessage['headers'];
  at: number;
}

/** A local receiver answering each delivery with the next scripted behaviour. */
async function receiver(script: (n: number) => number | 'hang' | Promise<number>) {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      received.push({ body, headers: req.headers, at: performance.now() });
      const step = script(received.length);
      if (step === 'hang') return;
      res.statusCode = await step;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return { url, received, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** For tests that hold a delivery open: no attempt times out or runs out of budget while the machine is slow. */
const PATIENT = { attemptTimeoutMs: 10_000, maxElapsedMs: 20_000 };

async function setup(script: Parameters<typeof receiver>[0], url?: string | null, policy: Partial<typeof POLICY> = {}) {
  const rx = await receiver(script);
  const running: RunningMock = await startMock({ webhook: { url: url === undefined ? rx.url : url, secret: SECRET, policy: { ...POLICY, ...policy } } });
  cleanups.push(rx.close, running.close);
  const api = request(running.url);
  const auth = { Authorization: 'Api-Key mock-management-key' };
  const g = await api.post('/v1/gateway/groups').set(auth).send({ hierarchy: {}, metadata: { external_entity_id: 'cust_42' }, models: [{ slug: 'acme/m' }] });
  const k = await api.post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
  const chat = () =>
    api
      .post('/v1/chat/completions')
      .set('Authorization', `Bearer ${k.body.api_key}`)
      .send({ model: 'acme/m', messages: [{ role: 'user', content: 'Bill me' }], metadata: { invoice: 'inv-1' } });
  return { rx, running, api, chat, prefix: k.body.prefix as string };
}

describe('billing webhooks to a receiver', () => {
  it('delivers one signed event per request that validates against the spec', async () => {
    const { rx, running, api, chat, prefix } = await setup(() => 200);
    const res = await chat();
    expect(res.status).toBe(200);
    await running.mock.deliverer.idle();
    expect(rx.received).toHaveLength(1);
    const [hit] = rx.received as [Received];
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['x-baseten-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifySignature(hit.body, hit.headers['x-baseten-signature'] as string, SECRET)).toBe(true);
    expect(verifySignature(hit.body, hit.headers['x-baseten-signature'] as string, 'wrong-secret')).toBe(false);
    expect(hit.headers['x-baseten-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const payload = JSON.parse(hit.body);
    const { gateway } = await loadSpecs(false);
    const schema = (gateway.webhooks?.billingUsage as any).post.requestBody.content['application/json'].schema;
    const validate = newAjv().compile(schema);
    expect(validate(payload), JSON.stringify(validate.errors)).toBe(true);
    expect(payload.data.events).toEqual([
      {
        idempotencyKey: `evt_${res.headers['x-request-id']}`,
        timestamp: expect.any(String),
        requestId: res.headers['x-request-id'],
        requestMetadata: { invoice: 'inv-1' },
        modelSlug: 'acme/m',
        externalEntityId: 'cust_42',
        externalCustomerId: 'cust_42',
        apiKeyPrefix: prefix,
        tokens: { inputTokens: res.body.usage.prompt_tokens, outputTokens: res.body.usage.completion_tokens, cachedInputTokens: 0 },
      },
    ]);

    const log = await api.get('/_mock/webhooks');
    expect(log.body.deliveries).toHaveLength(1);
    expect(log.body.deliveries[0]).toMatchObject({ id: hit.headers['x-baseten-request-id'], state: 'delivered', url: rx.url, attempts: [{ status: 200, error: null }] });
    expect(log.body.dead_letter).toEqual([]);
  });

  it('retries a 5xx with the same request id and body until it succeeds', async () => {
    const { rx, running, api, chat } = await setup((n) => (n < 3 ? 503 : 200));
    await chat();
    await running.mock.deliverer.idle();
    expect(rx.received).toHaveLength(3);
    expect(new Set(rx.received.map((r) => r.headers['x-baseten-request-id'])).size).toBe(1);
    expect(new Set(rx.received.map((r) => r.body)).size).toBe(1);
    // Backoff: at least 20 ms, then 40 ms.
    expect(rx.received[1]!.at - rx.received[0]!.at).toBeGreaterThanOrEqual(19);
    expect(rx.received[2]!.at - rx.received[1]!.at).toBeGreaterThanOrEqual(39);
    const d = (await api.get('/_mock/webhooks')).body.deliveries[0];
    expect(d.state).toBe('delivered');
    expect(d.attempts.map((a: any) => a.status)).toEqual([503, 503, 200]);
  });

  it('does not retry a 4xx: the delivery goes straight to the dead-letter queue', async () => {
    const { rx, running, api, chat } = await setup(() => 400);
    await chat();
    await running.mock.deliverer.idle();
    await new Promise((r) => setTimeout(r, POLICY.maxElapsedMs));
    expect(rx.received).toHaveLength(1);
    const log = (await api.get('/_mock/webhooks')).body;
    expect(log.deliveries[0].state).toBe('dead_lettered');
    expect(log.dead_letter.map((d: any) => d.id)).toEqual([log.deliveries[0].id]);
  });

  it('gives up after the time budget and dead-letters, never redelivering', async () => {
    const { rx, running, api, chat } = await setup(() => 500);
    await chat();
    await running.mock.deliverer.idle();
    // The policy schedules attempts at 0, 20, 60, 110 and 160 ms at the earliest; the next
    // would start past 200 ms. Slow timers can only mean fewer attempts, never more.
    expect(rx.received.length).toBeGreaterThanOrEqual(3);
    expect(rx.received.length).toBeLessThanOrEqual(5);
    const count = rx.received.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.received).toHaveLength(count);
    const log = (await api.get('/_mock/webhooks')).body;
    expect(log.dead_letter).toHaveLength(1);
    expect(log.dead_letter[0].attempts).toHaveLength(count);
  });

  it('treats a receiver that never answers as a timeout and retries', async () => {
    // A generous budget: only the 150 ms attempt timeout is under test, not how late timers fire.
    const { rx, running, api, chat } = await setup((n) => (n === 1 ? 'hang' : 200), undefined, { maxElapsedMs: 20_000 });
    await chat();
    await running.mock.deliverer.idle();
    expect(rx.received).toHaveLength(2);
    const d = (await api.get('/_mock/webhooks')).body.deliveries[0];
    expect(d.attempts[0]).toMatchObject({ status: null, error: expect.stringContaining('timed out') });
    expect(d.state).toBe('delivered');
  });

  it('never delays the inference response: the completion returns while the receiver still holds the delivery', async () => {
    let release!: (status: number) => void;
    const held = new Promise<number>((r) => (release = r));
    const { rx, running, chat } = await setup(() => held, undefined, PATIENT);
    const res = await chat();
    expect(res.status).toBe(200);
    // The delivery reaches the receiver, which still holds it: the completion did not wait.
    await vi.waitFor(() => expect(rx.received).toHaveLength(1), { timeout: 5000 });
    release(200);
    await running.mock.deliverer.idle();
  });

  it('without a receiver the events are still listed, signed, as no_receiver', async () => {
    const { api, chat } = await setup(() => 200, null);
    await chat();
    const d = (await api.get('/_mock/webhooks')).body.deliveries[0];
    expect(d.state).toBe('no_receiver');
    expect(verifySignature(JSON.stringify(d.payload), d.signature, SECRET)).toBe(true);
  });
});

describe('billing webhooks across a restore', () => {
  it('a delivery pending in a restored snapshot is sent again, with the same request id and body', async () => {
    let release!: (status: number) => void;
    const held = new Promise<number>((r) => (release = r));
    const { rx, running, chat } = await setup((n) => (n === 1 ? held : 200), undefined, PATIENT);
    await chat();
    await vi.waitFor(() => expect(rx.received).toHaveLength(1), { timeout: 5000 });
    const snapshot = running.snapshot();
    expect(snapshot.webhooks.deliveries[0]?.state).toBe('pending');
    running.restore(snapshot);
    release(500);
    await running.mock.deliverer.idle();
    expect(rx.received.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rx.received.map((r) => r.headers['x-baseten-request-id'])).size).toBe(1);
    expect(new Set(rx.received.map((r) => r.body)).size).toBe(1);
    expect(running.snapshot().webhooks.deliveries[0]?.state).toBe('delivered');
  });
});
