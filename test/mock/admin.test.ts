import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { startMock } from '../../src/index.js';
import { mockPerFile } from '../support/mocks.js';
import { errorOf } from '../support/errors.js';

const file = mockPerFile();

const auth = { Authorization: 'Api-Key mock-management-key' };

/** Every admin response must match openapi/mock-admin.yaml too. */
async function call(method: 'get' | 'post', path: string, body?: object) {
  const res = await (method === 'get' ? request(file.mock.url).get(path) : request(file.mock.url).post(path).send(body ?? {}));
  expect(file.checker.check({ method, path, status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res;
}

describe('/_mock/ admin routes', () => {
  it('state lists workspaces, groups, keys and usage, but never a secret or its hash', async () => {
    const g = await request(file.mock.url).post('/v1/gateway/groups').set(auth).send({ hierarchy: {}, metadata: { external_entity_id: 'state-1' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 9 }] }] });
    const k = await request(file.mock.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({ name: 'n' });
    await request(file.mock.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${k.body.api_key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] });
    const state = await call('get', '/_mock/state');
    expect(state.body.workspaces.map((w: any) => [w.id, w.onboarded])).toEqual([
      ['workspace-a', true],
      ['workspace-b', true],
      ['workspace-c', false],
    ]);
    expect(state.body.groups.map((x: any) => x.group.id)).toContain(g.body.id);
    expect(state.body.api_keys).toEqual([expect.objectContaining({ prefix: k.body.prefix, name: 'n', group_id: g.body.id })]);
    expect(state.body.usage).toEqual([expect.objectContaining({ group_id: g.body.id, slug: 'a/b', type: 'REQUEST', current_usage: 1 })]);
    const secret = (k.body.api_key as string).split('.')[1] as string;
    expect(state.text).not.toContain(secret);
    expect(state.text).not.toMatch(/hash/i);
  });

  it('reset forgets groups, keys, counters and deliveries and puts the clock back', async () => {
    await call('post', '/_mock/clock', { advance_seconds: 3600 });
    const reset = await call('post', '/_mock/reset');
    expect(reset.body).toEqual({ ok: true });
    const state = (await call('get', '/_mock/state')).body;
    expect([state.groups, state.api_keys, state.usage]).toEqual([[], [], []]);
    expect((await call('get', '/_mock/webhooks')).body).toEqual({ deliveries: [], dead_letter: [] });
    expect((await call('get', '/_mock/clock')).body.offset_seconds).toBe(0);
    // The default keys still work.
    expect((await request(file.mock.url).get('/v1/gateway/groups').set(auth)).status).toBe(200);
  });

  it('the clock moves forward by seconds or to an instant, and created_at follows it', async () => {
    const before = Date.parse((await call('get', '/_mock/clock')).body.now);
    const moved = await call('post', '/_mock/clock', { advance_seconds: 86_400 });
    expect(Date.parse(moved.body.now) - before).toBeGreaterThanOrEqual(86_400_000);
    expect(moved.body.offset_seconds).toBeGreaterThanOrEqual(86_400);
    const target = new Date(Date.now() + 400 * 86_400_000);
    target.setUTCHours(0, 0, 0, 0);
    const jumped = await call('post', '/_mock/clock', { now: target.toISOString() });
    expect(Math.abs(Date.parse(jumped.body.now) - target.getTime())).toBeLessThan(1000);
    const g = await request(file.mock.url).post('/v1/gateway/groups').set(auth).send({ hierarchy: {}, metadata: { external_entity_id: 'clocked' }, models: [{ slug: 'a/b' }] });
    expect(g.body.created_at.slice(0, 10)).toBe(target.toISOString().slice(0, 10));
  });

  it('billing event timestamps and usage reset_at follow the mock clock', async () => {
    await call('post', '/_mock/reset');
    const target = Date.UTC(2031, 0, 15, 23, 59, 0);
    await call('post', '/_mock/clock', { now: new Date(target).toISOString() });
    const g = await request(file.mock.url).post('/v1/gateway/groups').set(auth).send({ hierarchy: {}, metadata: { external_entity_id: 'ts' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 9 }] }] });
    const k = await request(file.mock.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
    const chat = await request(file.mock.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${k.body.api_key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] });
    expect(Math.abs(chat.body.created * 1000 - target)).toBeLessThan(5000);
    const event = (await call('get', '/_mock/webhooks')).body.deliveries[0].payload.data.events[0];
    expect(Math.abs(Date.parse(event.timestamp) - target)).toBeLessThan(5000);
    const usage = await request(file.mock.url).get(`/v1/gateway/groups/${g.body.id}/usage`).set(auth);
    expect(usage.body.usage['a/b'][0].reset_at).toBe('2031-01-16T00:00:00Z');
  });

  it('refuses a clock move backwards, by zero, or malformed, with 400', async () => {
    for (const body of [{ now: '2000-01-01T00:00:00Z' }, { advance_seconds: 0 }, { advance_seconds: -5 }, { now: 'tomorrow' }, {}, { advance_seconds: 1, now: '2100-01-01T00:00:00Z' }, { speed: 2 }]) {
      const res = await call('post', '/_mock/clock', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(res).message).toBeTruthy();
    }
  });

  it('--no-admin turns every /_mock/ route off', async () => {
    const off = await startMock({ admin: false });
    try {
      for (const path of ['/_mock/state', '/_mock/clock', '/_mock/webhooks']) expect((await request(off.url).get(path)).status).toBe(404);
      expect((await request(off.url).post('/_mock/reset')).status).toBe(404);
      expect((await request(off.url).get('/v1/gateway/groups').set(auth)).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});

describe('/_mock/snapshot', () => {
  it('GET, change, POST: groups, keys, counters, webhook log and clock are exactly as before', async () => {
    await call('post', '/_mock/reset');
    const g = await request(file.mock.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'snap' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 2 }] }], hierarchy: {} });
    const k = await request(file.mock.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({ name: 'kept' });
    const chat = () => request(file.mock.url).post('/v1/chat/completions').set('Authorization', `Api-Key ${k.body.api_key}`).send({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] });
    expect((await chat()).status).toBe(200);
    const saved = await call('get', '/_mock/snapshot');
    expect(saved.body).toMatchObject({ format: 'frontier-gateway-mock/state', version: 1 });
    expect(saved.text).not.toContain((k.body.api_key as string).split('.')[1]);
    const stateBefore = (await call('get', '/_mock/state')).body;
    const webhooksBefore = (await call('get', '/_mock/webhooks')).body;

    expect((await chat()).status).toBe(200);
    expect((await chat()).status).toBe(429);
    await call('post', '/_mock/clock', { advance_seconds: 7200 });
    await request(file.mock.url).delete(`/v1/gateway/groups/${g.body.id}`).set(auth);

    expect((await call('post', '/_mock/snapshot', saved.body)).body).toEqual({ ok: true });
    const stateAfter = (await call('get', '/_mock/state')).body;
    expect(Math.abs(Date.parse(stateAfter.now) - Date.parse(stateBefore.now))).toBeLessThan(2000);
    expect({ ...stateAfter, now: null }).toEqual({ ...stateBefore, now: null });
    expect((await call('get', '/_mock/webhooks')).body).toEqual(webhooksBefore);
    // One request of the daily two is left, and the key (kept only as a hash) still works.
    expect((await chat()).status).toBe(200);
    expect((await chat()).status).toBe(429);
  });

  it('refuses a bad or newer snapshot with 400 and changes nothing', async () => {
    const before = (await call('get', '/_mock/snapshot')).body;
    expect(before.groups).toHaveLength(1);
    for (const [body, message] of [
      [{ format: 'frontier-gateway-mock/state', version: 99 }, /newer than this mock understands/],
      [{ format: 'other', version: 1 }, /not a frontier-gateway-mock snapshot/],
      [{ ...before, groups: [{ ...before.groups[0], workspace_id: 'nowhere' }] }, /unknown workspace/],
    ] as const) {
      const res = await call('post', '/_mock/snapshot', body);
      expect(res.status).toBe(400);
      expect(errorOf(res).message).toMatch(message);
    }
    expect((await call('get', '/_mock/snapshot')).body).toEqual({ ...before, taken_at: expect.any(String), clock: expect.any(Object) });
  });
});
