import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import type { RunningMock } from '../../src/index.js';
import { errorMessage } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';
import { errorOf } from '../support/errors.js';

const auth = { Authorization: 'Api-Key mock-management-key' };
const view = { Authorization: 'Api-Key mock-view-key' };
const other = { Authorization: 'Api-Key mock-other-workspace-key' };
const notOnboarded = { Authorization: 'Api-Key mock-not-onboarded-key' };
const BASETEN = { provider: 'BASETEN', model_id: 'abc123' };
const NULLS = { model_id: null, environment_name: null, secret_id: null, target_model: null, vertex_config: null, base_url: null };

const { start: mock } = mocksPerTest();
const create = (m: RunningMock, body: object, who: Record<string, string> = auth) => request(m.url).post('/v1/gateway/endpoints').set(who).send(body);

describe('endpoints over HTTP', () => {
  it('create, get, list, update, delete; region defaults to UNRESTRICTED; fields that do not apply are null', async () => {
    const m = await mock();
    const created = await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    expect(created.status, created.text).toBe(200);
    expect(created.body).toEqual({
      id: expect.any(String),
      slug: 'your-org/llama',
      region: 'UNRESTRICTED',
      targets: [{ ...NULLS, provider: 'BASETEN', model_id: 'abc123', environment_name: 'production' }],
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: created.body.created_at,
    });
    const id = created.body.id as string;
    expect((await request(m.url).get(`/v1/gateway/endpoints/${id}`).set(view)).body).toEqual(created.body);
    const eu = await create(m, { slug: 'my-org/gpt', region: 'EU', targets: [{ provider: 'OPENAI', secret_id: 'sec', target_model: 'gpt-4o' }] });
    expect(eu.body.region).toBe('EU');
    expect(eu.body.targets[0]).toEqual({ ...NULLS, provider: 'OPENAI', secret_id: 'sec', target_model: 'gpt-4o' });
    const list = await request(m.url).get('/v1/gateway/endpoints').set(view);
    expect(list.body.items.map((e: { slug: string }) => e.slug)).toEqual(['your-org/llama', 'my-org/gpt']);

    await request(m.url).post('/_mock/clock').send({ advance_seconds: 5 });
    const updated = await request(m.url).patch(`/v1/gateway/endpoints/${id}`).set(auth).send({ targets: [{ ...BASETEN, environment_name: 'staging' }] });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.body.targets[0].environment_name).toBe('staging');
    expect(updated.body.created_at).toBe(created.body.created_at);
    expect(Date.parse(updated.body.updated_at) - Date.parse(created.body.updated_at)).toBeGreaterThanOrEqual(5000);
    // Even two changes within one millisecond move updated_at.
    const again = await request(m.url).patch(`/v1/gateway/endpoints/${id}`).set(auth).send({ targets: [BASETEN] });
    expect(Date.parse(again.body.updated_at)).toBeGreaterThan(Date.parse(updated.body.updated_at));

    const deleted = await request(m.url).delete(`/v1/gateway/endpoints/${id}`).set(auth);
    expect(deleted.body).toEqual({ id, slug: 'your-org/llama' });
    expect((await request(m.url).get(`/v1/gateway/endpoints/${id}`).set(auth)).status).toBe(404);
    expect((await request(m.url).delete(`/v1/gateway/endpoints/${id}`).set(auth)).status).toBe(404);
    // The slug is free again.
    expect((await create(m, { slug: 'your-org/llama', targets: [BASETEN] })).status).toBe(200);
  });

  it('lists are cursor-paginated with limit and cursor, per workspace', async () => {
    const m = await mock();
    for (let i = 0; i < 5; i++) await create(m, { slug: `your-org/m${i}`, targets: [BASETEN] });
    await create(m, { slug: 'other-org/theirs', targets: [BASETEN] }, other);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await request(m.url).get('/v1/gateway/endpoints').query({ limit: 2, ...(cursor ? { cursor } : {}) }).set(auth);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((e: { slug: string }) => e.slug));
      cursor = page.body.pagination.cursor ?? undefined;
      expect(page.body.pagination.has_more).toBe(cursor !== undefined);
    } while (cursor);
    expect(seen).toEqual(['your-org/m0', 'your-org/m1', 'your-org/m2', 'your-org/m3', 'your-org/m4']);
    expect((await request(m.url).get('/v1/gateway/endpoints').query({ cursor: 'garbage' }).set(auth)).status).toBe(400);
    expect((await request(m.url).get('/v1/gateway/endpoints').query({ limit: 0 }).set(auth)).status).toBe(400);
  });

  it('slugs: owned prefix only, globally unique across workspaces, shaped org/name', async () => {
    const m = await mock();
    const foreign = await create(m, { slug: 'someone/x', targets: [BASETEN] });
    expect(foreign.status).toBe(400);
    expect(errorOf(foreign)).toMatchObject({ code: 'org_prefix_not_owned', param: 'slug' });
    expect((await create(m, { slug: 'other-org/x', targets: [BASETEN] })).status).toBe(400);
    expect((await create(m, { slug: 'other-org/x', targets: [BASETEN] }, other)).status).toBe(200);
    expect((await create(m, { slug: 'your-org/x', targets: [BASETEN] })).status).toBe(200);
    const dup = await create(m, { slug: 'your-org/x', targets: [BASETEN] });
    expect(errorOf(dup)).toMatchObject({ code: 'duplicate_slug', param: 'slug' });
    expect(errorOf(await create(m, { slug: 'no-slash', targets: [BASETEN] })).param).toBe('slug');
  });

  it('a slug held by another organisation is taken for everybody (global uniqueness, through configured owners)', async () => {
    const m = await mock({
      config: {
        workspaces: [
          { id: 'a', onboarded: true, org_prefixes: ['shared-lab'] },
          { id: 'b', onboarded: true, org_prefixes: ['b-lab'] },
        ],
        management_keys: [
          { key: 'ka', workspace: 'a', scope: 'management' },
          { key: 'kb', workspace: 'b', scope: 'management' },
        ],
      },
    });
    expect((await create(m, { slug: 'shared-lab/x', targets: [BASETEN] }, { Authorization: 'Api-Key ka' })).status).toBe(200);
    const b = await create(m, { slug: 'shared-lab/x', targets: [BASETEN] }, { Authorization: 'Api-Key kb' });
    expect(b.status).toBe(400);
    const e = await create(m, { slug: 'b-lab/x', targets: [{ ...BASETEN, environment_name: 'staging' }] }, { Authorization: 'Api-Key kb' });
    expect(e.status, e.text).toBe(200);
  });

  it('targets: exactly one, each provider with its field rules, unknown environments 400', async () => {
    const m = await mock();
    const cases: [object, number, string | null][] = [
      [{ targets: [] }, 400, 'targets'],
      [{ targets: [BASETEN, BASETEN] }, 400, 'targets'],
      [{ targets: [{ provider: 'BASETEN' }] }, 400, 'targets[0].model_id'],
      [{ targets: [{ ...BASETEN, environment_name: 'canary' }] }, 400, 'targets[0].environment_name'],
      [{ targets: [{ provider: 'OPENAI', target_model: 'gpt' }] }, 400, 'targets[0].secret_id'],
      [{ targets: [{ provider: 'ANTHROPIC', secret_id: 's' }] }, 400, 'targets[0].target_model'],
      [{ targets: [{ provider: 'OPENAI', secret_id: 's', target_model: 'g', model_id: 'abc' }] }, 400, 'targets[0].model_id'],
      [{ targets: [{ provider: 'VERTEX', secret_id: 's', target_model: 'g' }] }, 400, 'targets[0].vertex_config'],
      [{ targets: [{ provider: 'VERTEX', secret_id: 's', target_model: 'g', vertex_config: { project_id: 'p' } }] }, 400, 'targets[0].vertex_config.location'],
      [{ targets: [{ provider: 'OPENAI_COMPATIBLE', secret_id: 's', target_model: 'g', base_url: 'http://x.example' }] }, 400, 'targets[0].base_url'],
      [{ targets: [{ provider: 'OPENAI_COMPATIBLE', secret_id: 's', target_model: 'g', base_url: 'https://x.example:8443' }] }, 400, 'targets[0].base_url'],
      [{ targets: [{ provider: 'OPENAI', secret_id: 's', target_model: 'g', base_url: 'https://x.example' }] }, 400, 'targets[0].base_url'],
      [{ targets: [{ provider: 'MYSTERY' }] }, 400, 'targets[0].provider'],
      [{ region: 'MARS', targets: [BASETEN] }, 400, 'region'],
      [{ targets: [{ provider: 'VERTEX', secret_id: 's', target_model: 'g', vertex_config: { project_id: 'p', location: 'l' } }] }, 200, null],
      [{ targets: [{ provider: 'OPENAI_COMPATIBLE', secret_id: 's', target_model: 'g', base_url: 'https://x.example/v1' }] }, 200, null],
      [{ targets: [{ provider: 'BASETEN_MODEL_API', target_model: 'deepseek-v3', model_id: null, base_url: null }] }, 200, null],
    ];
    let n = 0;
    for (const [body, status, param] of cases) {
      const res = await create(m, { slug: `your-org/t${n++}`, ...body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      if (param) expect(errorOf(res).param, JSON.stringify(body)).toBe(param);
    }
  });

  it('403 for another workspace’s endpoint, 404 for none; view scope reads but cannot write; not onboarded 403', async () => {
    const m = await mock();
    const theirs = await create(m, { slug: 'other-org/x', targets: [BASETEN] }, other);
    for (const [method, path] of [['get', ''], ['patch', ''], ['delete', '']] as const) {
      const res = await request(m.url)[method](`/v1/gateway/endpoints/${theirs.body.id}${path}`).set(auth).send(method === 'patch' ? { targets: [BASETEN] } : undefined);
      expect(res.status, method).toBe(403);
    }
    expect((await request(m.url).get('/v1/gateway/endpoints/nope').set(auth)).status).toBe(404);
    expect((await request(m.url).get('/v1/gateway/endpoints').set(view)).status).toBe(200);
    expect((await create(m, { slug: 'your-org/v', targets: [BASETEN] }, view)).status).toBe(403);
    expect((await request(m.url).get('/v1/gateway/endpoints').set(notOnboarded)).status).toBe(403);
    expect((await create(m, { slug: 'workspace-c/v', targets: [BASETEN] }, notOnboarded)).status).toBe(403);
    expect((await request(m.url).get('/v1/gateway/endpoints')).status).toBe(401);
  });

  it('endpoints and the registration key survive a snapshot and restore; reset forgets endpoints', async () => {
    const m = await mock({ register: { publicKey: Buffer.alloc(32, 9).toString('base64') } });
    const ep = await create(m, { slug: 'your-org/kept', region: 'EU', targets: [{ provider: 'VERTEX', secret_id: 's', target_model: 'g', vertex_config: { project_id: 'p', location: 'l' } }] });
    await request(m.url).put('/_mock/workspaces/workspace-b/register_public_key').send({ public_key: null });
    const snap = (await request(m.url).get('/_mock/snapshot')).body;
    await request(m.url).post('/_mock/reset');
    expect((await request(m.url).get(`/v1/gateway/endpoints/${ep.body.id}`).set(auth)).status).toBe(404);
    expect((await request(m.url).post('/_mock/snapshot').send(snap)).status).toBe(200);
    expect((await request(m.url).get(`/v1/gateway/endpoints/${ep.body.id}`).set(auth)).body).toEqual(ep.body);
    expect(errorOf(await create(m, { slug: 'your-org/kept', targets: [BASETEN] })).code).toBe('duplicate_slug');
    const workspaces = (await request(m.url).get('/_mock/state')).body.workspaces;
    expect(workspaces.map((w: { register_public_key: string | null }) => w.register_public_key)).toEqual([Buffer.alloc(32, 9).toString('base64'), null, Buffer.alloc(32, 9).toString('base64')]);
    const broken = structuredClone(snap);
    broken.endpoints.push({ ...broken.endpoints[0], id: 'other' });
    expect(errorOf(await request(m.url).post('/_mock/snapshot').send(broken)).message).toMatch(/endpoint slug "your-org\/kept" appears twice/);
  });

  it('PATCH: empty is 400; the slug is immutable by default (the same slug is accepted); --allow-endpoint-renames renames, checked like a create', async () => {
    const m = await mock();
    const a = await create(m, { slug: 'your-org/a', targets: [BASETEN] });
    const patch = (body: object, mm = m, id = a.body.id) => request(mm.url).patch(`/v1/gateway/endpoints/${id}`).set(auth).send(body);
    const empty = await patch({});
    expect(empty.status).toBe(400);
    expect(errorMessage(empty.body)).toBe('Provide targets.');
    const refused = await patch({ slug: 'your-org/z', targets: [{ ...BASETEN, model_id: 'changed' }] });
    expect(refused.status).toBe(400);
    expect(errorMessage(refused.body)).toMatch(/^slug is immutable after creation: create an endpoint with the new slug and delete this one/);
    // Nothing changed, not even the targets of the refused PATCH.
    const kept = await request(m.url).get(`/v1/gateway/endpoints/${a.body.id}`).set(auth);
    expect(kept.body).toMatchObject({ slug: 'your-org/a', targets: [{ model_id: 'abc123' }] });
    // Sending back the slug it has is no change.
    const same = await patch({ slug: 'your-org/a', targets: [{ ...BASETEN, model_id: 'def456' }] });
    expect(same.status, same.text).toBe(200);
    expect(same.body).toMatchObject({ slug: 'your-org/a', targets: [{ model_id: 'def456' }] });

    const renaming = await mock({ endpoints: { immutableSlugs: false } });
    const r = await create(renaming, { slug: 'your-org/a', targets: [BASETEN] });
    await create(renaming, { slug: 'your-org/b', targets: [BASETEN] });
    expect(errorMessage((await patch({}, renaming, r.body.id)).body)).toBe('Provide at least one of targets or slug.');
    const taken = await patch({ slug: 'your-org/b' }, renaming, r.body.id);
    expect([taken.status, errorMessage(taken.body)]).toEqual([400, 'slug your-org/b is already taken; endpoint slugs are unique across all organisations.']);
    const notOwned = await patch({ slug: 'someone/a' }, renaming, r.body.id);
    expect([notOwned.status, errorMessage(notOwned.body)]).toEqual([400, 'slug prefix someone is not owned by your organisation; owned: your-org, my-org.']);
    // A refused PATCH changes nothing, even the half that was valid.
    expect((await patch({ slug: 'your-org/c', targets: [] }, renaming, r.body.id)).status).toBe(400);
    expect((await request(renaming.url).get(`/v1/gateway/endpoints/${r.body.id}`).set(auth)).body.slug).toBe('your-org/a');
    const renamed = await patch({ slug: 'my-org/a' }, renaming, r.body.id);
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.slug).toBe('my-org/a');
    // The old slug is free again.
    expect((await create(renaming, { slug: 'your-org/a', targets: [BASETEN] })).status).toBe(200);
  });
});

describe('routing meets access', () => {
  async function callerOf(m: RunningMock, slug: string) {
    const model = { slug, usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 100 }] };
    const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: `e-${Math.random()}` }, models: [model], hierarchy: {} });
    const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
    return k.body.api_key as string;
  }
  const chat = (m: RunningMock, key: string, model: string) =>
    request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${key}`).send({ model, messages: [{ role: 'user', content: 'hi' }] });

  it('a chat for a slug with an endpoint names its target; re-pointing and deleting take effect at once', async () => {
    const m = await mock();
    const key = await callerOf(m, 'your-org/llama');
    const before = await chat(m, key, 'your-org/llama');
    expect(before.status).toBe(200);
    expect(before.headers['x-fgw-endpoint-target']).toBe('none');
    const ep = await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    expect((await chat(m, key, 'your-org/llama')).headers['x-fgw-endpoint-target']).toBe('BASETEN model_id=abc123 environment=production');
    await request(m.url).patch(`/v1/gateway/endpoints/${ep.body.id}`).set(auth).send({ targets: [{ provider: 'ANTHROPIC', secret_id: 's', target_model: 'claude-sonnet' }] });
    expect((await chat(m, key, 'your-org/llama')).headers['x-fgw-endpoint-target']).toBe('ANTHROPIC target_model=claude-sonnet');
    await request(m.url).delete(`/v1/gateway/endpoints/${ep.body.id}`).set(auth);
    expect((await chat(m, key, 'your-org/llama')).headers['x-fgw-endpoint-target']).toBe('none');
  });

  it('--endpoint-sync-seconds: a create, re-point or delete reaches inference that long after it is made, on the mock clock; management reads see it at once', async () => {
    const m = await mock({ endpoints: { syncSeconds: 60 } });
    const key = await callerOf(m, 'your-org/llama');
    const target = async () => (await chat(m, key, 'your-org/llama')).headers['x-fgw-endpoint-target'];
    const advance = (s: number) => request(m.url).post('/_mock/clock').send({ advance_seconds: s });
    const ep = await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    expect((await request(m.url).get(`/v1/gateway/endpoints/${ep.body.id}`).set(auth)).status).toBe(200);
    expect(await target()).toBe('none');
    await advance(59);
    expect(await target()).toBe('none');
    await advance(1);
    expect(await target()).toBe('BASETEN model_id=abc123 environment=production');
    const repointed = await request(m.url).patch(`/v1/gateway/endpoints/${ep.body.id}`).set(auth).send({ targets: [{ provider: 'OPENAI', secret_id: 's', target_model: 'gpt-4o' }] });
    expect(repointed.body.targets[0].provider).toBe('OPENAI');
    expect(await target()).toBe('BASETEN model_id=abc123 environment=production');
    await advance(60);
    expect(await target()).toBe('OPENAI target_model=gpt-4o');
    await request(m.url).delete(`/v1/gateway/endpoints/${ep.body.id}`).set(auth);
    expect((await request(m.url).get(`/v1/gateway/endpoints/${ep.body.id}`).set(auth)).status).toBe(404);
    expect(await target()).toBe('OPENAI target_model=gpt-4o');
    await advance(60);
    expect(await target()).toBe('none');
    // A reset (like a restore or a scenario load) counts as synced.
    await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    const snapshot = (await request(m.url).get('/_mock/snapshot')).body;
    await request(m.url).post('/_mock/snapshot').send(snapshot);
    expect(await target()).toBe('BASETEN model_id=abc123 environment=production');
  });

  it('--endpoint-sync-seconds with --require-endpoints: a slug whose endpoint is not synced yet is 404 saying when it will be', async () => {
    const m = await mock({ endpoints: { syncSeconds: 30, require: true } });
    const key = await callerOf(m, 'your-org/llama');
    await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    const early = await chat(m, key, 'your-org/llama');
    expect(early.status).toBe(404);
    expect(errorMessage(early.body)).toMatch(/^The model `your-org\/llama` has no endpoint the gateway has synced yet: its endpoint reaches inference at \d{4}-.*Z \(endpoints sync every 30 s\)\.$/);
    await request(m.url).post('/_mock/clock').send({ advance_seconds: 30 });
    expect((await chat(m, key, 'your-org/llama')).status).toBe(200);
  });

  it('a slug without an endpoint is served by default, and impossible to miss: the target header says none, X-Fgw-Note, the log and the inspector say the live gateway would refuse it', async () => {
    const lines: string[] = [];
    const m = await mock({ log: (l) => lines.push(l) });
    const key = await callerOf(m, 'your-org/llama');
    const served = await chat(m, key, 'your-org/llama');
    expect(served.status).toBe(200);
    expect(served.headers['x-fgw-endpoint-target']).toBe('none');
    const note = 'no endpoint routes your-org/llama in your organisation: the live gateway would refuse this call (404); the mock serves it unless --require-endpoints';
    expect(served.headers['x-fgw-note']).toBe(note);
    await vi.waitFor(() => expect(lines.some((l) => l.includes(`createChatCompletion  ${String(served.headers['x-request-id']).slice(0, 8)}  note: ${note}`))).toBe(true));
    const inspector = await request(m.url).get('/_mock/inspector.json');
    expect(inspector.body.journal.find((e: { request_id: string }) => e.request_id === served.headers['x-request-id'])).toMatchObject({ note });
    // With an endpoint, no note.
    await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    const routed = await chat(m, key, 'your-org/llama');
    expect(routed.headers['x-fgw-note']).toBeUndefined();
    await vi.waitFor(() => expect(lines.some((l) => l.includes(String(routed.headers['x-request-id']).slice(0, 8)))).toBe(true));
    expect(lines.find((l) => l.includes(String(routed.headers['x-request-id']).slice(0, 8)))).not.toContain('note:');
  });

  it('the OpenAI SDK sees the routing header, streaming included', async () => {
    const m = await mock();
    const key = await callerOf(m, 'your-org/llama');
    await create(m, { slug: 'your-org/llama', targets: [{ provider: 'OPENAI', secret_id: 's', target_model: 'gpt-4o' }] });
    const client = new OpenAI({ apiKey: key, baseURL: `${m.url}/v1` });
    const { data, response } = await client.chat.completions.create({ model: 'your-org/llama', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Echo: hello');
    expect(response.headers.get('x-fgw-endpoint-target')).toBe('OPENAI target_model=gpt-4o');
    const streamed = await client.chat.completions.create({ model: 'your-org/llama', messages: [{ role: 'user', content: 'hello' }], stream: true }).withResponse();
    expect(streamed.response.headers.get('x-fgw-endpoint-target')).toBe('OPENAI target_model=gpt-4o');
    for await (const _ of streamed.data);
  });

  it('--require-endpoints: a slug without an endpoint of the caller’s organisation is 404 and charges nothing', async () => {
    const m = await mock({ endpoints: { require: true } });
    const key = await callerOf(m, 'your-org/llama');
    const refused = await chat(m, key, 'your-org/llama');
    expect(refused.status).toBe(404);
    expect(errorOf(refused)).toMatchObject({ code: 'endpoint_not_found', param: 'model' });
    expect((await request(m.url).get('/_mock/state')).body.usage).toEqual([]);
    // Another organisation's endpoint for a slug does not route this workspace's calls.
    const theirs = await callerOf(m, 'other-org/x');
    await create(m, { slug: 'other-org/x', targets: [BASETEN] }, other);
    expect((await chat(m, theirs, 'other-org/x')).status).toBe(404);
    await create(m, { slug: 'your-org/llama', targets: [BASETEN] });
    expect((await chat(m, key, 'your-org/llama')).status).toBe(200);
    expect((await request(m.url).get('/_mock/state')).body.usage).toMatchObject([{ slug: 'your-org/llama', current_usage: 1 }]);
  });
});
