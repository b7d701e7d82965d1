import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import { startMock, type RunningMock } from '../../src/index.js';
import { mocksPerTest } from '../support/mocks.js';
import { ScenarioError } from '../../src/service/scenarios/scenario.js';
import { errorOf } from '../support/errors.js';

const SAAS = 'scenarios/saas-tiers.yaml';
const ENTERPRISE = 'scenarios/enterprise-cascading.yaml';
const CHURNED = 'scenarios/churned-customer.yaml';
const hello = [{ role: 'user' as const, content: 'Hello' }];

let checker: ContractChecker;
const { start } = mocksPerTest();
beforeAll(async () => {
  checker = await ContractChecker.load(true);
});

const sdk = (m: RunningMock, apiKey: string) => new OpenAI({ baseURL: `${m.url}/v1`, apiKey, maxRetries: 0 });

/** A management API call whose response must match the spec. */
async function api(m: RunningMock, key: string, method: 'get' | 'post' | 'delete', path: string, body?: object) {
  const req = request(m.url)[method](path).set('Authorization', `Api-Key ${key}`);
  const res = body ? await req.send(body) : await req;
  expect(checker.check({ method, path: path.split('?')[0] as string, status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res;
}

async function groupByExternalId(m: RunningMock, key: string, ext: string) {
  const res = await api(m, key, 'get', `/v1/gateway/groups?external_entity_id=${ext}`);
  expect(res.body.items, ext).toHaveLength(1);
  return res.body.items[0];
}

describe('the shipped scenarios', () => {
  it('saas-tiers: tiers and customers in INDEPENDENT mode, keys that chat through the OpenAI SDK at once', async () => {
    const m = await start({ scenarios: [SAAS] });
    const admin = 'saas-admin-key';
    const groups = (await api(m, admin, 'get', '/v1/gateway/groups')).body.items;
    expect(groups.map((g: any) => g.metadata.external_entity_id)).toEqual(['tier-free', 'tier-pro', 'cust-hobbyist', 'cust-acme', 'cust-globex']);
    const byExt = Object.fromEntries(groups.map((g: any) => [g.metadata.external_entity_id, g]));
    expect(groups.every((g: any) => g.hierarchy.limit_enforcement === 'INDEPENDENT')).toBe(true);
    expect(byExt['cust-acme'].hierarchy.parent_group_id).toBe(byExt['tier-pro'].id);
    // Globex's own daily cap overrides the tier's; its rate limit comes from the tier.
    expect(byExt['cust-globex'].effective_models).toEqual([
      {
        slug: 'saas-co/chat-large',
        rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 200000, source_group: byExt['tier-pro'].id }],
        usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 500000, source_group: byExt['cust-globex'].id }],
      },
    ]);
    const acmeKeys = (await api(m, admin, 'get', `/v1/gateway/groups/${byExt['cust-acme'].id}/api_keys`)).body.items;
    expect(acmeKeys).toEqual([
      { prefix: 'sky_acmeprod0001', name: 'acme-production' },
      { prefix: 'sky_acmestag0001', name: 'acme-staging' },
    ]);
    // The view key reads, and may not write.
    expect((await request(m.url).get('/v1/gateway/groups').set('Authorization', 'Api-Key saas-dashboard-key')).status).toBe(200);
    expect((await request(m.url).post('/v1/gateway/groups').set('Authorization', 'Api-Key saas-dashboard-key').send({})).status).toBe(403);

    for (const [key, model] of [
      ['sky_hobbyist0001.HobbyistFreeTierSecret0001', 'saas-co/chat-small'],
      ['sky_acmeprod0001.AcmeProTierProductionSecret1', 'saas-co/chat-large'],
      ['sky_acmestag0001.AcmeProTierStagingSecret0001', 'saas-co/chat-small'],
      ['sky_globex000001.GlobexProTierSecret000000001', 'saas-co/chat-large'],
    ] as const) {
      const completion = await sdk(m, key).chat.completions.create({ model, messages: hello });
      expect(completion.choices[0]?.message.role, key).toBe('assistant');
    }
    // A wrong secret behind a known prefix is refused.
    await expect(sdk(m, 'sky_acmeprod0001.NotTheSecret000000000000000').chat.completions.create({ model: 'saas-co/chat-large', messages: hello })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    // The free tier's 10 requests per minute, counted for the hobbyist alone: 9 more, then 429.
    const hobbyist = sdk(m, 'sky_hobbyist0001.HobbyistFreeTierSecret0001');
    for (let i = 0; i < 9; i++) await hobbyist.chat.completions.create({ model: 'saas-co/chat-small', messages: hello });
    await expect(hobbyist.chat.completions.create({ model: 'saas-co/chat-small', messages: hello })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    // Its endpoints route the slugs.
    const endpoints = (await api(m, admin, 'get', '/v1/gateway/endpoints')).body.items;
    expect(endpoints.map((e: any) => [e.slug, e.targets[0].provider])).toEqual([
      ['saas-co/chat-small', 'BASETEN'],
      ['saas-co/chat-large', 'OPENAI'],
    ]);
    const routed = await request(m.url)
      .post('/v1/chat/completions')
      .set('Authorization', 'Api-Key sky_acmestag0001.AcmeProTierStagingSecret0001')
      .send({ model: 'saas-co/chat-small', messages: hello });
    expect(routed.headers['x-fgw-endpoint-target']).toBe('BASETEN model_id=q841o8w3 environment=production');
    // The webhook secret of the scenario signs its billing events.
    expect(m.mock.store.workspace('saas-co')).toMatchObject({ onboarded: true, webhookSecret: 'saas-co-signing-secret', webhookUrl: null });
  });

  it('enterprise-cascading: the clock and the pre-consumed usage put the departments close to their limits', async () => {
    const m = await start({ scenarios: [ENTERPRISE] });
    const admin = 'globocorp-platform-key';
    const clock = await request(m.url).get('/_mock/clock');
    expect(Date.parse(clock.body.now) - Date.UTC(2026, 10, 23, 21)).toBeLessThan(60_000);
    const org = await groupByExternalId(m, admin, 'org-globocorp');
    const research = await groupByExternalId(m, admin, 'dept-research');
    expect(research.hierarchy).toEqual({ limit_enforcement: 'CASCADING', parent_group_id: org.id });

    const usage = (await api(m, admin, 'get', `/v1/gateway/groups/${research.id}/usage`)).body;
    expect(usage.customer_id).toBe('dept-research');
    expect(usage.usage['globocorp/assistant']).toEqual([
      { type: 'TOKEN', unit: 'DAY', threshold: 400000, current_usage: 380000, reset_at: '2026-11-24T00:00:00Z' },
      { type: 'REQUEST', unit: 'DAY', threshold: 2000, current_usage: 1997, reset_at: '2026-11-24T00:00:00Z' },
      // The org's budget is shared by every department: research's and support's usage together.
      { type: 'TOKEN', unit: 'DAY', threshold: 1000000, current_usage: 999000, reset_at: '2026-11-24T00:00:00Z' },
    ]);
    // The view key can read the usage too.
    expect((await request(m.url).get(`/v1/gateway/groups/${org.id}/usage`).set('Authorization', 'Api-Key globocorp-finance-key')).status).toBe(200);

    // Research has 3 requests left today, then the daily REQUEST limit says 429.
    const notebooks = sdk(m, 'sky_gcresearch01.ResearchDepartmentNotebookKey1');
    for (let i = 0; i < 3; i++) await notebooks.chat.completions.create({ model: 'globocorp/assistant', messages: hello });
    const refused = await notebooks.chat.completions.create({ model: 'globocorp/assistant', messages: hello }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    // The documented body holds only the message; the mock's code is in a header.
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('x-fgw-error-code')).toBe('usage_limit_exceeded');

    // Legal has no limits of its own, but draws on the org's last 1 000 tokens: it runs out soon.
    const legal = sdk(m, 'sky_gclegal00001.LegalDepartmentReviewToolKey001');
    let served = 0;
    let last: unknown;
    for (; served < 200; served++) {
      last = await legal.chat.completions.create({ model: 'globocorp/assistant', messages: hello }).catch((e: unknown) => e);
      if (last instanceof Error) break;
    }
    expect(served).toBeGreaterThan(0);
    expect(last).toBeInstanceOf(OpenAI.RateLimitError);
    const support = sdk(m, 'sky_gcsupport001.SupportDepartmentChatbotKey0001');
    await expect(support.chat.completions.create({ model: 'globocorp/assistant', messages: hello })).rejects.toBeInstanceOf(OpenAI.RateLimitError);

    // At midnight UTC the counters start again.
    await request(m.url).post('/_mock/clock').send({ now: '2026-11-24T00:00:01Z' });
    expect((await support.chat.completions.create({ model: 'globocorp/assistant', messages: hello })).choices).toHaveLength(1);
  });

  it("a snapshot of a scenario's state puts counters and clock back exactly after traffic and a clock move", async () => {
    const m = await start({ scenarios: [ENTERPRISE] });
    const saved = (await request(m.url).get('/_mock/snapshot')).body;
    const research = await groupByExternalId(m, 'globocorp-platform-key', 'dept-research');
    const usageOf = async () => (await api(m, 'globocorp-platform-key', 'get', `/v1/gateway/groups/${research.id}/usage`)).body.usage['globocorp/assistant'];
    const usageBefore = await usageOf();
    const notebooks = sdk(m, 'sky_gcresearch01.ResearchDepartmentNotebookKey1');
    for (let i = 0; i < 3; i++) await notebooks.chat.completions.create({ model: 'globocorp/assistant', messages: hello });
    await request(m.url).post('/_mock/clock').send({ advance_seconds: 7200 });
    expect((await usageOf())[1].current_usage).toBe(2000);

    expect((await request(m.url).post('/_mock/snapshot').send(saved)).body).toEqual({ ok: true });
    expect(await usageOf()).toEqual(usageBefore);
    expect(Math.abs(Date.parse((await request(m.url).get('/_mock/clock')).body.now) - saved.clock.now_ms)).toBeLessThan(5000);
    expect((await request(m.url).get('/_mock/snapshot')).body).toEqual({ ...saved, taken_at: expect.any(String), clock: expect.any(Object) });
    // Three requests left again.
    for (let i = 0; i < 3; i++) await notebooks.chat.completions.create({ model: 'globocorp/assistant', messages: hello });
    await expect(notebooks.chat.completions.create({ model: 'globocorp/assistant', messages: hello })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('churned-customer: deleting the churned group takes its subtree and keys; the other customer is untouched', async () => {
    const m = await start({ scenarios: [CHURNED] });
    const admin = 'churnco-ops-key';
    const keys = {
      root: 'sky_initechcron1.InitechForgottenCronJobKey01',
      child: 'sky_initecheu001.InitechEuropeSubAccountKey0001',
      other: 'sky_umbrella0001.UmbrellaStaysActiveKey00000001',
    };
    for (const key of Object.values(keys)) {
      expect((await sdk(m, key).chat.completions.create({ model: 'churnco/summarize', messages: hello })).object).toBe('chat.completion');
    }
    const initech = await groupByExternalId(m, admin, 'cust-initech');
    const usage = (await api(m, admin, 'get', `/v1/gateway/groups/${initech.id}/usage`)).body.usage['churnco/summarize'][0];
    expect(usage).toMatchObject({ type: 'REQUEST', unit: 'DAY', threshold: 5000, current_usage: 43 });

    const deleted = await api(m, admin, 'delete', `/v1/gateway/groups/${initech.id}`);
    expect(deleted.body.metadata.external_entity_id).toBe('cust-initech');
    for (const key of [keys.root, keys.child]) {
      await expect(sdk(m, key).chat.completions.create({ model: 'churnco/summarize', messages: hello })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    }
    const left = (await api(m, admin, 'get', '/v1/gateway/groups')).body.items;
    expect(left.map((g: any) => g.metadata.external_entity_id)).toEqual(['cust-umbrella']);
    expect((await sdk(m, keys.other).chat.completions.create({ model: 'churnco/summarize', messages: hello })).object).toBe('chat.completion');
  });

  it('several scenarios are merged in order, next to the configured workspaces', async () => {
    const m = await start({ scenarios: [SAAS, CHURNED] });
    expect(m.mock.scenarios.map((s) => s.source)).toEqual([SAAS, CHURNED]);
    expect(m.mock.store.workspaces().map((w) => w.id)).toEqual(['workspace-a', 'workspace-b', 'workspace-c', 'saas-co', 'churnco']);
    expect((await api(m, 'saas-admin-key', 'get', '/v1/gateway/groups')).body.items).toHaveLength(5);
    expect((await api(m, 'churnco-ops-key', 'get', '/v1/gateway/groups')).body.items).toHaveLength(3);
    // The default keys still work, and see none of it.
    expect((await api(m, 'mock-management-key', 'get', '/v1/gateway/groups')).body.items).toEqual([]);
  });
});

describe('POST /_mock/scenarios and reset', () => {
  const extra = {
    workspaces: [{ id: 'workspace-a' }],
    groups: [
      {
        name: 'starter',
        metadata: { name: 'Starter', external_entity_id: 'starter' },
        models: [{ slug: 'acme/chat', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 100 }] }],
        keys: [{ name: 'ci', api_key: 'sky_ci0000000001.CiSecretForTheStarterTier01' }],
        usage: [{ slug: 'acme/chat', type: 'REQUEST', used: 40 }],
      },
      { name: 'child', parent: 'starter', models: [{ slug: 'acme/chat' }] },
    ],
  };

  it('loads a scenario on top of the state and answers with the ids of its groups', async () => {
    const m = await start({});
    const res = await request(m.url).post('/_mock/scenarios').send(extra);
    expect(res.status).toBe(200);
    expect(checker.check({ method: 'post', path: '/_mock/scenarios', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
    expect(res.body).toMatchObject({ ok: true, workspaces: ['workspace-a'], api_keys: [{ group: 'starter', prefix: 'sky_ci0000000001', name: 'ci' }] });
    const [starter, child] = res.body.groups;
    expect(starter).toMatchObject({ name: 'starter', workspace_id: 'workspace-a', external_entity_id: 'starter' });
    // external_entity_id defaults to the local name.
    expect(child).toMatchObject({ name: 'child', external_entity_id: 'child' });
    const got = await api(m, 'mock-management-key', 'get', `/v1/gateway/groups/${child.id}`);
    expect(got.body.hierarchy.parent_group_id).toBe(starter.id);
    const usage = await api(m, 'mock-management-key', 'get', `/v1/gateway/groups/${starter.id}/usage`);
    expect(usage.body.usage['acme/chat'][0].current_usage).toBe(40);
    expect((await sdk(m, 'sky_ci0000000001.CiSecretForTheStarterTier01').chat.completions.create({ model: 'acme/chat', messages: hello })).object).toBe(
      'chat.completion',
    );
  });

  it('reset goes back to the start-up state: the start-up scenarios stay, what was loaded or made later goes', async () => {
    const m = await start({ scenarios: [CHURNED] });
    const before = m.snapshot();
    expect((await request(m.url).post('/_mock/scenarios').send(extra)).status).toBe(200);
    await sdk(m, 'sky_umbrella0001.UmbrellaStaysActiveKey00000001').chat.completions.create({ model: 'churnco/summarize', messages: hello });
    const initech = await groupByExternalId(m, 'churnco-ops-key', 'cust-initech');
    await api(m, 'churnco-ops-key', 'delete', `/v1/gateway/groups/${initech.id}`);

    expect((await request(m.url).post('/_mock/reset')).body).toEqual({ ok: true });
    const after = m.snapshot();
    expect({ ...after, taken_at: 0, clock: 0 }).toEqual({ ...before, taken_at: 0, clock: 0 });
    expect(after.clock.offset_ms).toBe(before.clock.offset_ms);
    expect((await sdk(m, 'sky_initechcron1.InitechForgottenCronJobKey01').chat.completions.create({ model: 'churnco/summarize', messages: hello })).object).toBe(
      'chat.completion',
    );
    await expect(sdk(m, 'sky_ci0000000001.CiSecretForTheStarterTier01').chat.completions.create({ model: 'acme/chat', messages: hello })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });

  it("sets org prefixes, environments and the registration key of a workspace, and adds endpoints, through the API's rules", async () => {
    const m = await start({});
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicBase64 = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    const res = await request(m.url)
      .post('/_mock/scenarios')
      .send({
        workspaces: [{ id: 'labs', org_prefixes: ['labs', 'labs-eu'], environments: ['production', 'canary'], register_public_key: publicBase64, management_keys: [{ key: 'labs-key' }] }],
        endpoints: [
          { slug: 'labs-eu/chat', region: 'EU', targets: [{ provider: 'BASETEN', model_id: 'm1', environment_name: 'canary' }] },
          { slug: 'labs/tools', targets: [{ provider: 'OPENAI_COMPATIBLE', secret_id: 's1', target_model: 'x', base_url: 'https://llm.example.com/v1' }] },
        ],
        groups: [{ name: 'team', models: [{ slug: 'labs-eu/chat' }] }],
      });
    expect(res.status).toBe(200);
    expect(res.body.endpoints.map((e: any) => e.slug)).toEqual(['labs-eu/chat', 'labs/tools']);
    const listed = (await api(m, 'labs-key', 'get', '/v1/gateway/endpoints')).body.items;
    expect(listed.map((e: any) => [e.slug, e.region, e.targets[0].environment_name])).toEqual([
      ['labs-eu/chat', 'EU', 'canary'],
      ['labs/tools', 'UNRESTRICTED', null],
    ]);
    // A key registered with a signature from the scenario's public key.
    const raw = JSON.stringify({ key: 'labs_registered_0123456789abcdefXYZ', name: 'byo' });
    const registered = await request(m.url)
      .post(`/v1/gateway/groups/${res.body.groups[0].id}/api_keys/register`)
      .set('Authorization', 'Api-Key labs-key')
      .set('Content-Type', 'application/json')
      .set('X-Baseten-Signature', sign(null, Buffer.from(raw), privateKey).toString('base64'))
      .send(raw);
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    expect((await sdk(m, 'labs_registered_0123456789abcdefXYZ').chat.completions.create({ model: 'labs-eu/chat', messages: hello })).object).toBe('chat.completion');
    // The snapshot keeps all of it.
    expect(m.snapshot().workspaces.find((w) => w.id === 'labs')).toMatchObject({ org_prefixes: ['labs', 'labs-eu'], register_public_key: publicBase64 });
  });

  it('clock.start may go back in time only on a mock that holds nothing timestamped', async () => {
    const m = await start({});
    expect((await request(m.url).post('/_mock/scenarios').send({ clock: { start: '2020-02-02T00:00:00Z' } })).status).toBe(200);
    expect((await request(m.url).get('/_mock/clock')).body.now.slice(0, 10)).toBe('2020-02-02');
    await api(m, 'mock-management-key', 'post', '/v1/gateway/groups', { metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    const res = await request(m.url).post('/_mock/scenarios').send({ clock: { start: '2020-01-01T00:00:00Z' } });
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toContain('clock.start 2020-01-01T00:00:00Z is before the mock\'s current time');
    // Forward is always fine.
    expect((await request(m.url).post('/_mock/scenarios').send({ clock: { start: '2021-01-01T00:00:00Z' } })).status).toBe(200);
  });

  it('reset without start-up scenarios still goes back to real time', async () => {
    const m = await start({});
    await request(m.url).post('/_mock/scenarios').send({ clock: { start: '2030-01-01T00:00:00Z' } });
    expect((await request(m.url).get('/_mock/clock')).body.now.slice(0, 4)).toBe('2030');
    await request(m.url).post('/_mock/reset');
    expect((await request(m.url).get('/_mock/clock')).body.offset_seconds).toBe(0);
  });
});

describe('a broken scenario', () => {
  const base = () => ({
    workspaces: [{ id: 'acme', management_keys: [{ key: 'acme-key' }] }],
    groups: [
      { name: 'free', models: [{ slug: 'acme/chat', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 10 }] }], keys: [{ api_key: 'sky_acmefree0001.FreeSecret0000000000001' }] },
      { name: 'pro-root', limit_enforcement: 'CASCADING', models: [{ slug: 'acme/chat', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 100 }] }] },
      { name: 'pro-acme', parent: 'pro-root', models: [{ slug: 'acme/chat', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 50 }] }] },
    ],
  });
  const cases: [string, (s: any) => void, string][] = [
    ['a negative threshold', (s) => (s.groups[2].models[0].rate_limits[0].threshold = -1), 'groups[2] "pro-acme": models[0].rate_limits[0].threshold must be >= 0'],
    ['a missing parent', (s) => (s.groups[2].parent = 'pro-rooot'), 'groups[2] "pro-acme": parent "pro-rooot" is not the name of a group in this scenario'],
    ['an unknown field', (s) => (s.groups[0].tier = 'free'), 'groups[0] "free": has an unknown field "tier"'],
    ['a missing field', (s) => delete s.groups[1].models, 'groups[1] "pro-root": models is required'],
    ['a malformed key', (s) => (s.groups[0].keys[0].api_key = 'short.key'), 'groups[0] "free": keys[0].api_key must be prefix.secret'],
    ['a bad unit', (s) => (s.groups[0].models[0].rate_limits[0].unit = 'HOUR'), 'groups[0] "free": models[0].rate_limits[0].unit must be one of SECOND, MINUTE'],
    ['a bad slug', (s) => (s.groups[0].models[0].slug = 'no-slash'), 'groups[0] "free": models[0].slug must be a model slug shaped org/name'],
    ['a duplicate local name', (s) => (s.groups[1].name = 'free'), 'groups[1] "free": name "free" is already used by groups[0]'],
    ['a parent cycle', (s) => (s.groups[1].parent = 'pro-acme'), 'groups[1] "pro-root": parent chain pro-root -> pro-acme -> pro-root is a cycle'],
    ['a child in another mode than its tree', (s) => (s.groups[2].limit_enforcement = 'INDEPENDENT'), 'groups[2] "pro-acme": limit_enforcement must be CASCADING'],
    ['a bad clock', (s) => (s.clock = { start: 'tomorrow' }), 'clock.start must be an RFC 3339 date-time'],
    ['an unknown workspace', (s) => (s.groups[0].workspace = 'nowhere'), 'groups[0] "free": workspace "nowhere" is neither in this scenario nor in the mock'],
    // Rules that only the Gateway knows, found while applying: what was applied before is rolled back.
    ['a child above its CASCADING parent', (s) => (s.groups[2].models[0].rate_limits[0].threshold = 500), 'groups[2] "pro-acme": Child group exceeds parent group limit. (acme/chat REQUEST/MINUTE: 500 is above 100 set by ancestor "pro-root".)'],
    ['a key prefix already in the mock', (s) => (s.groups[0].keys[0].api_key = 'sky_existing0001.AnotherSecret00000000001'), 'groups[0] "free": keys[0].api_key: A key with prefix sky_existing0001 already exists'],
    ['a management key already in the mock', (s) => (s.workspaces[0].management_keys[0].key = 'mock-management-key'), 'workspaces[0] "acme": management_keys[0].key is already a management key of the mock'],
    ['an endpoint outside the org prefixes', (s) => (s.endpoints = [{ slug: 'other/chat', targets: [{ provider: 'BASETEN', model_id: 'm' }] }]), 'endpoints[0] "other/chat": slug prefix other is not owned by your organisation'],
    ['an endpoint target missing a field', (s) => (s.endpoints = [{ slug: 'acme/chat', targets: [{ provider: 'OPENAI', secret_id: 's' }] }]), 'endpoints[0] "acme/chat": targets[0].target_model is required for provider OPENAI'],
    ['an org prefix owned by another workspace', (s) => (s.workspaces[0].org_prefixes = ['your-org']), 'workspaces[0] "acme": org prefix "your-org" is already owned by workspace workspace-a'],
    ['a malformed registration key', (s) => (s.workspaces[0].register_public_key = 'AAAA'), 'workspaces[0] "acme": register_public_key must be the raw 32-byte Ed25519 public key'],
    ['usage without a daily limit', (s) => (s.groups[0].usage = [{ slug: 'acme/chat', type: 'TOKEN', used: 5 }]), 'groups[0] "free": usage[0]: group "free" has no DAY TOKEN limit for acme/chat'],
  ];

  it.each(cases)('is refused over HTTP with a precise message, and nothing changes: %s', async (_what, spoil, message) => {
    const m = await start({});
    // Something in the mock already, so that "nothing changes" is not trivially true.
    const g = await api(m, 'mock-management-key', 'post', '/v1/gateway/groups', { metadata: { external_entity_id: 'existing' }, models: [{ slug: 'acme/chat' }], hierarchy: {} });
    expect((await request(m.url).post('/_mock/scenarios').send({ groups: [{ name: 'k', workspace: 'workspace-a', models: [{ slug: 'a/b' }], keys: [{ api_key: 'sky_existing0001.ExistingSecret000000001' }] }] })).status).toBe(200);
    const before = m.snapshot();
    const bad = base();
    spoil(bad);
    const res = await request(m.url).post('/_mock/scenarios').send(bad);
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('invalid_scenario');
    expect(errorOf(res).message).toContain(message);
    expect(checker.check({ method: 'post', path: '/_mock/scenarios', status: 400, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
    expect({ ...m.snapshot(), taken_at: 0, clock: 0 }).toEqual({ ...before, taken_at: 0, clock: 0 });
    expect(m.mock.store.workspace('acme')).toBeUndefined();
    expect(g.status).toBe(200);
  });

  it('lists every problem the schema finds at once', async () => {
    const m = await start({});
    const bad = base() as any;
    bad.groups[0].models[0].rate_limits[0].threshold = -1;
    bad.groups[1].extra = true;
    const res = await request(m.url).post('/_mock/scenarios').send(bad);
    expect(errorOf(res).message).toContain('groups[0] "free": models[0].rate_limits[0].threshold must be >= 0');
    expect(errorOf(res).message).toContain('groups[1] "pro-root": has an unknown field "extra"');
  });

  it('stops start-up with the file name and the entry at fault; a YAML syntax error names its line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-scenario-'));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'groups:\n  - name: a\n    models: [{ slug: a/b, rate_limits: [{ type: REQUEST, unit: MINUTE, threshold: -1 }] }]\n    workspace: workspace-a\n');
    const err = await startMock({ scenarios: [SAAS, broken] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as Error).message).toContain(`${broken}: scenario refused, nothing was loaded`);
    expect((err as Error).message).toContain('groups[0] "a": models[0].rate_limits[0].threshold must be >= 0');
    const syntax = join(dir, 'syntax.yaml');
    writeFileSync(syntax, 'groups:\n  - name: a\n   models: []\n');
    expect(String(await startMock({ scenarios: [syntax] }).catch((e: unknown) => e))).toMatch(/not valid YAML: .*line 3/s);
    expect(String(await startMock({ scenarios: [join(dir, 'missing.yaml')] }).catch((e: unknown) => e))).toContain('cannot read the file');
  });
});
