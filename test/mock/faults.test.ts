import OpenAI, { APIConnectionError, APIError } from 'openai';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { mockPerFile } from '../support/mocks.js';
import { errorOf } from '../support/errors.js';

const file = mockPerFile();

let apiKey: string;
const auth = { Authorization: 'Api-Key mock-management-key' };
const chat = (client: OpenAI) => client.chat.completions.create({ model: 'meta/llama', messages: [{ role: 'user', content: 'hi' }] });
const sdk = (maxRetries: number) => new OpenAI({ apiKey, baseURL: `${file.mock.url}/v1`, maxRetries });

beforeEach(async () => {
  file.mock.reset();
  await request(file.mock.url).delete('/_mock/requests');
  const g = await request(file.mock.url)
    .post('/v1/gateway/groups')
    .set(auth)
    .send({ metadata: { external_entity_id: 'faults' }, models: [{ slug: 'meta/llama' }], hierarchy: { limit_enforcement: 'INDEPENDENT' } });
  apiKey = (await request(file.mock.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({})).body.api_key;
});

async function addFault(fault: object) {
  const res = await request(file.mock.url).post('/_mock/faults').send(fault);
  expect(file.checker.check({ method: 'post', path: '/_mock/faults', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res;
}

const chatEntries = async () =>
  (await request(file.mock.url).get('/_mock/requests?operation=createChatCompletion')).body.entries.reverse().map((e: any) => [e.status, e.fault?.id ?? null, e.outcome]);

describe('fault injection seen by the OpenAI SDK', () => {
  it('a 503 for the next 2 calls: maxRetries 2 succeeds on the third attempt, and the journal shows all three', async () => {
    const f = await addFault({ operation: 'createChatCompletion', status: 503, times: 2, headers: { 'retry-after-ms': '10' } });
    expect(f.status).toBe(201);
    const done = await chat(sdk(2));
    expect(done.choices[0]?.message.content).toBeTruthy();
    expect(await chatEntries()).toEqual([
      [503, f.body.id, 'answered'],
      [503, f.body.id, 'answered'],
      [200, null, 'answered'],
    ]);
    // Spent after two hits: no longer listed.
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults).toEqual([]);
  });

  it('with maxRetries 0 the SDK raises APIError 503 carrying the fault body', async () => {
    await addFault({ operation: 'createChatCompletion', status: 503, times: 1 });
    const err = await chat(sdk(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(503);
    expect((err as APIError).message).toMatch(/Injected by the mock/);
    const custom = await addFault({ status: 429, body: { error: { message: 'slow down', type: 'rate_limit_error', code: 'custom', param: null } }, times: 1 });
    const err2 = (await chat(sdk(0)).catch((e: unknown) => e)) as APIError;
    expect([err2.status, err2.message]).toEqual([429, '429 slow down']);
    expect(custom.body.operation).toBe('*');
  });

  it('latency: the call waits, then proceeds normally', async () => {
    await addFault({ operation: 'createChatCompletion', latency_ms: 300, times: 1 });
    const t0 = performance.now();
    await chat(sdk(0));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    const [entry] = (await request(file.mock.url).get('/_mock/requests')).body.entries;
    expect(entry).toMatchObject({ status: 200, fault: { latency_ms: 300, status: null, drop: false } });
    expect(entry.duration_ms).toBeGreaterThanOrEqual(290);
  });

  it('a client that gives up during injected latency: the mock stops waiting, and the journal says aborted at once, timed to the abort', async () => {
    await addFault({ operation: 'createChatCompletion', latency_ms: 5_000, times: 1 });
    const t0 = performance.now();
    const err = await new OpenAI({ apiKey, baseURL: `${file.mock.url}/v1`, maxRetries: 0, timeout: 200 }).chat.completions.create({ model: 'meta/llama', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError); // the SDK's timeout
    // Well before the 5 s the fault would have waited.
    let entries: unknown[][] = [];
    for (let i = 0; i < 50 && entries.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      entries = await chatEntries();
    }
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(entries).toEqual([[null, expect.stringMatching(/^fault_/), 'aborted']]);
    const [entry] = (await request(file.mock.url).get('/_mock/requests?operation=createChatCompletion')).body.entries;
    expect(entry.duration_ms).toBeGreaterThanOrEqual(150);
    expect(entry.duration_ms).toBeLessThan(2_000);
  });

  it('a dropped connection surfaces as APIConnectionError and is journaled as dropped', async () => {
    const f = (await addFault({ operation: 'createChatCompletion', drop: true, times: 1 })).body;
    const err = await chat(sdk(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(await chatEntries()).toEqual([[null, f.id, 'dropped']]);
    // Only the next call was dropped.
    expect((await chat(sdk(0))).choices).toHaveLength(1);
  });
});

describe('fault rules', () => {
  it('a fraction without a seed hits evenly spaced calls; with a seed, the same calls every time', async () => {
    await addFault({ operation: 'listGroups', status: 500, fraction: 0.5 });
    const statuses = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await request(file.mock.url).get('/v1/gateway/groups').set(auth)).status);
      return out;
    };
    expect(await statuses(6)).toEqual([200, 500, 200, 500, 200, 500]);
    const seeded = async () => {
      await request(file.mock.url).delete('/_mock/faults').expect(200);
      await addFault({ operation: 'listGroups', status: 500, fraction: 0.3, seed: 'storm' });
      return statuses(30);
    };
    const first = await seeded();
    expect(await seeded()).toEqual(first);
    const hits = first.filter((s) => s === 500).length;
    expect(hits).toBeGreaterThan(0);
    expect(hits).toBeLessThan(30);
  });

  it('"*" faults every gateway operation but never a /_mock/ route', async () => {
    await addFault({ status: 503 });
    expect((await request(file.mock.url).get('/v1/gateway/groups').set(auth)).status).toBe(503);
    expect((await request(file.mock.url).get('/v1/models').set('Authorization', `Bearer ${apiKey}`)).status).toBe(503);
    expect((await request(file.mock.url).get('/_mock/state')).status).toBe(200);
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults).toEqual([expect.objectContaining({ operation: '*', matched: 2, applied: 2, remaining: null })]);
  });

  it('listed, removed one by one or all at once, cleared by reset but not by a restore', async () => {
    const a = (await addFault({ operation: 'listGroups', status: 500 })).body;
    const b = (await addFault({ operation: 'getGroup', latency_ms: 10 })).body;
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults.map((f: any) => f.id)).toEqual([a.id, b.id]);
    expect((await request(file.mock.url).delete(`/_mock/faults/${a.id}`)).body.id).toBe(a.id);
    expect((await request(file.mock.url).delete(`/_mock/faults/${a.id}`)).status).toBe(404);
    expect((await request(file.mock.url).get('/v1/gateway/groups').set(auth)).status).toBe(200);
    await request(file.mock.url).delete('/_mock/faults').expect(200);
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults).toEqual([]);
    await addFault({ status: 500 });
    // A snapshot restore replaces the state, not the faults; a reset clears them.
    const snap = (await request(file.mock.url).get('/_mock/snapshot')).body;
    await request(file.mock.url).post('/_mock/snapshot').send(snap).expect(200);
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults).toHaveLength(1);
    await request(file.mock.url).post('/_mock/reset').expect(200);
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults).toEqual([]);
  });

  it('refuses a fault that does nothing, contradicts itself, or names an unknown operation, saying why', async () => {
    const bad = async (body: object, pattern: RegExp) => {
      const res = await addFault(body);
      expect(res.status).toBe(400);
      expect(errorOf(res).message).toMatch(pattern);
    };
    await bad({ operation: 'createChatCompletion' }, /at least one of status, latency_ms/);
    await bad({ status: 503, drop: true }, /not both/);
    await bad({ operation: 'resetMock', status: 503 }, /not a gateway operationId.*createChatCompletion/);
    await bad({ status: 200 }, /status must be >= 400/);
    await bad({ status: 503, fraction: 0 }, /fraction/);
    await bad({ status: 503, headers: { 'bad header': 'x' } }, /not a valid HTTP header name/);
    await bad({ status: 503, headers: { 'x-a': 'line\r\nbreak' } }, /control character/);
    await bad({ status: 503, headers: { 'Content-Length': '1' } }, /sets Content-Length itself/);
    expect((await request(file.mock.url).get('/_mock/faults')).body.faults).toEqual([]);
  });
});
