import { describe, expect } from 'vitest';
import { observationRule } from './support/harness.js';

describe('Every response is documented and carries a request id', () => {
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
