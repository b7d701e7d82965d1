import { describe, expect } from 'vitest';
import { mockRule, model, rule, type Harness, type Res } from './support/harness.js';

/**
 * A PATCH that tries to change an immutable field: the docs say the field cannot change,
 * not how the attempt is answered. The mock refuses it (400); a target that ignores the
 * field and answers 200 is reported as an observation.
 */
function immutableAttempt(h: Harness, res: Res, what: string) {
  if (res.status === 200) h.expectOrObserve(false, `a PATCH changing ${what} was accepted and the change ignored, where the mock answers 400`);
  else h.expectRefused(res, 400, `changing ${what}`);
}

describe('PATCH has set semantics; hierarchy and external id are immutable', () => {
  rule('models replaces the whole set: absent slugs removed, new ones added', ['two-slugs'], async (h) => {
    const [a, b] = [h.slug(0), h.slug(1)];
    const g = await h.group({ models: [model(a, [['REQUEST', 'MINUTE', 10]])] });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [model(b, [['TOKEN', 'MINUTE', 99]])] });
    expect(res.status).toBe(200);
    h.expectBody(res.body.models, [model(b, [['TOKEN', 'MINUTE', 99]])]);
    expect(res.body.effective_models.map((m: any) => m.slug)).toEqual([b]);
  });

  rule('limits of a kept slug are replaced, not merged', [], async (h) => {
    const s = h.slug();
    const g = await h.group({ models: [model(s, [['REQUEST', 'MINUTE', 10], ['TOKEN', 'MINUTE', 500]], [['TOKEN', 9000]])] });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [model(s, [['TOKEN', 'SECOND', 7]])] });
    h.expectBody(res.body.models, [model(s, [['TOKEN', 'SECOND', 7]])]);
  });

  rule('"models": [] clears every model', [], async (h) => {
    const g = await h.group();
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [] });
    expect(res.status).toBe(200);
    expect(res.body.models).toEqual([]);
    expect(res.body.effective_models).toEqual([]);
  });

  rule('omitting models leaves them unchanged', [], async (h) => {
    const g = await h.group({ models: [model(h.slug(), [['REQUEST', 'MINUTE', 10]])] });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: 'renamed' } });
    expect(res.status).toBe(200);
    h.expectBody(res.body.metadata, { name: 'renamed', external_entity_id: g.metadata.external_entity_id });
    h.expectBody(res.body.models, g.models);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.metadata.name).toBe('renamed');
  });

  mockRule('a PATCH with metadata.name null clears the name', 52, [], async (h) => {
    const g = await h.group({ name: 'named' });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: null } });
    expect(res.status).toBe(200);
    expect(res.body.metadata.name).toBeNull();
  });

  rule('an empty body is 400', [], async (h) => {
    const g = await h.group();
    expect((await h.api.patch(`/v1/gateway/groups/${g.id}`, {})).status).toBe(400);
  });

  rule('a PATCH naming neither metadata.name nor models is the empty-body 400 (only the hierarchy, only the external id, a name-less metadata)', [], async (h) => {
    const g = await h.group();
    const bodies = [{ hierarchy: g.hierarchy }, { metadata: { external_entity_id: g.metadata.external_entity_id } }, { metadata: {} }, { metadata: { external_entity_id: g.metadata.external_entity_id }, hierarchy: g.hierarchy }];
    for (const body of bodies) expect((await h.api.patch(`/v1/gateway/groups/${g.id}`, body)).status, JSON.stringify(body)).toBe(400);
    h.expectBody((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.metadata, g.metadata);
  });

  rule('the hierarchy cannot be changed (400 on the mock)', [], async (h) => {
    const parent = await h.group();
    const g = await h.group();
    for (const hierarchy of [{ limit_enforcement: 'CASCADING' }, { parent_group_id: parent.id }]) {
      immutableAttempt(h, await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: 'x' }, hierarchy }), `the hierarchy to ${JSON.stringify(hierarchy)}`);
    }
    h.expectBody((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.hierarchy, g.hierarchy);
  });

  rule('metadata.external_entity_id cannot be changed (400 on the mock)', [], async (h) => {
    const g = await h.group();
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: g.metadata.name, external_entity_id: h.extId('rekey') } });
    immutableAttempt(h, res, 'metadata.external_entity_id');
    h.expectBody((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.metadata, g.metadata);
  });
});
