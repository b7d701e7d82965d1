import { describe, expect } from 'vitest';
import { rule } from './support/harness.js';
import { CREATE_NEGATIVES } from './support/negative-cases.js';

describe('Field rules: invalid data is refused with 400', () => {
  for (const c of CREATE_NEGATIVES) {
    rule(`create: ${c.rule}`, [], async (h) => {
      const res = await h.api.post('/v1/gateway/groups', c.body(h.slug(), h.extId('neg')));
      if (res.status === 200) h.track(res.body.id);
      expect(res.status, res.text).toBe(400);
    });
  }

  rule('create: malformed JSON', [], async (h) => {
    const res = await h.api.call('post', '/v1/gateway/groups', { raw: '{"metadata": {' });
    expect(res.status).toBe(400);
  });

  rule('create: external_entity_id is unique among live groups of the workspace', [], async (h) => {
    const g = await h.group();
    const dup = await h.api.post('/v1/gateway/groups', { metadata: { external_entity_id: g.metadata.external_entity_id }, models: [{ slug: h.slug() }] });
    if (dup.status === 200) h.track(dup.body.id);
    expect(dup.status).toBe(400);
  });

  rule('update: the model list obeys the same shape rules', [], async (h) => {
    const g = await h.group();
    for (const c of CREATE_NEGATIVES.filter((x) => ['slug', 'unit', 'type', 'threshold', 'rate_limits', 'usage_limits'].includes(x.field))) {
      const models = (c.body(h.slug(), 'unused') as { models: unknown[] }).models;
      const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models });
      expect(res.status, `${c.rule}: ${res.text}`).toBe(400);
    }
    // Nothing changed.
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.models).toEqual(g.models);
  });

  rule('list: limit must be 1..1000 and an integer', [], async (h) => {
    for (const limit of [0, 1001, -1]) {
      expect((await h.api.get('/v1/gateway/groups', { query: { limit } })).status, `limit=${limit}`).toBe(400);
    }
    expect((await h.api.get('/v1/gateway/groups', { query: { limit: 'ten' } })).status).toBe(400);
    expect((await h.api.get('/v1/gateway/groups', { query: { limit: 1000 } })).status).toBe(200);
    expect((await h.api.get('/v1/gateway/groups', { query: { limit: 1 } })).status).toBe(200);
  });

  rule('keys list: limit bounds apply too', [], async (h) => {
    const g = await h.group();
    expect((await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`, { query: { limit: 0 } })).status).toBe(400);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`, { query: { limit: 1001 } })).status).toBe(400);
  });
});
