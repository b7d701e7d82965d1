import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { StartOptions } from '../../src/index.js';
import { errorOf } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';

/**
 * The management API's own rate limit (facts file, "Management API rate limit";
 * AMBIGUITIES.md #88): 100 requests per second per API key, each route counted
 * separately, on by default; 429 with `retry_after` and `Retry-After`.
 */

const { start } = mocksPerTest();
const auth = { Authorization: 'Api-Key mock-management-key' };
const T = Date.UTC(2030, 0, 1, 12);

/** A mock whose base clock stands still, so a burst falls in one window however slow the machine. */
async function frozen(options: StartOptions = {}) {
  const clock = new ManualClock(T);
  const m = await start({ baseClock: clock, ...options });
  return { m, clock };
}

const burst = async (n: number, send: () => request.Test) => {
  const out: request.Response[] = [];
  for (let i = 0; i < n; i++) out.push(await send());
  return out;
};

describe('the management API rate limit', () => {
  it('admits 100 requests per second per key per route, then 429 with the documented body, retry_after and Retry-After', async () => {
    const { m, clock } = await frozen();
    const list = () => request(m.url).get('/v1/gateway/groups').set(auth);
    expect((await burst(100, list)).map((r) => r.status)).toEqual(Array(100).fill(200));
    const refused = await list();
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: 'Rate limit exceeded. Please try again later.', retry_after: 1 });
    expect(refused.headers['retry-after']).toBe('1');
    expect(errorOf(refused).code).toBe('management_rate_limit_exceeded');
    // Another route, and the same route with another key, have counters of their own.
    expect((await request(m.url).get('/v1/gateway/endpoints').set(auth)).status).toBe(200);
    expect((await request(m.url).get('/v1/gateway/groups').set('Authorization', 'Api-Key mock-view-key')).status).toBe(200);
    // The same key through the other scheme is the same key.
    expect((await request(m.url).get('/v1/gateway/groups').set('Authorization', 'Bearer mock-management-key')).status).toBe(429);
    // The window resets on the mock's clock.
    clock.advance(1000);
    expect((await list()).status).toBe(200);
  });

  it('requests that do not authenticate are not counted and are not limited (401 stays 401)', async () => {
    const { m } = await frozen({ managementRateLimit: 2 });
    for (let i = 0; i < 5; i++) expect((await request(m.url).get('/v1/gateway/groups').set('Authorization', 'Api-Key wrong')).status).toBe(401);
    expect((await burst(2, () => request(m.url).get('/v1/gateway/groups').set(auth))).map((r) => r.status)).toEqual([200, 200]);
    expect((await request(m.url).get('/v1/gateway/groups').set(auth)).status).toBe(429);
    // An invalid body still counts: the limit is judged before the body is.
    expect((await request(m.url).post('/v1/gateway/groups').set(auth).send({})).status).toBe(400);
    expect((await request(m.url).post('/v1/gateway/groups').set(auth).send({})).status).toBe(400);
    expect((await request(m.url).post('/v1/gateway/groups').set(auth).send({})).status).toBe(429);
  });

  it('inference is not under it (federated keys have their group limits); nor are the /_mock/ routes', async () => {
    const { m } = await frozen({ managementRateLimit: 2 });
    const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'acme/m' }], hierarchy: {} });
    const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
    const sdk = new OpenAI({ apiKey: k.body.api_key, baseURL: `${m.url}/v1`, maxRetries: 0 });
    for (let i = 0; i < 5; i++) await sdk.chat.completions.create({ model: 'acme/m', messages: [{ role: 'user', content: 'hi' }] });
    for (let i = 0; i < 5; i++) expect((await request(m.url).get('/_mock/state')).status).toBe(200);
  });

  it('--management-rate-limit N sets the limit, off turns it off; reset clears the counters', async () => {
    const off = (await frozen({ managementRateLimit: false })).m;
    expect((await burst(150, () => request(off.url).get('/v1/gateway/groups').set(auth))).every((r) => r.status === 200)).toBe(true);
    expect(off.mock.pipeline.names()).not.toContain('management-rate-limit');
    const { m } = await frozen({ managementRateLimit: 3 });
    expect((await burst(4, () => request(m.url).get('/v1/gateway/groups').set(auth))).map((r) => r.status)).toEqual([200, 200, 200, 429]);
    m.reset();
    expect((await request(m.url).get('/v1/gateway/groups').set(auth)).status).toBe(200);
    await expect(start({ managementRateLimit: 0 })).rejects.toThrow(/integer >= 1/);
  });

  it('the OpenAI form keeps retry_after at the top level; the SDK raises RateLimitError with the message in both forms', async () => {
    for (const errorFormat of ['baseten', 'openai'] as const) {
      const { m } = await frozen({ managementRateLimit: 1, errorFormat });
      await request(m.url).get('/v1/gateway/groups').set(auth);
      const refused = await request(m.url).get('/v1/gateway/groups').set(auth);
      if (errorFormat === 'openai') {
        expect(refused.body).toEqual({
          error: { message: 'Rate limit exceeded. Please try again later.', type: 'rate_limit_error', code: 'management_rate_limit_exceeded', param: null },
          retry_after: 1,
        });
      }
      const client = new OpenAI({ apiKey: 'mock-management-key', baseURL: m.url, maxRetries: 0 });
      const err = await client.get('/v1/gateway/groups', { headers: { Authorization: 'Api-Key mock-management-key' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as Error).message).toContain('Rate limit exceeded. Please try again later.');
    }
  });

  it("an inference limit's 429 keeps its precise message and has no retry_after in the body (the inference errors page's form)", async () => {
    const { m } = await frozen();
    const g = await request(m.url)
      .post('/v1/gateway/groups')
      .set(auth)
      .send({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'acme/m', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 1 }] }], hierarchy: {} });
    const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
    const chat = () => request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${k.body.api_key}`).send({ model: 'acme/m', messages: [{ role: 'user', content: 'hi' }] });
    expect((await chat()).status).toBe(200);
    const refused = await chat();
    expect(refused.status).toBe(429);
    expect(Object.keys(refused.body)).toEqual(['error']);
    expect(refused.body.error).toMatch(/^Rate limit exceeded: REQUEST per MINUTE threshold 1 of group /);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});
