import { describe, expect } from 'vitest';
import { stringsWithPaths } from './support/documented.js';
import { mockRule, rule, type Res } from './support/harness.js';

describe('Federated key lifecycle', () => {
  rule('mint returns prefix.secret once; list and get never show the secret, in any field', [], async (h) => {
    const g = await h.group();
    const minted = await h.key(g.id, 'prod-key-1');
    const unnamed = await h.key(g.id);
    const secretOf = (k: { api_key: string }) => k.api_key.slice(k.api_key.indexOf('.') + 1);
    const [prefix, secret] = [minted.api_key.slice(0, minted.api_key.indexOf('.')), secretOf(minted)];
    expect(prefix).toBe(minted.prefix);
    h.expectOrObserve(secret.length >= 32, `the secret part is ${secret.length} characters, under the mock's 43`);
    const base = `/v1/gateway/groups/${g.id}`;
    const list = await h.api.get(`${base}/api_keys`);
    const get = await h.api.get(`${base}/api_keys/${minted.prefix}`);
    const responses: [string, Res][] = [
      ['list', list],
      ['list, one per page', await h.api.get(`${base}/api_keys`, { query: { limit: 1 } })],
      ['get', get],
      ['get the unnamed key', await h.api.get(`${base}/api_keys/${unnamed.prefix}`)],
      ['the group', await h.api.get(base)],
      ['revoke', await h.api.del(`${base}/api_keys/${unnamed.prefix}`)],
    ];
    // "Per-key responses carry only the prefix and name": whatever else a target adds, never a secret.
    for (const [label, res] of responses) {
      expect(res.status, `${label}: ${res.text.slice(0, 200)}`).toBe(200);
      for (const k of [minted, unnamed]) {
        const leaks = stringsWithPaths(res.body).filter(([, s]) => s.includes(secretOf(k)));
        expect(leaks.map(([path]) => path), `${label} carries the secret of ${k.prefix}`).toEqual([]);
        expect(res.text.includes(secretOf(k)), `${label} carries the secret of ${k.prefix}`).toBe(false);
      }
    }
    h.expectBody(get.body, { prefix: minted.prefix, name: 'prod-key-1' });
    h.sameSet(list.body.items, [{ prefix: minted.prefix, name: 'prod-key-1' }, { prefix: unnamed.prefix, ...(h.isMock ? { name: null } : {}) }]);
  });

  rule('name is null when none is given', [], async (h) => {
    const g = await h.group();
    const res = await h.api.post(`/v1/gateway/groups/${g.id}/api_keys`, {});
    expect(res.status).toBe(200);
    // The published schema does not require the field: absent reads as null.
    expect(res.body.name ?? null).toBeNull();
  });

  mockRule('a mint without any body is accepted, with a null name', 49, [], async (h) => {
    const g = await h.group();
    const noBody = await h.api.call('post', `/v1/gateway/groups/${g.id}/api_keys`);
    expect(noBody.status).toBe(200);
    expect(noBody.body.name).toBeNull();
  });

  rule('every mint gives a new prefix and a new secret', [], async (h) => {
    const g = await h.group();
    const keys = await Promise.all([h.key(g.id), h.key(g.id), h.key(g.id)]);
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(3);
    expect(new Set(keys.map((k) => k.api_key)).size).toBe(3);
  });

  rule('revoke returns the prefix and is irreversible; fetching or revoking a revoked key is 404', [], async (h) => {
    const g = await h.group();
    const keep = await h.key(g.id, 'keep');
    const gone = await h.key(g.id, 'gone');
    const res = await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${gone.prefix}`);
    expect(res.status).toBe(200);
    h.expectBody(res.body, { prefix: gone.prefix });
    // The reference pages name 404 for both: get ("or the key has been revoked") and revoke ("already been revoked").
    expect((await h.api.get(`/v1/gateway/groups/${g.id}/api_keys/${gone.prefix}`)).status, 'get a revoked key').toBe(404);
    expect((await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${gone.prefix}`)).status, 'revoke again').toBe(404);
    const list = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`);
    h.expectBody(list.body.items, [{ prefix: keep.prefix, name: 'keep' }]);
  });

  rule('a revoked key is refused by inference; other keys of the group still work', ['inference'], async (h) => {
    const g = await h.group();
    const keep = await h.key(g.id);
    const gone = await h.key(g.id);
    await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${gone.prefix}`);
    const call = (key: string) => h.inference.post('/v1/chat/completions', { model: h.slug(), messages: [{ role: 'user', content: 'hi' }] }, { key });
    // The docs say a revoked key stops working, not which status refuses it (AMBIGUITIES.md #120).
    h.expectRefused(await call(gone.api_key), 401, 'a revoked key on inference');
    expect((await call(keep.api_key)).status).toBe(200);
  });

  rule('keys are addressed under their own group only', [], async (h) => {
    const a = await h.group();
    const b = await h.group();
    const k = await h.key(a.id);
    // Get a key: 404 "when no group or key has these identifiers in the workspace".
    expect((await h.api.get(`/v1/gateway/groups/${b.id}/api_keys/${k.prefix}`)).status, 'get under another group').toBe(404);
    h.expectRefused(await h.api.del(`/v1/gateway/groups/${b.id}/api_keys/${k.prefix}`), 404, 'revoke under another group');
    expect((await h.api.get(`/v1/gateway/groups/${a.id}/api_keys/${k.prefix}`)).status).toBe(200);
  });

  rule('a key of a group that does not exist is 404', [], async (h) => {
    expect((await h.api.post('/v1/gateway/groups/no-such-group-000/api_keys', {})).status).toBe(404);
    const g = await h.group();
    expect((await h.api.get(`/v1/gateway/groups/${g.id}/api_keys/sky_doesnotexist`)).status, 'a prefix that does not exist').toBe(404);
  });
});
