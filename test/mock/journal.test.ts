import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import fc from 'fast-check';
import OpenAI from 'openai';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../src/http/journal.js';
import { redactAuthorization, redactedJson, redactedJsonSlow, redactHeaders } from '../../src/http/redact.js';
import { startMock } from '../../src/index.js';
import { mockPerFile } from '../support/mocks.js';

const file = mockPerFile();

const MGMT = 'mock-management-key';
const auth = { Authorization: `Api-Key ${MGMT}` };

beforeEach(async () => {
  file.mock.reset();
  await request(file.mock.url).delete('/_mock/requests').expect(200);
});

async function journal(query = '') {
  const res = await request(file.mock.url).get(`/_mock/requests${query}`);
  expect(res.status).toBe(200);
  expect(file.checker.check({ method: 'get', path: '/_mock/requests', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res;
}

async function groupWithKey(ext: string) {
  const g = await request(file.mock.url)
    .post('/v1/gateway/groups')
    .set(auth)
    .send({ metadata: { external_entity_id: ext }, models: [{ slug: 'meta/llama', usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 100000 }] }], hierarchy: { limit_enforcement: 'INDEPENDENT' } });
  expect(g.status).toBe(200);
  const k = await request(file.mock.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({ name: 'journal-key' });
  expect(k.status).toBe(200);
  return { groupId: g.body.id as string, apiKey: k.body.api_key as string, prefix: k.body.prefix as string };
}

describe('request journal', () => {
  it('holds no key secret and no Authorization value after minting, registering and chatting', async () => {
    const { apiKey, prefix, groupId } = await groupWithKey('redact-1');
    const openai = new OpenAI({ apiKey, baseURL: `${file.mock.url}/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'meta/llama', messages: [{ role: 'user', content: 'hello' }] });
    const stream = await openai.chat.completions.create({ model: 'meta/llama', messages: [{ role: 'user', content: 'stream me' }], stream: true });
    for await (const _ of stream) void _;
    await request(file.mock.url).get('/v1/models').set('Authorization', `Api-Key ${apiKey}`).expect(200);
    // A wrong key is a credential too, and must not be kept either.
    await request(file.mock.url).get('/v1/models').set('Authorization', 'Bearer sky_wrongwrongwr.not-a-real-secret-value').expect(401);
    // A registration, even one refused (unsigned here): its body's key is a secret.
    const registered = 'sk_live_Zf3kq9Lr2mXw8Tn5Vb7Yc1Hd4Jg6Ks0P';
    expect((await request(file.mock.url).post(`/v1/gateway/groups/${groupId}/api_keys/register`).set(auth).send({ key: registered, name: 'imported' })).status).toBe(400);

    const text = (await journal('?limit=1000')).text;
    const secret = apiKey.split('.')[1] as string;
    for (const needle of [apiKey, secret, MGMT, 'not-a-real-secret-value', registered, registered.slice(16)]) expect(text).not.toContain(needle);
    const entries = JSON.parse(text).entries as any[];
    const mint = entries.find((e) => e.operation === 'createApiKey');
    expect(mint.response.body.api_key).toBe(`${prefix}[redacted]`);
    expect(mint.request.headers.authorization).toBe('Api-Key [redacted]');
    const chats = entries.filter((e) => e.operation === 'createChatCompletion');
    expect(chats.map((e) => e.request.headers.authorization)).toEqual(['Bearer [redacted]', 'Bearer [redacted]']);
    expect(chats.find((e) => e.outcome === 'streamed')?.response.body).toEqual({ streamed: true });
    expect(chats.find((e) => e.outcome === 'answered')?.response.body.choices[0].message.content).toBeTruthy();
  });

  it('a signed key registration and chats with the registered key leave no trace of that key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicBase64 = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    const r = await startMock({ register: { publicKey: publicBase64 } });
    try {
      const g = await request(r.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'reg' }, models: [{ slug: 'a/b' }], hierarchy: {} });
      const key = `sk_live_${randomBytes(24).toString('base64url')}`;
      const raw = JSON.stringify({ key, name: 'imported' });
      const res = await request(r.url)
        .post(`/v1/gateway/groups/${g.body.id}/api_keys/register`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .set('X-Baseten-Signature', sign(null, Buffer.from(raw), privateKey).toString('base64'))
        .send(raw);
      expect(res.status, res.text).toBe(200);
      await new OpenAI({ apiKey: key, baseURL: `${r.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] });
      const text = (await request(r.url).get('/_mock/requests')).text;
      expect(text).not.toContain(key.slice(16));
      const entries = JSON.parse(text).entries as any[];
      expect(entries.find((e) => e.operation === 'registerApiKey').request.body.key).toBe(`${key.slice(0, 16)}[redacted]`);
      expect(entries.find((e) => e.operation === 'createChatCompletion').request.headers.authorization).toBe('Bearer [redacted]');
    } finally {
      await r.close();
    }
  });

  it('records method, path, operation, status, timing, bodies and the request id; newest first', async () => {
    const res = await request(file.mock.url).post('/v1/gateway/groups?x=1').set(auth).send({ metadata: { external_entity_id: 'rec-1' }, models: [] });
    const [e] = (await journal()).body.entries;
    expect(e).toMatchObject({
      method: 'POST',
      path: '/v1/gateway/groups',
      query: 'x=1',
      operation: 'createGroup',
      status: res.status,
      request_id: res.headers['x-request-id'],
      outcome: 'answered',
      request: { body: { metadata: { external_entity_id: 'rec-1' }, models: [] } },
      response: { body: res.body },
      fault: null,
    });
    expect(e.duration_ms).toBeGreaterThan(0);
    await request(file.mock.url).get('/nowhere');
    expect((await journal()).body.entries.map((x: any) => [x.operation, x.status])).toEqual([
      [null, 404],
      ['createGroup', res.status],
    ]);
  });

  it('filters by path (prefix or substring), operation and status (exact or class); DELETE clears it', async () => {
    const { groupId } = await groupWithKey('filter-1');
    await request(file.mock.url).get(`/v1/gateway/groups/${groupId}`).set(auth).expect(200);
    await request(file.mock.url).get('/v1/gateway/groups/nope').set(auth).expect(404);
    await request(file.mock.url).get('/v1/gateway/groups').expect(401);
    const ops = async (q: string) => (await journal(q)).body.entries.map((e: any) => `${e.operation} ${e.status}`);
    expect(await ops('?path=/v1/gateway/groups/')).toEqual(['getGroup 404', `getGroup 200`, 'createApiKey 200']);
    expect(await ops('?path=api_keys')).toEqual(['createApiKey 200']);
    expect(await ops('?operation=getGroup')).toEqual(['getGroup 404', 'getGroup 200']);
    expect(await ops('?status=401')).toEqual(['listGroups 401']);
    expect(await ops('?status=4xx')).toEqual(['listGroups 401', 'getGroup 404']);
    expect(await ops('?status=2xx&limit=1')).toEqual(['getGroup 200']);
    expect((await request(file.mock.url).get('/_mock/requests?status=abc')).status).toBe(400);
    await request(file.mock.url).delete('/_mock/requests').expect(200);
    expect((await journal()).body).toMatchObject({ entries: [], size: 0, bytes: 0 });
  });

  it('does not journal the /_mock/ routes themselves', async () => {
    await request(file.mock.url).get('/_mock/state').expect(200);
    await request(file.mock.url).get('/_mock/inspector.json').expect(200);
    await request(file.mock.url).get('/_mock/nope').expect(404);
    expect((await journal()).body.entries).toEqual([]);
  });
});

describe('journal bounds', () => {
  const entry = (n: number, body: unknown = { n }) => ({
    request_id: `r${n}`,
    at: '2026-01-01T00:00:00.000Z',
    method: 'GET',
    path: `/p/${n}`,
    query: null,
    operation: 'op',
    status: 200,
    duration_ms: 1,
    outcome: 'answered' as const,
    workspace_id: null,
    key_prefix: null,
    group_id: null,
    request: { headers: {}, body: redactedJson(body) },
    response: { headers: {}, body: redactedJson(null) },
    fault: null,
    refusal: null,
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const j = new Journal({ maxEntries: 3 });
    for (let n = 1; n <= 5; n++) j.add(entry(n));
    expect(j.list().map((e) => e.request_id)).toEqual(['r5', 'r4', 'r3']);
    expect([j.size, j.dropped]).toEqual([3, 2]);
  });

  it('keeps at most maxBytes, dropping the oldest, and caps each body', () => {
    const j = new Journal({ maxBytes: 4000, maxBodyBytes: 1000 });
    for (let n = 1; n <= 50; n++) j.add(entry(n, { text: 'x'.repeat(500) }));
    expect(j.bytes).toBeLessThanOrEqual(4000);
    expect(j.size).toBeGreaterThan(1);
    expect(j.list()[0]?.request_id).toBe('r50');
    expect(j.bytes).toBe(j.list().reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0));
    j.add(entry(51, { text: 'y'.repeat(100_000) }));
    const big = j.list()[0]?.request.body as { truncated: boolean; bytes: number; preview: string };
    expect(big.truncated).toBe(true);
    expect(big.bytes).toBeGreaterThan(100_000);
    expect(big.preview.length).toBeLessThanOrEqual(1024);
    expect(j.bytes).toBeLessThanOrEqual(4000);
    // The cap counts UTF-8 bytes: 400 two-byte characters fit in 1000, 600 do not.
    j.add(entry(52, 'é'.repeat(400)));
    expect(j.list()[0]?.request.body).toBe('é'.repeat(400));
    j.add(entry(53, 'é'.repeat(600)));
    expect(j.list()[0]?.request.body).toMatchObject({ truncated: true, bytes: 1202 });
  });

  it('over HTTP: a long run stays within the configured bounds', async () => {
    const small = await startMock({ journal: { maxEntries: 5, maxBytes: 1_000_000 } });
    try {
      for (let i = 0; i < 12; i++) await request(small.url).get('/v1/gateway/groups').set(auth);
      const body = (await request(small.url).get('/_mock/requests')).body;
      expect(body).toMatchObject({ size: 5, dropped: 7, max_entries: 5, max_bytes: 1_000_000 });
      expect(body.entries).toHaveLength(5);
    } finally {
      await small.close();
    }
  });
});

describe('redaction', () => {
  it('keeps a key prefix and a scheme, nothing after them', () => {
    expect(redactAuthorization('Api-Key mock-management-key')).toBe('Api-Key [redacted]');
    expect(redactAuthorization('Bearer sky_abc.def')).toBe('Bearer [redacted]');
    expect(redactAuthorization('just-a-token')).toBe('[redacted]');
    expect(JSON.parse(redactedJson({ key: 'sk_live_Zf3kq9Lr2mXw8Tn5Vb7Yc1Hd4Jg6Ks0P', name: 'n', nested: [{ api_key: 'short' }], webhook_secret: 's' }))).toEqual({
      key: 'sk_live_Zf3kq9Lr[redacted]',
      name: 'n',
      nested: [{ api_key: '[redacted]' }],
      webhook_secret: '[redacted]',
    });
    expect(redactHeaders({ Authorization: 'Api-Key x', cookie: 'a=b', 'x-request-id': 'r' })).toEqual({ authorization: 'Api-Key [redacted]', cookie: '[redacted]', 'x-request-id': 'r' });
  });

  it('redactedJson redacts as it serialises: field names in any case, null secrets kept null', () => {
    const body = { key: 'sk_live_Zf3kq9Lr2mXw8Tn5Vb7Yc1Hd4Jg6Ks0P', name: 'n', nested: [{ api_key: 'short', Token: 't' }], webhook_secret: 's', password: null };
    expect(JSON.parse(redactedJson(body))).toEqual({
      key: 'sk_live_Zf3kq9Lr[redacted]',
      name: 'n',
      nested: [{ api_key: '[redacted]', Token: '[redacted]' }],
      webhook_secret: '[redacted]',
      password: null,
    });
    expect(redactedJson(body)).not.toContain('Zf3kq9Lr2mXw8Tn5');
    expect(redactedJson(undefined)).toBe('null');
    let deep: unknown = 'x';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(JSON.parse(redactedJson(deep))).toEqual({ unrecordable: true });
  });

  it('a body with no sensitive field name is recorded as its own compact text, unchanged (the fast path)', () => {
    const body = { id: 'grp_1', metadata: { name: 'key holder', note: '"key": in a value' }, models: [{ slug: 'a/b' }] };
    const text = JSON.stringify(body);
    expect(redactedJson(body)).toBe(text);
    expect(redactedJson(body, text)).toBe(text);
    // A field whose lower case is a sensitive name, the Kelvin sign included, is still found.
    expect(JSON.parse(redactedJson({ '\u212Aey': 'sk_live_Zf3kq9Lr2mXw8Tn5Vb7Yc1Hd4Jg6Ks0P' }, JSON.stringify({ '\u212Aey': 'x' })))).toEqual({ '\u212Aey': 'sk_live_Zf3kq9Lr[redacted]' });
    expect(redactedJson({ SECRET: 's' }, '{"SECRET":"s"}')).toBe('{"SECRET":"[redacted]"}');
  });

  it('the fast path and the field-by-field walk always record the same text', () => {
    const name = fc.constantFrom('key', 'KEY', 'Key', '\u212Aey', 'api_key', 'Api_Key', 'secret', 'webhook_secret', 'Password', 'token', 'tokens', 'keys', 'name', 'id', 'monkey');
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.constant(null), fc.boolean(), tie('array'), tie('object')),
      array: fc.array(tie('node'), { maxLength: 4 }),
      object: fc.dictionary(fc.oneof(name, fc.string()), tie('node'), { maxKeys: 5 }),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const slow = redactedJsonSlow(v);
        expect(redactedJson(v)).toBe(slow);
        expect(redactedJson(v, JSON.stringify(v))).toBe(slow);
      }),
      { numRuns: 500 },
    );
  });
});
