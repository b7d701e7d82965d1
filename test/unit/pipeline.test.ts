import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { Pipeline, type Exchange, type Step } from '../../src/http/pipeline.js';
import { startMock } from '../../src/index.js';

const trace: string[] = [];
const step = (name: string): Step => ({
  name,
  async run(_x, next) {
    trace.push(`>${name}`);
    await next();
    trace.push(`<${name}`);
  },
});
const x = {} as Exchange;

describe('Pipeline', () => {
  it('runs steps outermost first, and a feature joins before or after a named step', async () => {
    const p = new Pipeline([step('a'), step('c')]);
    p.add(step('b'), { after: 'a' }).add(step('0'), { before: 'a' });
    expect(p.names()).toEqual(['0', 'a', 'b', 'c']);
    trace.length = 0;
    await p.run(x);
    expect(trace).toEqual(['>0', '>a', '>b', '>c', '<c', '<b', '<a', '<0']);
  });

  it('a step may answer without calling next; the steps inside it do not run', async () => {
    const p = new Pipeline([step('outer'), { name: 'gate', run: () => {} }, step('inner')]);
    trace.length = 0;
    await p.run(x);
    expect(trace).toEqual(['>outer', '<outer']);
  });

  it('next() is always a promise: a synchronous step passes the inner result on, and a synchronous throw is a rejection the outer step can catch', async () => {
    const seen: unknown[] = [];
    const outer: Step = {
      name: 'outer',
      async run(_x, next) {
        const p = next();
        seen.push(p instanceof Promise);
        await p.catch((e: Error) => seen.push(e.message));
      },
    };
    const passOn: Step = { name: 'sync', run: (_x, next) => next() };
    const thrower: Step = {
      name: 'thrower',
      run() {
        throw new Error('boom');
      },
    };
    await new Pipeline([outer, passOn, thrower]).run(x);
    expect(seen).toEqual([true, 'boom']);
    await expect(new Pipeline([thrower]).run(x)).rejects.toThrow('boom');
    seen.length = 0;
    await new Pipeline([outer, { name: 'nothing', run: () => {} }]).run(x);
    expect(seen).toEqual([true]);
  });

  it('refuses an unknown anchor and a duplicate name, naming them', () => {
    const p = new Pipeline([step('a')]);
    expect(() => p.add(step('b'), { before: 'nope' })).toThrow(/no step named "nope".*a/);
    expect(() => p.add(step('a'), { after: 'a' })).toThrow(/two steps named "a"/);
  });

  it("the mock's request path has the named steps, and a step added to it sees and may answer requests", async () => {
    const m = await startMock();
    try {
      // The journal and fault injection join the standard steps when the admin routes are served;
      // the management rate limit unless it is off.
      expect(m.mock.pipeline.names()).toEqual(['request-id', 'access-log', 'journal', 'serialise', 'parse', 'drain-body', 'faults', 'authenticate', 'management-rate-limit', 'json-bounds', 'validate', 'handler']);
      const seen: string[] = [];
      m.mock.pipeline.add({ name: 'spy', run: async (ex, next) => (await next(), void seen.push(`${ex.op?.id ?? 'none'} ${ex.sent?.status}`)) }, { after: 'access-log' });
      m.mock.pipeline.add(
        { name: 'maintenance', run: (ex, next) => (ex.req.headers['x-down'] ? void (ex.result = { status: 503, body: { error: { message: 'down', type: 'api_error' } } }) : next()) },
        { before: 'authenticate' },
      );
      const auth = { Authorization: 'Api-Key mock-management-key' };
      expect((await request(m.url).get('/v1/gateway/groups').set(auth)).status).toBe(200);
      const down = await request(m.url).get('/v1/gateway/groups').set('X-Down', '1');
      expect(down.status).toBe(503);
      expect(down.headers['x-request-id']).toBeTruthy();
      expect((await request(m.url).get('/nowhere')).status).toBe(404);
      expect(seen).toEqual(['listGroups 200', 'listGroups 503', 'none 404']);
    } finally {
      await m.close();
    }
  });
});
