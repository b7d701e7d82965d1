import { describe, expect } from 'vitest';
import { observationRule, rule } from './support/harness.js';

describe('Every response is documented and carries a request id', () => {
  // Every client of the suite checks every response it gets against the published schema
  // (the documented view on a live target, src/contract.ts). This rule names that check, so
  // a report (and the validating proxy, src/proxy/) can point at it: each management
  // operation, answered with success and with a refusal, through that check.
  rule('every response has a documented status and content type, and a body the published schema allows', [], async (h) => {
    const g = await h.group();
    const child = await h.group({ hierarchy: { parent_group_id: g.id } });
    const k = await h.key(child.id, 'documented');
    const answered = [
      await h.api.get('/v1/gateway/groups', { query: { limit: 1 } }),
      await h.api.get(`/v1/gateway/groups/${child.id}`),
      await h.api.patch(`/v1/gateway/groups/${child.id}`, { metadata: { name: 'renamed' } }),
      await h.api.get(`/v1/gateway/groups/${child.id}/usage`),
      await h.api.get(`/v1/gateway/groups/${child.id}/api_keys`),
      await h.api.get(`/v1/gateway/groups/${child.id}/api_keys/${k.prefix}`),
      await h.api.del(`/v1/gateway/groups/${child.id}/api_keys/${k.prefix}`),
      await h.api.del(`/v1/gateway/groups/${g.id}`),
    ];
    expect(answered.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
    // Refusals go through the same check (any 4xx is documented there; the body is judged by the rules on errors).
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).status).toBe(404);
    expect((await h.api.get('/v1/gateway/groups', { key: null })).status).toBeGreaterThanOrEqual(400);
  });

  // Every response is checked against the spec by the client itself. The request id
  // header is the mock's own promise: the docs name none, so elsewhere it is reported.
  observationRule('responses of every operation, success and error, carry X-Request-Id', [], async (h) => {
    const g = await h.group();
    const k = await h.key(g.id);
    await h.api.get('/v1/gateway/groups');
    await h.api.get(`/v1/gateway/groups/${g.id}`);
    await h.api.patch(`/v1/gateway/groups/${g.id}`, {});
    await h.api.get(`/v1/gateway/groups/${g.id}/usage`);
    await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`);
    await h.api.get(`/v1/gateway/groups/${g.id}/api_keys/${k.prefix}`);
    await h.api.get('/v1/gateway/groups', { key: null });
    await h.api.get('/v1/gateway/groups/no-such-group-000');
    await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${k.prefix}`);
    await h.api.del(`/v1/gateway/groups/${g.id}`);
    expect(h.api.seen.length).toBeGreaterThanOrEqual(10);
    const ids = h.api.seen.map((s) => s.headers['x-request-id']);
    const missing = h.api.seen.filter((_s, i) => !ids[i]).map((s) => `${s.method.toUpperCase()} ${s.path} -> ${s.status}`);
    h.expectOrObserve(missing.length === 0, `no X-Request-Id header on ${missing.length} of ${ids.length} responses (e.g. ${missing[0]})`);
    const present = ids.filter(Boolean);
    h.expectOrObserve(new Set(present).size === present.length, 'X-Request-Id values repeat across responses');
  });
});
