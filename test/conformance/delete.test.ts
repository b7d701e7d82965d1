import { describe, expect } from 'vitest';
import { isRfc3339Utc } from './support/documented.js';
import { model, rule } from './support/harness.js';

describe('DELETE removes the whole subtree and revokes its keys', () => {
  rule('every group of the subtree is 404 on every route afterwards', [], async (h) => {
    const root = await h.group();
    const child = await h.group({ hierarchy: { parent_group_id: root.id } });
    const grandchild = await h.group({ hierarchy: { parent_group_id: child.id } });
    const sibling = await h.group();
    const key = await h.key(grandchild.id, 'gk');

    const del = await h.api.del(`/v1/gateway/groups/${root.id}`);
    expect(del.status).toBe(200);
    expect(del.body.id).toBe(root.id);

    await Promise.all(
      [root, child, grandchild].map(async (g) => {
        const base = `/v1/gateway/groups/${g.id}`;
        const [get, patch, del, usage, keys, mint] = await Promise.all([
          h.api.get(base),
          h.api.patch(base, { metadata: { name: 'x' } }),
          h.api.del(base),
          h.api.get(`${base}/usage`),
          h.api.get(`${base}/api_keys`),
          h.api.post(`${base}/api_keys`, {}),
        ]);
        expect(get.status, 'get').toBe(404);
        expect(patch.status, 'patch').toBe(404);
        expect(del.status, 'delete').toBe(404);
        expect(usage.status, 'usage').toBe(404);
        expect(keys.status, 'list keys').toBe(404);
        expect(mint.status, 'mint').toBe(404);
      }),
    );
    expect((await h.api.get(`/v1/gateway/groups/${grandchild.id}/api_keys/${key.prefix}`)).status).toBe(404);
    const parentGone = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: [model(h.slug())],
      hierarchy: { parent_group_id: child.id },
    });
    if (parentGone.status === 200) h.track(parentGone.body.id);
    // The create page: 404 when parent_group_id names a group that does not exist or is not visible.
    expect(parentGone.status, `create under a deleted parent: ${parentGone.text.slice(0, 300)}`).toBe(404);
    // Unrelated groups are untouched.
    expect((await h.api.get(`/v1/gateway/groups/${sibling.id}`)).status).toBe(200);
  });

  rule('DELETE answers the group’s id and metadata, and deleted_at as an RFC 3339 UTC timestamp', [], async (h) => {
    const g = await h.group({ name: 'to delete' });
    const del = await h.api.del(`/v1/gateway/groups/${g.id}`);
    expect(del.status).toBe(200);
    expect(del.body.id).toBe(g.id);
    h.expectBody(del.body.metadata, { name: 'to delete', external_entity_id: g.metadata.external_entity_id });
    // The delete page: "RFC 3339 UTC timestamp of deletion" (Z or +00:00, any precision).
    expect(isRfc3339Utc(del.body.deleted_at), `deleted_at ${JSON.stringify(del.body.deleted_at)} is an RFC 3339 UTC timestamp`).toBe(true);
  });

  rule('deleted groups leave the list, and their external ids can be used again', [], async (h) => {
    const root = await h.group();
    const child = await h.group({ hierarchy: { parent_group_id: root.id } });
    await h.api.del(`/v1/gateway/groups/${root.id}`);
    for (const g of [root, child]) {
      const listed = await h.api.get('/v1/gateway/groups', { query: { external_entity_id: g.metadata.external_entity_id } });
      expect(listed.body.items).toEqual([]);
    }
    // Both the deleted group's and its descendant's external ids are free again.
    for (const g of [root, child]) {
      const again = await h.group({ external_entity_id: g.metadata.external_entity_id });
      expect(again.id).not.toBe(g.id);
      expect(again.metadata.external_entity_id).toBe(g.metadata.external_entity_id);
    }
  });

  rule('keys of the subtree stop authenticating', ['inference'], async (h) => {
    const root = await h.group();
    const child = await h.group({ hierarchy: { parent_group_id: root.id } });
    const key = await h.key(child.id);
    const call = () =>
      h.inference.post('/v1/chat/completions', { model: h.slug(), messages: [{ role: 'user', content: 'hi' }] }, { key: key.api_key });
    expect((await call()).status).toBe(200);
    await h.api.del(`/v1/gateway/groups/${root.id}`);
    // The docs say the keys are revoked, not which status refuses them (AMBIGUITIES.md #120).
    h.expectRefused(await call(), 401, 'a deleted group\'s key on inference');
  });
});
