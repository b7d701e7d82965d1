import { describe, expect } from 'vitest';
import { isRfc3339Utc } from './support/documented.js';
import { mockRule, model, rule } from './support/harness.js';

describe('Seed lifecycle: create, read, mint, list, update, revoke, delete', () => {
  rule('the seed quick-start and lifecycle pages play out as documented', [], async (h) => {
    const ext = h.extId('acme');
    const create = await h.api.post('/v1/gateway/groups', {
      metadata: { name: 'Acme prod', external_entity_id: ext },
      models: [
        {
          slug: h.slug(),
          rate_limits: [
            { type: 'TOKEN', unit: 'MINUTE', threshold: 1000000 },
            { type: 'REQUEST', unit: 'MINUTE', threshold: 100 },
          ],
          usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 10000000 }],
        },
      ],
      hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
    });
    expect(create.status).toBe(200);
    const g = create.body;
    h.track(g.id);
    h.expectBody(g.metadata, { name: 'Acme prod', external_entity_id: ext });
    // parent_group_id is not a required field of the published schema: absent reads as null.
    h.expectBody({ ...g.hierarchy, parent_group_id: g.hierarchy.parent_group_id ?? null }, { limit_enforcement: 'INDEPENDENT', parent_group_id: null });
    // For a root group effective_models matches models exactly, each limit sourced to itself (order not documented).
    expect(g.effective_models.map((m: any) => m.slug)).toEqual([h.slug()]);
    h.sameSet(g.effective_models[0].rate_limits, [
      { type: 'TOKEN', unit: 'MINUTE', threshold: 1000000, source_group: g.id },
      { type: 'REQUEST', unit: 'MINUTE', threshold: 100, source_group: g.id },
    ]);
    h.sameSet(g.effective_models[0].usage_limits, [{ type: 'TOKEN', unit: 'DAY', threshold: 10000000, source_group: g.id }]);

    // A created resource is readable at once, by id and by external id.
    const got = await h.api.get(`/v1/gateway/groups/${g.id}`);
    expect(got.status).toBe(200);
    h.expectBody(got.body, g);
    const byExt = await h.api.get('/v1/gateway/groups', { query: { external_entity_id: ext } });
    h.expectBody(byExt.body.items, [g]);

    const mint = await h.api.post(`/v1/gateway/groups/${g.id}/api_keys`, { name: 'prod-key-1' });
    expect(mint.status).toBe(200);
    expect(mint.body.name).toBe('prod-key-1');
    expect(mint.body.api_key.startsWith(`${mint.body.prefix}.`)).toBe(true);

    const keys = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`);
    h.expectBody(keys.body.items, [{ prefix: mint.body.prefix, name: 'prod-key-1' }]);
    expect(keys.body.pagination.has_more).toBe(false);
    // Only has_more is a required field of the published pagination block: absent reads as null.
    expect(keys.body.pagination.cursor ?? null).toBeNull();
    const key = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys/${mint.body.prefix}`);
    h.expectBody(key.body, { prefix: mint.body.prefix, name: 'prod-key-1' });

    const patch = await h.api.patch(`/v1/gateway/groups/${g.id}`, {
      models: [{ slug: h.slug(), rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000 }] }],
    });
    expect(patch.status).toBe(200);
    h.expectBody(patch.body.models, [{ slug: h.slug(), rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000 }], usage_limits: [] }]);
    h.expectBody(patch.body.effective_models, [
      { slug: h.slug(), rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000, source_group: g.id }], usage_limits: [] },
    ]);
    expect(patch.body.created_at).toBe(g.created_at);

    const revoke = await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${mint.body.prefix}`);
    h.expectBody(revoke.body, { prefix: mint.body.prefix });

    const del = await h.api.del(`/v1/gateway/groups/${g.id}`);
    expect(del.status).toBe(200);
    expect(del.body.id).toBe(g.id);
    h.expectBody(del.body.metadata, { name: 'Acme prod', external_entity_id: ext });
    expect(isRfc3339Utc(del.body.deleted_at), `deleted_at ${del.body.deleted_at}`).toBe(true);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).status).toBe(404);
  });

  rule('metadata.name is optional and may be null', [], async (h) => {
    const omitted = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: [model(h.slug())],
      hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
    });
    expect(omitted.status).toBe(200);
    h.track(omitted.body.id);
    expect(omitted.body.metadata.name ?? null).toBeNull();
    const explicitNull = await h.group({ name: null });
    expect(explicitNull.metadata.name ?? null).toBeNull();
  });

  mockRule('limit arrays omitted on input come back empty', 50, [], async (h) => {
    const res = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: [{ slug: h.slug() }],
      hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
    });
    expect(res.status).toBe(200);
    h.track(res.body.id);
    expect(res.body.models).toEqual([{ slug: h.slug(), rate_limits: [], usage_limits: [] }]);
  });
});
