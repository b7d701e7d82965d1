import { describe, expect } from 'vitest';
import { rule } from './support/harness.js';

describe('Every response is documented and carries a request id', () => {
  rule('responses of every operation, success and error, carry X-Request-Id', [], async (h) => {
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
    for (const [i, id] of ids.entries()) expect(id, `${h.api.seen[i]?.method} ${h.api.seen[i]?.path}`).toBeTruthy();
    expect(new Set(ids).size).toBe(ids.length);
  });
});
