import { describe, expect } from 'vitest';
import { rule } from './support/harness.js';

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
    expect(g.metadata).toEqual({ name: 'Acme prod', external_entity_id: ext });
    expect(g.hierarchy).toEqual({ limit_enforcement: 'INDEPENDENT', parent_group_id: null });
    // For a root group effective_models matches models exactly, each limit sourced to itself.
    expect(g.effective_models).toEqual([
      {
        slug: h.slug(),
        rate_limits: [
          { type: 'TOKEN', unit: 'MINUTE', threshold: 1000000, source_group: g.id },
          { type: 'REQUEST', unit: 'MINUTE', threshold: 100, source_group: g.id },
        ],
        usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 10000000, source_group: g.id }],
      },
    ]);

    // A created resource is readable at once, by id and by external id.
    const got = await h.api.get(`/v1/gateway/groups/${g.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(g);
    const byExt = await h.api.get('/v1/gateway/groups', { query: { external_entity_id: ext } });
    expect(byExt.body.items).toEqual([g]);

    const mint = await h.api.post(`/v1/gateway/groups/${g.id}/api_keys`, { name: 'prod-key-1' });
    expect(mint.status).toBe(200);
    expect(mint.body.name).toBe('prod-key-1');
    expect(mint.body.api_key.startsWith(`${mint.body.prefix}.`)).toBe(true);

    const keys = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`);
    expect(keys.body).toEqual({ items: [{ prefix: mint.body.prefix, name: 'prod-key-1' }], pagination: { has_more: false, cursor: null } });
    const key = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys/${mint.body.prefix}`);
    expect(key.body).toEqual({ prefix: mint.body.prefix, name: 'prod-key-1' });

    const patch = await h.api.patch(`/v1/gateway/groups/${g.id}`, {
      models: [{ slug: h.slug(), rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000 }] }],
    });
    expect(patch.status).toBe(200);
    expect(patch.body.models).toEqual([{ slug: h.slug(), rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000 }], usage_limits: [] }]);
    expect(patch.body.effective_models).toEqual([
      { slug: h.slug(), rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000, source_group: g.id }], usage_limits: [] },
    ]);
    expect(patch.body.created_at).toBe(g.created_at);

    const revoke = await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${mint.body.prefix}`);
    expect(revoke.body).toEqual({ prefix: mint.body.prefix });

    const del = await h.api.del(`/v1/gateway/groups/${g.id}`);
    expect(del.status).toBe(200);
    expect(del.body.id).toBe(g.id);
    expect(del.body.metadata).toEqual({ name: 'Acme prod', external_entity_id: ext });
    expect(Number.isNaN(Date.parse(del.body.deleted_at))).toBe(false);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).status).toBe(404);
  });

  rule('metadata.name is optional and may be null', [], async (h) => {
    const omitted = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: [{ slug: h.slug() }],
      hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
    });
    expect(omitted.status).toBe(200);
    h.track(omitted.body.id);
    expect(omitted.body.metadata.name).toBeNull();
    // Limit arrays omitted on input come back empty.
    expect(omitted.body.models).toEqual([{ slug: h.slug(), rate_limits: [], usage_limits: [] }]);
    const explicitNull = await h.group({ name: null });
    expect(explicitNull.metadata.name).toBeNull();
  });
});
