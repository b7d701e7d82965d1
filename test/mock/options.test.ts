import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { CREATE_NEGATIVES } from '../conformance/support/negative-cases.js';
import type { RunningMock } from '../../src/index.js';
import { mocksPerTest } from '../support/mocks.js';
import { errorOf } from '../support/errors.js';

const auth = { Authorization: 'Api-Key mock-management-key' };
const { start: mock, running } = mocksPerTest();
async function groupWithKey(m: RunningMock, models: unknown[], hierarchy?: object) {
  const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: `e-${Math.random()}` }, models, hierarchy: hierarchy ?? {} });
  expect(g.status, g.text).toBe(200);
  const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
  return { group: g.body, key: k.body.api_key as string };
}
const say = (words: number) => Array.from({ length: words }, (_, i) => `w${i}`).join(' ');

describe('400 messages name the field', () => {
  it.each(CREATE_NEGATIVES.map((c) => [c.rule, c] as const))('%s', async (_rule, c) => {
    const m = running[0] ?? (await mock());
    const res = await request(m.url).post('/v1/gateway/groups').set(auth).send(c.body('acme/m', `neg-${Math.random()}`) as object);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: expect.any(String) });
    expect(`${errorOf(res).message} ${errorOf(res).param}`).toContain(c.field);
  });

  it('unknown fields are ignored and named in X-Fgw-Ignored-Fields by default, at every nesting level', async () => {
    const lines: string[] = [];
    const m = await mock({ log: (l) => lines.push(l) });
    const res = await request(m.url)
      .post('/v1/gateway/groups')
      .set(auth)
      .send({ metadata: { external_entity_id: 'x', nmae: 'typo' }, models: [{ slug: 'a/b', rate_limit: [] }], hierarchy: { parnet: 'p' }, extra: 1 });
    expect(res.status, res.text).toBe(200);
    expect(res.headers['x-fgw-ignored-fields']).toBe('extra, metadata.nmae, models[0].rate_limit, hierarchy.parnet');
    expect(res.body.metadata).toEqual({ name: null, external_entity_id: 'x' });
    expect(res.body.models[0]).toEqual({ slug: 'a/b', rate_limits: [], usage_limits: [] });
    expect(lines.find((l) => l.startsWith('POST /v1/gateway/groups 200'))).toContain('ignored fields: extra, metadata.nmae, models[0].rate_limit, hierarchy.parnet');
    // The same typo inside a PATCH hierarchy as inside metadata: both ignored and named.
    const patched = await request(m.url).patch(`/v1/gateway/groups/${res.body.id}`).set(auth).send({ metadata: { name: 'n', nmae: 1 }, hierarchy: { parnet: 'p' } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.headers['x-fgw-ignored-fields']).toBe('metadata.nmae, hierarchy.parnet');
    // A body without unknown fields carries no such header; a real error still wins.
    const clean = await request(m.url).patch(`/v1/gateway/groups/${res.body.id}`).set(auth).send({ metadata: { name: 'm' } });
    expect(clean.headers['x-fgw-ignored-fields']).toBeUndefined();
    const broken = await request(m.url).patch(`/v1/gateway/groups/${res.body.id}`).set(auth).send({ models: [{ slug: 'nope', junk: 1 }] });
    expect(broken.status).toBe(400);
    expect(errorOf(broken).param).toBe('models[0].slug');
    expect(broken.headers['x-fgw-ignored-fields']).toBe('models[0].junk');
  });

  it('the ignored-fields header stays a short, header-safe line however many or odd the names', async () => {
    const m = await mock();
    const extra = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`f${i}\u00e9,\n`, i]));
    const res = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'odd' }, models: [{ slug: 'a/b' }], hierarchy: {}, ...extra });
    expect(res.status).toBe(200);
    const names = (res.headers['x-fgw-ignored-fields'] as string).split(', ');
    expect(names.slice(0, 2)).toEqual(['f0???', 'f1???']);
    expect(names.at(-1)).toBe('... (5 more)');
    expect(names).toHaveLength(21);
  });

  it('with unknownFields reject, an unknown field at any level is 400 naming it', async () => {
    const m = await mock({ unknownFields: 'reject' });
    const res = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b', rate_limit: [] }], hierarchy: {} });
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toBe('models[0].rate_limit is not a known field of models[0].');
    const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'y' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    for (const body of [{ metadata: { name: 'n', nmae: 1 } }, { metadata: { name: 'n' }, hierarchy: { parnet: 'p' } }, { metadata: { name: 'n' }, extra: true }]) {
      const r = await request(m.url).patch(`/v1/gateway/groups/${g.body.id}`).set(auth).send(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(r).message).toMatch(/is not a known field/);
    }
    const ep = await request(m.url).post('/v1/gateway/endpoints').set(auth).send({ slug: 'your-org/m', targets: [{ provider: 'BASETEN', model_id: 'abc', modle: 1 }] });
    expect(errorOf(ep).param).toBe('targets[0].modle');
  });

  it('inference bodies pass unknown fields through without naming them', async () => {
    const m = await mock({ unknownFields: 'reject' });
    const { key } = await groupWithKey(m, [{ slug: 'a/b' }]);
    const res = await request(m.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }], tools: [], whatever: 1 });
    expect(res.status).toBe(200);
    expect(res.headers['x-fgw-ignored-fields']).toBeUndefined();
  });

  it('the cascade refusal carries the exact documented message and a detail naming the limits', async () => {
    const m = await mock();
    const root = await groupWithKey(m, [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 100 }] }], { limit_enforcement: 'CASCADING' });
    const res = await request(m.url)
      .post('/v1/gateway/groups')
      .set(auth)
      .send({ metadata: { external_entity_id: 'child' }, models: [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 200 }] }], hierarchy: { parent_group_id: root.group.id } });
    expect(errorOf(res).message).toBe('Child group exceeds parent group limit.');
    expect(errorOf(res).detail).toBe(`a/b TOKEN/MINUTE: 200 is above 100 set by ancestor ${root.group.id}.`);
  });

  it('a tampered cursor, or one with a character added, is refused', async () => {
    const m = await mock();
    const { group } = await groupWithKey(m, [{ slug: 'a/b' }]);
    for (let i = 0; i < 2; i++) await request(m.url).post(`/v1/gateway/groups/${group.id}/api_keys`).set(auth).send({});
    const first = await request(m.url).get(`/v1/gateway/groups/${group.id}/api_keys?limit=1`).set(auth);
    const cursor: string = first.body.pagination.cursor;
    const flipped = cursor.slice(0, -2) + (cursor.at(-2) === 'A' ? 'B' : 'A') + cursor.at(-1);
    for (const bad of [flipped, `${cursor}x`, `${cursor}A`, cursor.slice(1)]) {
      const res = await request(m.url).get(`/v1/gateway/groups/${group.id}/api_keys`).query({ limit: 1, cursor: bad }).set(auth);
      expect(res.status, bad).toBe(400);
    }
    expect((await request(m.url).get(`/v1/gateway/groups/${group.id}/api_keys`).query({ limit: 1, cursor }).set(auth)).status).toBe(200);
  });

  it('an unknown route is a JSON 404 and a known route with the wrong method a JSON 405 with Allow', async () => {
    const m = await mock();
    const unknown = await request(m.url).get('/v1/gateway/no-such-resource').set(auth);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/json/);
    expect(errorOf(unknown).message).toBe('No route for GET /v1/gateway/no-such-resource.');
    const wrong = await request(m.url).put('/v1/gateway/groups').set(auth);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, POST');
    expect(wrong.headers['x-request-id']).toBeTruthy();
    expect(errorOf(wrong)).toMatchObject({ message: 'PUT is not allowed on /v1/gateway/groups; allowed: GET, POST.', code: 'method_not_allowed' });
    // Paths match case-insensitively (as Express routes did), for the 405 as for the route itself.
    expect((await request(m.url).get('/V1/Gateway/Groups').set(auth)).status).toBe(200);
    const wrongUpper = await request(m.url).put('/V1/Gateway/Groups').set(auth);
    expect(wrongUpper.status).toBe(405);
    expect(wrongUpper.headers.allow).toBe('GET, POST');
  });

  it('a cursor of another list is refused', async () => {
    const m = await mock();
    const { group } = await groupWithKey(m, [{ slug: 'a/b' }]);
    for (let i = 0; i < 2; i++) await request(m.url).post('/v1/gateway/groups').set(auth).send({ hierarchy: {}, metadata: { external_entity_id: `more-${i}` }, models: [{ slug: 'a/b' }] });
    const page = await request(m.url).get('/v1/gateway/groups?limit=1').set(auth);
    const res = await request(m.url).get(`/v1/gateway/groups/${group.id}/api_keys`).query({ cursor: page.body.pagination.cursor }).set(auth);
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('cursor');
  });
});

describe('hostile input is a 4xx with a message, never a 5xx', () => {
  it.each([
    ['get', '/v1/gateway/groups/%ZZ', undefined, undefined],
    ['get', '/v1/gateway/groups/abc/api_keys/%E0%A4%A', undefined, undefined],
    ['get', '/v1/gateway/groups?limit=1&limit=2', undefined, undefined],
    ['get', '/v1/gateway/groups?cursor=a&cursor=b', undefined, undefined],
    ['get', '/v1/gateway/groups?external_entity_id=', undefined, undefined],
    ['post', '/v1/gateway/groups', '[]', 'application/json'],
    ['post', '/v1/gateway/groups', 'null', 'application/json'],
    ['post', '/v1/gateway/groups', '"text"', 'application/json'],
    ['post', '/v1/gateway/groups', 'hello', 'text/plain'],
    ['post', '/v1/gateway/groups', `{"metadata": ${'['.repeat(5000)}`, 'application/json'],
    ['patch', '/v1/gateway/groups/whatever', '{"models": {}}', 'application/json'],
  ] as const)('%s %s %s', async (method, path, body, type) => {
    const m = running[0] ?? (await mock());
    let req = request(m.url)[method](path).set(auth);
    if (body !== undefined) req = req.set('Content-Type', type as string).send(body);
    const res = await req;
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(errorOf(res).message?.length).toBeGreaterThan(10);
  });

  it('a too-long or wrongly typed key name is 400 naming the field', async () => {
    const m = await mock();
    const { group } = await groupWithKey(m, [{ slug: 'a/b' }]);
    for (const name of ['n'.repeat(256), 42, ['a']]) {
      const res = await request(m.url).post(`/v1/gateway/groups/${group.id}/api_keys`).set(auth).send({ name });
      expect(res.status).toBe(400);
      expect(errorOf(res).param).toBe('name');
    }
    const extra = await request(m.url).post(`/v1/gateway/groups/${group.id}/api_keys`).set(auth).send({ name: 'ok', scopes: ['x'] });
    expect(extra.status).toBe(200);
    expect(extra.headers['x-fgw-ignored-fields']).toBe('scopes');
  });

  it('messages read as plain words', async () => {
    const m = await mock();
    const res = await request(m.url).get('/v1/gateway/groups?limit=abc').set(auth);
    expect(errorOf(res).message).toBe('limit must be an integer.');
    const empty = await request(m.url).get('/v1/gateway/groups?external_entity_id=').set(auth);
    expect(errorOf(empty).message).toBe('external_entity_id must be at least 1 character long.');
  });
});

describe('inference options', () => {
  it('Bearer is accepted by default; with allowBearer false only Api-Key works (401 for Bearer)', async () => {
    const strict = await mock({ inference: { allowBearer: false } });
    const { key } = await groupWithKey(strict, [{ slug: 'a/b' }]);
    const body = { model: 'a/b', messages: [{ role: 'user', content: 'x' }] };
    const bearer = await request(strict.url).post('/v1/chat/completions').set('Authorization', `Bearer ${key}`).send(body);
    expect(bearer.status).toBe(401);
    expect(errorOf(bearer).code).toBe('bearer_not_accepted');
    expect((await request(strict.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).send(body)).status).toBe(200);
    await expect(new OpenAI({ baseURL: `${strict.url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create(body as never)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('max_tokens and max_completion_tokens cut the reply and report finish_reason length', async () => {
    const m = await mock();
    const { key } = await groupWithKey(m, [{ slug: 'a/b' }]);
    const client = new OpenAI({ baseURL: `${m.url}/v1`, apiKey: key, maxRetries: 0 });
    const full = await client.chat.completions.create({ model: 'a/b', messages: [{ role: 'user', content: 'one two three four' }] });
    expect(full.choices[0]?.message.content).toBe('Echo: one two three four');
    expect(full.usage).toEqual(expect.objectContaining({ prompt_tokens: 3 + 3 + 4, completion_tokens: 6, total_tokens: 16 }));
    const cut = await client.chat.completions.create({ model: 'a/b', messages: [{ role: 'user', content: 'one two three four' }], max_tokens: 3 });
    expect(cut.choices[0]).toMatchObject({ message: { content: 'Echo: one' }, finish_reason: 'length' });
    const cut2 = await client.chat.completions.create({ model: 'a/b', messages: [{ role: 'user', content: 'one two three four' }], max_completion_tokens: 4 });
    expect(cut2.choices[0]?.message.content).toBe('Echo: one two');
    const streamed = await client.chat.completions.create({ model: 'a/b', messages: [{ role: 'user', content: 'one two three four' }], stream: true });
    let text = '';
    for await (const chunk of streamed) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(full.choices[0]?.message.content);
  });

  it('the raw stream ends with data: [DONE] and carries a usage chunk only when asked', async () => {
    const m = await mock();
    const { key } = await groupWithKey(m, [{ slug: 'a/b' }]);
    const raw = (opts: object) =>
      request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).buffer(true).parse((res, cb) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => cb(null, text));
      }).send({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }], stream: true, ...opts });
    const withUsage = await raw({ stream_options: { include_usage: true } });
    expect(withUsage.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = (withUsage.body as string).trim().split('\n\n');
    expect(events.at(-1)).toBe('data: [DONE]');
    const usageChunk = JSON.parse((events.at(-2) as string).slice(6));
    expect(usageChunk).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
    const without = (await raw({})).body as string;
    expect(without).not.toContain('"usage":{');
  });

  it('TOKEN policy: strict refuses the crossing request, overshoot admits it and refuses the next', async () => {
    // "Hello" -> prompt 3+3+1 = 7, reply "Echo: Hello" = 3, total 10 tokens a request.
    const body = { model: 'a/b', messages: [{ role: 'user', content: 'Hello' }] };
    const models = [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 25 }] }];
    for (const [policy, expected] of [
      ['strict', [200, 200, 429]],
      ['overshoot', [200, 200, 200, 429]],
    ] as const) {
      const m = await mock({ inference: { tokenLimitPolicy: policy } });
      const { key } = await groupWithKey(m, models);
      const codes = [];
      for (let i = 0; i < expected.length; i++) codes.push((await request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).send(body)).status);
      expect(codes, policy).toEqual(expected);
    }
  });

  it('CASCADING worked example in tokens: after finance spends its 70, engineering is refused after 30', async () => {
    const m = await mock();
    const tpm = (n: number) => [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: n }] }];
    const org = await groupWithKey(m, tpm(100), { limit_enforcement: 'CASCADING' });
    const finance = await groupWithKey(m, tpm(70), { parent_group_id: org.group.id });
    const engineering = await groupWithKey(m, tpm(70), { parent_group_id: org.group.id });
    const send = (key: string, words: number) =>
      request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: say(words) }] });
    // words w -> prompt 6 + w, reply 2 + w: total 8 + 2w. 31 words = 70 tokens.
    const f = await send(finance.key, 31);
    expect(f.body.usage.total_tokens).toBe(70);
    const e1 = await send(engineering.key, 11); // 30 tokens: the org's last 30
    expect(e1.status).toBe(200);
    const e2 = await send(engineering.key, 1); // 10 more: the org is exhausted though engineering has 40 left
    expect(e2.status).toBe(429);
    expect(errorOf(e2).message).toContain(org.group.id);
    expect(Number(e2.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('INDEPENDENT worked example in tokens (free-tier 100, john inherits, sally 120; raising the root raises john)', async () => {
    const m = await mock();
    const tpm = (n: number) => [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: n }] }];
    const freeTier = await groupWithKey(m, tpm(100));
    const john = await groupWithKey(m, [{ slug: 'a/b' }], { parent_group_id: freeTier.group.id });
    const sally = await groupWithKey(m, tpm(120), { parent_group_id: freeTier.group.id });
    const send = (key: string, words: number) =>
      request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: say(words) }] });
    // words w -> 8 + 2w tokens: 46 words = 100, 56 words = 120, 21 words = 50.
    expect((await send(freeTier.key, 46)).status).toBe(200);
    expect((await send(john.key, 46)).status).toBe(200); // the root's spending does not draw on john
    expect((await send(john.key, 1)).status).toBe(429);
    expect((await send(sally.key, 56)).status).toBe(200);
    expect((await send(sally.key, 1)).status).toBe(429);
    await request(m.url).patch(`/v1/gateway/groups/${freeTier.group.id}`).set(auth).send({ models: tpm(150) });
    expect((await send(john.key, 21)).status).toBe(200);
    expect((await send(john.key, 1)).status).toBe(429);
  });

  it('latencyMs delays completions', async () => {
    const m = await mock({ inference: { latencyMs: 150 } });
    const { key } = await groupWithKey(m, [{ slug: 'a/b' }]);
    const t0 = performance.now();
    await request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
  });

  it('latencyMs stops waiting when the client gives up: the completion is journaled as aborted at once', async () => {
    const m = await mock({ inference: { latencyMs: 10_000 } });
    const { key } = await groupWithKey(m, [{ slug: 'a/b' }]);
    const client = new OpenAI({ apiKey: key, baseURL: `${m.url}/v1`, maxRetries: 0, timeout: 200 });
    const t0 = performance.now();
    await expect(client.chat.completions.create({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] })).rejects.toThrow();
    let outcomes: string[] = [];
    for (let i = 0; i < 50 && outcomes.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      outcomes = (await request(m.url).get('/_mock/requests?operation=createChatCompletion')).body.entries.map((e: { outcome: string }) => e.outcome);
    }
    expect(outcomes).toEqual(['aborted']);
    expect(performance.now() - t0).toBeLessThan(3_000);
  });
});

describe('who may call', () => {
  it('viewScope list-only: view keys may list groups and nothing else', async () => {
    const m = await mock({ viewScope: 'list-only' });
    const { group } = await groupWithKey(m, [{ slug: 'a/b' }]);
    const view = { Authorization: 'Api-Key mock-view-key' };
    expect((await request(m.url).get('/v1/gateway/groups').set(view)).status).toBe(200);
    expect((await request(m.url).get(`/v1/gateway/groups/${group.id}`).set(view)).status).toBe(403);
    expect((await request(m.url).get(`/v1/gateway/groups/${group.id}/api_keys`).set(view)).status).toBe(403);
  });

  it('a config replaces the default keys', async () => {
    const m = await mock({
      config: {
        workspaces: [{ id: 'mine', onboarded: true }],
        management_keys: [
          { key: 'my-key', workspace: 'mine', scope: 'management' },
          { key: 'my-reader', workspace: 'mine', scope: 'view' },
        ],
      },
    });
    expect((await request(m.url).get('/v1/gateway/groups').set('Authorization', 'Api-Key my-key')).status).toBe(200);
    expect((await request(m.url).post('/v1/gateway/groups').set('Authorization', 'Api-Key my-reader').send({ hierarchy: {}, metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b' }] })).status).toBe(403);
    expect((await request(m.url).get('/v1/gateway/groups').set(auth)).status).toBe(401);
  });
});

describe('response encoding', () => {
  it('gateway JSON is compact by default and indented with prettyJson; admin JSON is always indented; no ETag either way', async () => {
    const compact = await mock();
    const g = await request(compact.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'enc' }, models: [{ slug: 'a/b' }] });
    expect(g.text).toBe(JSON.stringify(g.body));
    expect(g.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(g.headers['content-length'])).toBe(Buffer.byteLength(g.text));
    expect(g.headers.etag).toBeUndefined();
    const err = await request(compact.url).get('/v1/gateway/groups/nope').set(auth);
    expect(err.status).toBe(404);
    expect(err.text).toBe(JSON.stringify(err.body));
    const state = await request(compact.url).get('/_mock/state');
    expect(state.text).toBe(JSON.stringify(state.body, null, 2));

    const pretty = await mock({ prettyJson: true });
    const list = await request(pretty.url).get('/v1/gateway/groups').set(auth);
    expect(list.text).toBe(JSON.stringify(list.body, null, 2));
    expect(list.headers.etag).toBeUndefined();
  });

  it('HEAD of a read has the headers of its GET and no body', async () => {
    const m = await mock();
    const get = await request(m.url).get('/v1/gateway/groups').set(auth);
    const head = await request(m.url).head('/v1/gateway/groups').set(auth);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text ?? '').toBe('');
  });
});
