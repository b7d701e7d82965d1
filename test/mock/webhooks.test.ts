import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadSpecs } from '../../src/http/spec.js';
import { idempotencyKeyOf } from '../../src/domain/webhooks.js';
import { newAjv } from '../../src/lib/ajv.js';
import { signPayload, startMock, verifySignature, type RunningMock } from '../../src/index.js';

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
        idempotencyKey: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
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
    // A ULID of the request's time and id: the same request always has the same key.
    const [event] = payload.data.events;
    expect(event.idempotencyKey).toBe(idempotencyKeyOf(event.requestId, Date.parse(event.timestamp)));

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

describe('webhook signing-secret rotation', () => {
  /** The gateway guide's own snippet: the whole header compared with one expected `v1=` value. */
  const guideStyleVerify = (body: string, header: string, secret: string) => header === `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;

  it('for 24 hours of mock time each delivery carries v1=<new>,v1=<old>; any one matching signature verifies, the guide-style whole-header comparison fails; then only the new one', async () => {
    const { rx, running, api, chat } = await setup(() => 200);
    const rotated = await api.post('/_mock/workspaces/workspace-a/webhook_secret/rotate').send({ secret: 'whsec-new' });
    expect(rotated.status, rotated.text).toBe(200);
    const now = Date.parse((await api.get('/_mock/clock')).body.now);
    expect(rotated.body).toEqual({ workspace_id: 'workspace-a', secret: 'whsec-new', retiring: [{ expires_at: expect.any(String) }] });
    expect(Date.parse(rotated.body.retiring[0].expires_at) - now).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 1000);

    await chat();
    await running.mock.deliverer.idle();
    const during = rx.received[0] as Received;
    const header = during.headers['x-baseten-signature'] as string;
    expect(header).toBe(`${signPayload(during.body, 'whsec-new')},${signPayload(during.body, SECRET)}`);
    expect(header).toMatch(/^v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    // A receiver holding either secret accepts it with ours; one written from the guide's snippet rejects it.
    expect(verifySignature(during.body, header, 'whsec-new')).toBe(true);
    expect(verifySignature(during.body, header, SECRET)).toBe(true);
    expect(verifySignature(during.body, header, 'another-secret')).toBe(false);
    expect(guideStyleVerify(during.body, header, 'whsec-new')).toBe(false);
    expect(guideStyleVerify(during.body, header, SECRET)).toBe(false);

    // Just before the 24 hours end, both still sign; from then on only the new one.
    await api.post('/_mock/clock').send({ advance_seconds: 24 * 3600 - 60 });
    await chat();
    await running.mock.deliverer.idle();
    expect((rx.received[1] as Received).headers['x-baseten-signature']).toMatch(/^v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    await api.post('/_mock/clock').send({ advance_seconds: 61 });
    await chat();
    await running.mock.deliverer.idle();
    const after = rx.received[2] as Received;
    expect(after.headers['x-baseten-signature']).toBe(signPayload(after.body, 'whsec-new'));
    expect(guideStyleVerify(after.body, after.headers['x-baseten-signature'] as string, 'whsec-new')).toBe(true);
    expect(verifySignature(after.body, after.headers['x-baseten-signature'] as string, SECRET)).toBe(false);
  });

  it('mock.rotateWebhookSecret() generates a secret when none is given; rotations stack, each old secret keeping its own 24 hours; a snapshot keeps them, reset forgets them', async () => {
    const { rx, running, api, chat } = await setup(() => 200);
    const first = running.rotateWebhookSecret('workspace-a');
    expect(first.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    await api.post('/_mock/clock').send({ advance_seconds: 3600 });
    const second = running.rotateWebhookSecret('workspace-a', 'whsec-third');
    expect(second.retiring).toHaveLength(2);
    const snapshot = running.snapshot();
    expect(snapshot.workspaces.find((w) => w.id === 'workspace-a')?.webhook_secrets_retiring).toHaveLength(2);
    running.restore(snapshot);
    await chat();
    await running.mock.deliverer.idle();
    const hit = rx.received[0] as Received;
    expect(hit.headers['x-baseten-signature']).toBe([`whsec-third`, first.secret, SECRET].map((s) => signPayload(hit.body, s)).join(','));
    // 23 hours later the configured secret (rotated out first) has expired; the generated one has an hour left.
    await api.post('/_mock/clock').send({ advance_seconds: 23 * 3600 });
    await chat();
    await running.mock.deliverer.idle();
    const later = rx.received[1] as Received;
    expect(later.headers['x-baseten-signature']).toBe(['whsec-third', first.secret].map((s) => signPayload(later.body, s)).join(','));
    running.reset();
    expect(running.snapshot().workspaces.find((w) => w.id === 'workspace-a')).toMatchObject({ webhook_secret: SECRET });
    expect(running.snapshot().workspaces.find((w) => w.id === 'workspace-a')?.webhook_secrets_retiring).toBeUndefined();
    expect(() => running.rotateWebhookSecret('no-such-workspace')).toThrow(/No workspace no-such-workspace/);
    expect((await api.post('/_mock/workspaces/no-such-workspace/webhook_secret/rotate').send({})).status).toBe(404);
    expect((await api.post('/_mock/workspaces/workspace-a/webhook_secret/rotate').send({ secret: '' })).status).toBe(400);
  });
});
