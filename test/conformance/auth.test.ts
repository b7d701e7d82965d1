import { describe, expect } from 'vitest';
import { mockRule, model, rule, type Harness, type Res } from './support/harness.js';

/** One call of every management operation on `groupId`, with `key`. */
function everyRoute(h: Harness, groupId: string, prefix: string) {
  const g = `/v1/gateway/groups/${groupId}`;
  return [
    { name: 'listGroups', write: false, run: (key: string | null) => h.api.get('/v1/gateway/groups', { key }) },
    {
      name: 'createGroup',
      write: true,
      run: (key: string | null) =>
        h.api.post('/v1/gateway/groups', { metadata: { external_entity_id: h.extId('auth') }, models: [model(h.slug())], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } }, { key }),
    },
    { name: 'getGroup', write: false, run: (key: string | null) => h.api.get(g, { key }) },
    { name: 'updateGroup', write: true, run: (key: string | null) => h.api.patch(g, { metadata: { name: 'x' } }, { key }) },
    { name: 'getGroupUsage', write: false, run: (key: string | null) => h.api.get(`${g}/usage`, { key }) },
    { name: 'createApiKey', write: true, run: (key: string | null) => h.api.post(`${g}/api_keys`, {}, { key }) },
    { name: 'listApiKeys', write: false, run: (key: string | null) => h.api.get(`${g}/api_keys`, { key }) },
    { name: 'getApiKey', write: false, run: (key: string | null) => h.api.get(`${g}/api_keys/${prefix}`, { key }) },
    { name: 'revokeApiKey', write: true, run: (key: string | null) => h.api.del(`${g}/api_keys/${prefix}`, { key }) },
    { name: 'deleteGroup', write: true, run: (key: string | null) => h.api.del(g, { key }) },
  ];
}

async function fixture(h: Harness) {
  const g = await h.group();
  const k = await h.key(g.id);
  return { g, k, routes: everyRoute(h, g.id, k.prefix) };
}

/** Runs every route with `key` at once (they are independent), remembering any group a broken target let through. */
async function all(h: Harness, routes: ReturnType<typeof everyRoute>, key: string | null): Promise<[string, Res][]> {
  return Promise.all(
    routes.map(async (r) => {
      const res = await r.run(key);
      if (r.name === 'createGroup' && res.status === 200) h.track(res.body.id);
      return [r.name, res] as [string, Res];
    }),
  );
}

describe('Authentication and tenancy', () => {
  rule('a missing, malformed or unknown key is refused on every route (401 on the mock)', [], async (h) => {
    const { routes } = await fixture(h);
    for (const [name, res] of await all(h, routes, null)) h.expectRefused(res, 401, `${name} without a key`);
    for (const [name, res] of await all(h, routes, 'definitely-not-a-key')) h.expectRefused(res, 401, `${name} with an unknown key`);
    h.expectRefused(await h.api.get('/v1/gateway/groups', { key: 'a b c', scheme: 'Token' }), 401, 'malformed Authorization');
  });

  rule('both Api-Key and Bearer schemes are accepted', [], async (h) => {
    expect((await h.api.get('/v1/gateway/groups', { scheme: 'Api-Key' })).status).toBe(200);
    expect((await h.api.get('/v1/gateway/groups', { scheme: 'Bearer' })).status).toBe(200);
  });

  rule('a federated key cannot call the management API', [], async (h) => {
    const { k } = await fixture(h);
    h.expectRefused(await h.api.get('/v1/gateway/groups', { key: k.api_key }), 401);
  });

  rule('a view-scope key may list groups but not write (403)', ['view-key'], async (h) => {
    const { routes } = await fixture(h);
    expect((await routes.find((r) => r.name === 'listGroups')!.run(h.t.keys.view as string)).status).toBe(200);
    const writes = routes.filter((x) => x.write);
    for (const [name, res] of await all(h, writes, h.t.keys.view as string)) expect(res.status, `${name} with view scope`).toBe(403);
  });

  mockRule('a view-scope key may call every read', 5, ['view-key'], async (h) => {
    const { routes } = await fixture(h);
    for (const [name, res] of await all(h, routes.filter((x) => !x.write), h.t.keys.view as string)) expect(res.status, `${name} with view scope`).toBe(200);
  });

  rule("a group of another workspace is 403 on every route that names it", ['other-workspace'], async (h) => {
    const { routes } = await fixture(h);
    const named = routes.filter((x) => x.name !== 'listGroups' && x.name !== 'createGroup');
    for (const [name, res] of await all(h, named, h.t.keys.otherWorkspace as string)) expect(res.status, name).toBe(403);
  });

  rule("another workspace's list and external-id lookup do not show this workspace's groups", ['other-workspace'], async (h) => {
    const { g } = await fixture(h);
    const res = await h.api.get('/v1/gateway/groups', { key: h.t.keys.otherWorkspace as string, query: { external_entity_id: g.metadata.external_entity_id } });
    expect(res.body.items).toEqual([]);
  });

  rule('a workspace that is not onboarded gets 403 on every /v1/gateway/ route', ['not-onboarded'], async (h) => {
    const { routes } = await fixture(h);
    for (const [name, res] of await all(h, routes, h.t.keys.notOnboarded as string)) expect(res.status, name).toBe(403);
  });

  rule('a group that does not exist is 404 on every route that names it', [], async (h) => {
    const routes = everyRoute(h, 'no-such-group-000', 'sky_doesnotexist');
    const named = routes.filter((x) => x.name !== 'listGroups' && x.name !== 'createGroup');
    for (const [name, res] of await all(h, named, h.t.keys.management)) expect(res.status, name).toBe(404);
  });
});
