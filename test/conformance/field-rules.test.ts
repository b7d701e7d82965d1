import { describe, expect } from 'vitest';
import { mockRule, model, rule, type Harness } from './support/harness.js';
import { CREATE_NEGATIVES, type NegativeCase } from './support/negative-cases.js';

/**
 * Creates the body of `c`; it must be refused. The create page names 400 for an invalid
 * payload, so a documented rule is exactly 400; a mock choice is the mock's 400.
 */
async function refusedCreate(h: Harness, c: NegativeCase) {
  const res = await h.api.post('/v1/gateway/groups', c.body(h.slug(), h.extId('neg')));
  if (res.status === 200) h.track(res.body.id);
  if (c.ambiguity) h.expectRefused(res, 400, c.rule);
  else expect(res.status, `${c.rule}: ${res.text.slice(0, 300)}`).toBe(400);
}

/** Models with each slug's limits sorted by type and unit (the docs fix no order). */
const inOneOrder = (models: any[]) =>
  models.map((m) => ({ ...m, ...Object.fromEntries(['rate_limits', 'usage_limits'].filter((k) => Array.isArray(m[k])).map((k) => [k, [...m[k]].sort((a: any, b: any) => `${a.type}/${a.unit}`.localeCompare(`${b.type}/${b.unit}`))])) }));

const ROOT = { limit_enforcement: 'INDEPENDENT', parent_group_id: null };
const MODEL_FIELDS = ['slug', 'unit', 'type', 'threshold', 'rate_limits', 'usage_limits'];

describe('Field rules: invalid data is refused', () => {
  for (const c of CREATE_NEGATIVES) {
    if (c.ambiguity) mockRule(`create: ${c.rule}`, c.ambiguity, [], (h) => refusedCreate(h, c));
    else rule(`create: ${c.rule}`, [], (h) => refusedCreate(h, c));
  }

  rule('create and update: a threshold of 0 is valid (the published minimum since 2026-07-03) and comes back as 0', [], async (h) => {
    const zero = model(h.slug(), [['REQUEST', 'MINUTE', 0], ['TOKEN', 'SECOND', 0]], [['TOKEN', 0]]);
    const g = await h.group({ models: [zero] });
    // The docs fix no order of a slug's limits: compared in one order.
    h.expectBody(inOneOrder(g.models), inOneOrder([zero]));
    const patched = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [model(h.slug(), [], [['REQUEST', 0]])] });
    expect(patched.status, patched.text).toBe(200);
    h.expectBody(patched.body.models, [model(h.slug(), [], [['REQUEST', 0]])]);
  });

  rule('the bounds themselves are accepted: a name of exactly 255 characters (create and update), an external_entity_id of exactly 255', [], async (h) => {
    const name = 'n'.repeat(255);
    const ext = h.extId('bound').padEnd(255, 'x');
    const g = await h.group({ name, external_entity_id: ext });
    h.expectBody(g.metadata, { name, external_entity_id: ext });
    const renamed = 'r'.repeat(255);
    const patched = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: renamed } });
    expect(patched.status, patched.text.slice(0, 300)).toBe(200);
    expect(patched.body.metadata.name).toBe(renamed);
  });

  rule('create: malformed JSON is refused', [], async (h) => {
    h.expectRefused(await h.api.call('post', '/v1/gateway/groups', { raw: '{"metadata": {' }), 400);
  });

  rule('create: external_entity_id is unique among live groups of the workspace (400)', [], async (h) => {
    const g = await h.group();
    const dup = await h.api.post('/v1/gateway/groups', { metadata: { external_entity_id: g.metadata.external_entity_id }, models: [{ slug: h.slug(), rate_limits: [], usage_limits: [] }], hierarchy: ROOT });
    if (dup.status === 200) h.track(dup.body.id);
    // The create page names 400 for a duplicate external_entity_id.
    expect(dup.status, dup.text.slice(0, 300)).toBe(400);
  });

  rule('update: an invalid model list is 400 (the update page names 400 for an invalid limit shape)', [], async (h) => {
    const g = await h.group();
    const cases = CREATE_NEGATIVES.filter((x) => MODEL_FIELDS.includes(x.field) && (h.isMock || !x.ambiguity));
    const results = await Promise.all(cases.map((c) => h.api.patch(`/v1/gateway/groups/${g.id}`, { models: (c.body(h.slug(), 'unused') as { models: unknown[] }).models })));
    for (const [i, res] of results.entries()) expect(res.status, `${cases[i]?.rule}: ${res.text}`).toBe(400);
    // Nothing changed.
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.models).toEqual(g.models);
  });

  rule('list: limit 1 and the documented maximum 1000 are accepted', [], async (h) => {
    for (const limit of [1, 1000]) {
      const res = await h.api.get('/v1/gateway/groups', { query: { limit } });
      expect(res.status, `limit=${limit}`).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
    }
  });

  mockRule('list: a limit outside 1..1000 or not an integer is 400', 48, [], async (h) => {
    for (const limit of [0, 1001, -1, 'ten']) {
      expect((await h.api.get('/v1/gateway/groups', { query: { limit } })).status, `limit=${limit}`).toBe(400);
    }
    const g = await h.group();
    expect((await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`, { query: { limit: 0 } })).status).toBe(400);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`, { query: { limit: 1001 } })).status).toBe(400);
  });
});
