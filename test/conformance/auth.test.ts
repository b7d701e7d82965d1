import { describe, expect } from 'vitest';
import { model, rule, type Harness } from './support/harness.js';

/** One call of every management operation on `groupId`, with `key`. */
function everyRoute(h: Harness, groupId: string, prefix: string) {
  const g = `/v1/gateway/groups/${groupId}`;
  return [
    { name: 'listGroups', write: false, run: (key: string | null) => h.api.get('/v1/gateway/groups', { key }) },
    {
      name: 'createGroup',
      write: true,
      run: (key: string | null) => h.api.post('/v1/gateway/groups', { metadata: { external_entity_id: h.extId('auth') }, models: [model(h.slug())] }, { key }),
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

describe('Authentication and tenancy', () => {
  rule('a missing, malformed or unknown key is 401 on every route', [], async (h) => {
    const { routes } = await fixture(h);
    for (const r of routes) {
      expect((await r.run(null)).status, `${r.name} without a key`).toBe(401);
      expect((await r.run('definitely-not-a-key')).status, `${r.name} with an unknown key`).toBe(401);
    }
    const malformed = await h.api.get('/v1/gateway/groups', { key: 'a b c', scheme: 'Token' });
    expect(malformed.status).toBe(401);
  });

  rule('both Api-Key and Bearer schemes are accepted', [], async (h) => {
    expect((await h.api.get('/v1/gateway/groups', { scheme: 'Api-Key' })).status).toBe(200);
    expect((await h.api.get('/v1/gateway/groups', { scheme: 'Bearer' })).status).toBe(200);
  });

  rule('a federated key cannot call the management API', [], async (h) => {
    const { k } = await fixture(h);
    expect((await h.api.get('/v1/gateway/groups', { key: k.api_key })).status).toBe(401);
  });

  rule('a view-scope key may read but not write (403)', ['view-key'], async (h) => {
    const { routes } = await fixture(h);
    for (const r of routes.filter((x) => !x.write)) {
      expect((await r.run(h.t.keys.view as string)).status, `${r.name} with view scope`).toBe(200);
    }
    for (const r of routes.filter((x) => x.write)) {
      const res = await r.run(h.t.keys.view as string);
      if (r.name === 'createGroup' && res.status === 200) h.track(res.body.id);
      expect(res.status, `${r.name} with view scope`).toBe(403);
    }
  });

  rule("a group of another workspace is 403 on every route that names it", ['other-workspace'], async (h) => {
    const { routes } = await fixture(h);
    for (const r of routes.filter((x) => x.name !== 'listGroups' && x.name !== 'createGroup')) {
      expect((await r.run(h.t.keys.otherWorkspace as string)).status, r.name).toBe(403);
    }
  });

  rule("another workspace's list and external-id lookup do not show this workspace's groups", ['other-workspace'], async (h) => {
    const { g } = await fixture(h);
    const res = await h.api.get('/v1/gateway/groups', { key: h.t.keys.otherWorkspace as string, query: { external_entity_id: g.metadata.external_entity_id } });
    expect(res.body.items).toEqual([]);
  });

  rule('a workspace that is not onboarded gets 403 on every /v1/gateway/ route', ['not-onboarded'], async (h) => {
    const { routes } = await fixture(h);
    for (const r of routes) expect((await r.run(h.t.keys.notOnboarded as string)).status, r.name).toBe(403);
  });

  rule('a group that does not exist is 404 on every route that names it', [], async (h) => {
    const routes = everyRoute(h, 'no-such-group-000', 'sky_doesnotexist');
    for (const r of routes.filter((x) => x.name !== 'listGroups' && x.name !== 'createGroup')) {
      expect((await r.run(h.t.keys.management)).status, r.name).toBe(404);
    }
  });
});
