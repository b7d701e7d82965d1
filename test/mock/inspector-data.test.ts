import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { describeTarget, type EndpointTarget } from '../../src/domain/endpoints.js';
import { startMock } from '../../src/index.js';
import { mockPerFile } from '../support/mocks.js';

/** GET /_mock/ and /_mock/inspector.json over HTTP; the page itself is tested in a browser (test/browser). */

const file = mockPerFile();
const MGMT = 'mock-management-key';
const auth = { Authorization: `Api-Key ${MGMT}` };

/** The inspector's document, held to its schema. */
async function inspectorData(url = file.mock.url) {
  const res = await request(url).get('/_mock/inspector.json?tail=1000');
  expect(res.status).toBe(200);
  expect(file.checker.check({ method: 'get', path: '/_mock/inspector.json', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res;
}

async function group(url: string, ext: string, models: object[], hierarchy: object = {}) {
  const res = await request(url).post('/v1/gateway/groups').set(auth).send({ metadata: { name: `${ext} name`, external_entity_id: ext }, models, hierarchy });
  expect(res.status).toBe(200);
  return res.body.id as string;
}

async function mint(url: string, groupId: string) {
  const res = await request(url).post(`/v1/gateway/groups/${groupId}/api_keys`).set(auth).send({ name: 'inspected' });
  expect(res.status).toBe(200);
  return { apiKey: res.body.api_key as string, prefix: res.body.prefix as string };
}

describe('the inspector routes', () => {
  it('GET /_mock/ (and /_mock) is a self-contained HTML page: no external script, style, font or image', async () => {
    for (const path of ['/_mock/', '/_mock']) {
      const res = await request(file.mock.url).get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(file.checker.check({ method: 'get', path, status: res.status, contentType: res.headers['content-type'], body: res.text })).toEqual([]);
      // Its data is read beside the page's own URL (so /_proxy/ reads /_proxy/inspector.json): test/browser checks the requests.
      expect(res.text).toContain('base + "inspector.json');
      expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
      expect(res.text).not.toMatch(/@import|url\(/i);
    }
    expect((await request(file.mock.url).post('/_mock/')).status).toBe(405);
  });

  it('is not served with --no-admin', async () => {
    const off = await startMock({ admin: false });
    try {
      expect((await request(off.url).get('/_mock/')).status).toBe(404);
      expect((await request(off.url).get('/_mock/inspector.json')).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('a very large state is shown in part: at most 500 groups and 50 keys a group, with counts of the rest', async () => {
    file.mock.reset();
    const gw = file.mock.mock.gateway;
    const root = gw.groups.create('workspace-a', { metadata: { external_entity_id: 'big-root' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    for (let i = 0; i < 60; i++) gw.keys.mint('workspace-a', root.id, `k${i}`);
    for (let i = 0; i < 520; i++) gw.groups.create('workspace-a', { metadata: { external_entity_id: `big-${i}` }, models: [{ slug: 'a/b' }], hierarchy: i % 2 ? { parent_group_id: root.id } : {} });
    const res = await request(file.mock.url).get('/_mock/inspector.json');
    expect(file.checker.check({ method: 'get', path: '/_mock/inspector.json', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
    const ws = res.body.workspaces.find((w: any) => w.id === 'workspace-a');
    const count = (nodes: any[]): number => nodes.reduce((n, g) => n + 1 + count(g.children), 0);
    expect(count(ws.groups)).toBe(500);
    expect(ws.groups_not_shown).toBe(21);
    const big = ws.groups.find((g: any) => g.id === root.id);
    expect([big.keys.length, big.key_count]).toEqual([50, 60]);
    expect(JSON.stringify(res.body)).not.toMatch(/sky_[A-Za-z0-9]{12}\.[A-Za-z0-9]/);
    file.mock.reset();
  });
});

describe('what the inspector explains', () => {
  it('endpoints: slug, targets as X-Fgw-Endpoint-Target describes them, region, and the groups whose effective models hold the slug', async () => {
    file.mock.reset();
    const m = file.mock.url;
    const target: EndpointTarget = { provider: 'BASETEN', model_id: 'abc123', environment_name: 'staging', secret_id: null, target_model: null, vertex_config: null, base_url: null };
    const ep = await request(m).post('/v1/gateway/endpoints').set(auth).send({ slug: 'your-org/llama', region: 'EU', targets: [{ provider: 'BASETEN', model_id: 'abc123', environment_name: 'staging' }] });
    expect(ep.status).toBe(200);
    const other = await request(m).post('/v1/gateway/endpoints').set(auth).send({ slug: 'your-org/unused', targets: [{ provider: 'OPENAI', secret_id: 'sec_1', target_model: 'gpt-4o' }] });
    expect(other.status).toBe(200);
    // A CASCADING parent and child both listing the slug; a sibling without it; another workspace's group with it.
    const parent = await group(m, 'ep-parent', [{ slug: 'your-org/llama', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 5 }] }], { limit_enforcement: 'CASCADING' });
    const child = await group(m, 'ep-child', [{ slug: 'your-org/llama' }], { parent_group_id: parent });
    await group(m, 'ep-none', [{ slug: 'your-org/other' }]);
    const foreign = await request(m).post('/v1/gateway/groups').set({ Authorization: 'Api-Key mock-other-workspace-key' }).send({ metadata: { external_entity_id: 'ep-foreign' }, models: [{ slug: 'your-org/llama' }], hierarchy: {} });
    expect(foreign.status).toBe(200);

    const ws = (await inspectorData()).body.workspaces.find((w: any) => w.id === 'workspace-a');
    expect(ws.endpoints).toEqual([
      {
        id: ep.body.id,
        slug: 'your-org/llama',
        region: 'EU',
        targets: [describeTarget(target)],
        callers: [
          { id: parent, name: 'ep-parent name', external_entity_id: 'ep-parent' },
          { id: child, name: 'ep-child name', external_entity_id: 'ep-child' },
        ],
        caller_count: 2,
      },
      { id: other.body.id, slug: 'your-org/unused', region: 'UNRESTRICTED', targets: ['OPENAI target_model=gpt-4o'], callers: [], caller_count: 0 },
    ]);
    expect(ws.endpoints[0].targets).toEqual(['BASETEN model_id=abc123 environment=staging']);
    expect(ws.endpoints_not_shown).toBe(0);
    // The groups' effective models, as the API reports them, agree with the callers listed.
    for (const id of [parent, child]) {
      const api = (await request(m).get(`/v1/gateway/groups/${id}`).set(auth)).body;
      expect(api.effective_models.map((e: any) => e.slug)).toContain('your-org/llama');
    }
  });

  it('journal rows name the caller (federated key prefix and group; the workspace of a management key), carry the redacted bodies, and hold no secret', async () => {
    file.mock.reset();
    await request(file.mock.url).delete('/_mock/requests').expect(200);
    const m = file.mock.url;
    const g = await group(m, 'caller', [{ slug: 'meta/llama' }]);
    const { apiKey, prefix } = await mint(m, g);
    const openai = new OpenAI({ apiKey, baseURL: `${m}/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'meta/llama', messages: [{ role: 'user', content: 'who am I?' }] });
    await request(m).get('/v1/models').set('Authorization', 'Bearer sky_wrongwrongwr.not-a-real-secret-value').expect(401);

    const res = await inspectorData();
    const journal = res.body.journal as any[];
    const chat = journal.find((e) => e.operation === 'createChatCompletion');
    expect(chat).toMatchObject({ workspace_id: 'workspace-a', key_prefix: prefix, group: { id: g, name: 'caller name', external_entity_id: 'caller' }, refusal: null });
    expect(chat.request.body.messages).toEqual([{ role: 'user', content: 'who am I?' }]);
    expect(chat.request.headers.authorization).toBe('Bearer [redacted]');
    expect(chat.response.body.choices[0].message.content).toBeTruthy();
    const minted = journal.find((e) => e.operation === 'createApiKey');
    expect(minted).toMatchObject({ workspace_id: 'workspace-a', key_prefix: null, group: null });
    expect(minted.response.body).toEqual({ api_key: `${prefix}[redacted]`, prefix, name: 'inspected' });
    const refusedKey = journal.find((e) => e.operation === 'listModels');
    expect(refusedKey).toMatchObject({ status: 401, workspace_id: null, key_prefix: null, group: null });
    // The journal's own entries carry the same caller fields.
    const entry = (await request(m).get('/_mock/requests?operation=createChatCompletion')).body.entries[0];
    expect([entry.workspace_id, entry.key_prefix, entry.group_id]).toEqual(['workspace-a', prefix, g]);
    // No secret anywhere in the document: not the minted key's secret, not the management key, not a wrong key's secret.
    for (const needle of [apiKey, apiKey.split('.')[1] as string, MGMT, 'not-a-real-secret-value']) expect(res.text).not.toContain(needle);
    expect(res.text).not.toMatch(/sky_[A-Za-z0-9]{12}\.[A-Za-z0-9]/);
    // A deleted group is still named by its id.
    await request(m).delete(`/v1/gateway/groups/${g}`).set(auth).expect(200);
    const after = (await inspectorData()).body.journal.find((e: any) => e.operation === 'createChatCompletion');
    expect(after.group).toEqual({ id: g, name: null, external_entity_id: null });
  });

  it('a 429 of a TOKEN limit and of a RATE limit says which limit refused it: type, unit, threshold, source group, model, and when it lets the request through', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1, 12, 0, 30));
    const m = await startMock({ baseClock: clock });
    try {
      const parent = await group(m.url, 'tok-parent', [{ slug: 'meta/llama', usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 40 }] }], { limit_enforcement: 'CASCADING' });
      const child = await group(m.url, 'tok-child', [{ slug: 'meta/llama', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 2 }] }], { parent_group_id: parent });
      const { apiKey, prefix } = await mint(m.url, child);
      const chat = (content: string) => request(m.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${apiKey}`).send({ model: 'meta/llama', messages: [{ role: 'user', content }] });
      const first = await chat('one two three four five');
      expect(first.status).toBe(200);
      const used = first.body.usage.total_tokens as number;
      // A request too big for what is left of the parent's TOKEN/DAY limit.
      const big = await chat('x '.repeat(40));
      expect(big.status).toBe(429);
      // The child's REQUEST/MINUTE limit of 2: the second admitted request fills it, the third is refused.
      expect((await chat('hi')).status).toBe(200);
      const rated = await chat('hi');
      expect(rated.status).toBe(429);

      const journal = (await inspectorData(m.url)).body.journal as any[];
      const [rateRow, tokenRow] = journal.filter((e) => e.status === 429);
      expect(tokenRow.refusal).toMatchObject({
        limit: 'usage',
        type: 'TOKEN',
        unit: 'DAY',
        threshold: 40,
        source_group: parent,
        model: 'meta/llama',
        operation: null,
        used,
        retry_after: 12 * 3600 - 30,
        reset_at: '2030-01-02T00:00:00.000Z',
      });
      expect(tokenRow.refusal.requested).toBeGreaterThan(40 - used);
      expect(tokenRow).toMatchObject({ key_prefix: prefix, group: { id: child, external_entity_id: 'tok-child' } });
      expect(tokenRow.response.headers['retry-after']).toBe(String(tokenRow.refusal.retry_after));
      expect(rateRow.refusal).toEqual({
        limit: 'rate',
        type: 'REQUEST',
        unit: 'MINUTE',
        threshold: 2,
        source_group: child,
        model: 'meta/llama',
        operation: null,
        used: 2,
        requested: 1,
        retry_after: 60,
        reset_at: '2030-01-01T12:01:30.000Z',
      });
      // The 429's message names the same limit.
      expect(rateRow.response.body.error).toBe(`Rate limit exceeded: REQUEST per MINUTE threshold 2 of group ${child} for meta/llama.`);
      // The journal route keeps the refusal too.
      const entries = (await request(m.url).get('/_mock/requests?status=429')).body.entries as any[];
      expect(entries.map((e) => e.refusal?.type)).toEqual(['REQUEST', 'TOKEN']);
      expect(journal.filter((e) => e.status === 200).every((e) => e.refusal === null)).toBe(true);
    } finally {
      await m.close();
    }
  });

  it("a 429 of the management API's own rate limit names it: REQUEST per SECOND, the threshold, the operation, the workspace", async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1, 12, 0, 0, 250));
    const m = await startMock({ baseClock: clock, managementRateLimit: 2 });
    try {
      for (let i = 0; i < 2; i++) await request(m.url).get('/v1/gateway/groups').set(auth).expect(200);
      const refused = await request(m.url).get('/v1/gateway/groups').set(auth);
      expect(refused.status).toBe(429);
      const row = (await inspectorData(m.url)).body.journal.find((e: any) => e.status === 429);
      expect(row).toMatchObject({ operation: 'listGroups', workspace_id: 'workspace-a', key_prefix: null, group: null });
      expect(row.refusal).toEqual({
        limit: 'management',
        type: 'REQUEST',
        unit: 'SECOND',
        threshold: 2,
        source_group: null,
        model: null,
        operation: 'listGroups',
        used: 2,
        requested: 1,
        retry_after: refused.body.retry_after,
        reset_at: '2030-01-01T12:00:01.000Z',
      });
      expect(row.refusal.retry_after).toBe(1);
    } finally {
      await m.close();
    }
  });
});

describe('GET / points to the inspector', () => {
  it('a browser is redirected to /_mock/; a JSON client gets where the inspector, health, API and docs are', async () => {
    const browser = await request(file.mock.url).get('/').set('Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    expect(browser.status).toBe(302);
    expect(browser.headers.location).toBe('/_mock/');
    expect(browser.text).toContain('href="/_mock/"');
    expect(file.checker.check({ method: 'get', path: '/', status: 302, contentType: browser.headers['content-type'], body: browser.text })).toEqual([]);
    for (const accept of [undefined, '*/*', 'application/json']) {
      const req = request(file.mock.url).get('/');
      const res = await (accept === undefined ? req : req.set('Accept', accept));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(file.checker.check({ method: 'get', path: '/', status: 200, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
      expect(res.body).toMatchObject({ service: 'frontier-gateway-mock', inspector: '/_mock/', inspector_data: '/_mock/inspector.json', health: '/_mock/health', api: { management: '/v1/gateway/', inference: '/v1/' } });
      expect(res.body.docs.guide).toBe('docs/guide.md');
    }
    // Each place it names answers.
    for (const path of ['/_mock/', '/_mock/inspector.json', '/_mock/health']) expect((await request(file.mock.url).get(path)).status).toBe(200);
    // The root is not journaled (it is the mock's own).
    expect((await request(file.mock.url).get('/_mock/requests')).body.entries.some((e: any) => e.path === '/')).toBe(false);
  });

  it('with --no-admin it is still served, and says the inspector is off', async () => {
    const off = await startMock({ admin: false });
    try {
      const json = await request(off.url).get('/');
      expect(json.status).toBe(200);
      expect(json.body).toMatchObject({ inspector: null, inspector_data: null, health: '/_mock/health' });
      expect(json.body.message).toContain('--no-admin');
      const page = await request(off.url).get('/').set('Accept', 'text/html');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.text).toContain('--no-admin');
      expect(page.text).toContain('href="/_mock/health"');
      expect(page.text).not.toContain('href="/_mock/"');
    } finally {
      await off.close();
    }
  });
});
