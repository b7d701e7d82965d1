import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import type { RunningMock } from '../../src/index.js';
import { errorOf } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';

/**
 * The form of error bodies (AMBIGUITIES.md #9): Baseten's documented `{"error":
 * "<message>"}` by default, OpenAI's nested form with `errorFormat: 'openai'`
 * (`--error-format openai`); the same message either way, and the code, field and
 * detail in X-Fgw-Error-* headers in both.
 */

const { start } = mocksPerTest();
const auth = { Authorization: 'Api-Key mock-management-key' };

async function groupWithKey(m: RunningMock, models: unknown[] = [{ slug: 'acme/m', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 1 }] }]) {
  const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: `e-${Math.random()}` }, models, hierarchy: {} });
  expect(g.status, g.text).toBe(200);
  const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({});
  return { group: g.body, key: k.body.api_key as string };
}

/** The method and path (without the query) a supertest response answered. */
const where = (res: request.Response) => {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  return { method: req.method, path: new URL(req.path, 'http://x').pathname };
};

/** One of each error the mock answers, by how it is raised. */
async function samples(m: RunningMock) {
  const { group } = await groupWithKey(m, [{ slug: 'acme/m', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 100 }] }]);
  return {
    invalid: await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: {}, models: [], hierarchy: {} }),
    unauthorized: await request(m.url).get('/v1/gateway/groups'),
    notFound: await request(m.url).get('/v1/gateway/groups/nope').set(auth),
    badCursor: await request(m.url).get(`/v1/gateway/groups/${group.id}/api_keys`).query({ cursor: 'garbage' }).set(auth),
    methodNotAllowed: await request(m.url).put('/v1/gateway/groups').set(auth),
    unknownRoute: await request(m.url).get('/v1/nowhere'),
    admin: await request(m.url).post('/_mock/clock').send({}),
  };
}

describe('error bodies', () => {
  it("default: every error is {\"error\": \"<message>\"}, the admin routes' too; code, field and detail in X-Fgw-Error-* headers", async () => {
    const m = await start();
    const checker = await ContractChecker.load();
    for (const [name, res] of Object.entries(await samples(m))) {
      expect(res.status, name).toBeGreaterThanOrEqual(400);
      expect(Object.keys(res.body), name).toEqual(['error']);
      expect(typeof res.body.error, name).toBe('string');
      expect(res.headers['x-fgw-error-code'], name).toMatch(/^[a-z_]+$/);
      expect(checker.check({ ...where(res), status: res.status, contentType: res.headers['content-type'], body: res.body }), name).toEqual([]);
    }
    const s = await samples(m);
    expect(s.invalid.body.error).toMatch(/external_entity_id/);
    expect(errorOf(s.invalid)).toMatchObject({ code: 'invalid_request', param: 'metadata.external_entity_id' });
    expect(errorOf(s.badCursor)).toMatchObject({ param: 'cursor' });
    expect(s.unauthorized.body).toEqual({ error: 'Missing Authorization header: send "Authorization: Api-Key <key>".' });
    expect(s.methodNotAllowed.body).toEqual({ error: 'PUT is not allowed on /v1/gateway/groups; allowed: GET, POST.' });
    expect(s.methodNotAllowed.headers.allow).toBe('GET, POST');
    expect(s.admin.body).toEqual({ error: 'Provide advance_seconds or now.' });

    // The cascade refusal: exactly the documented message; which limits clashed, in X-Fgw-Error-Detail.
    const cascadeRoot = await request(m.url)
      .post('/v1/gateway/groups')
      .set(auth)
      .send({ metadata: { external_entity_id: `c-${Math.random()}` }, models: [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 100 }] }], hierarchy: { limit_enforcement: 'CASCADING' } });
    const child = await request(m.url)
      .post('/v1/gateway/groups')
      .set(auth)
      .send({ metadata: { external_entity_id: `c-${Math.random()}` }, models: [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 200 }] }], hierarchy: { parent_group_id: cascadeRoot.body.id } });
    expect(child.body).toEqual({ error: 'Child group exceeds parent group limit.' });
    expect(errorOf(child).detail).toBe(`a/b TOKEN/MINUTE: 200 is above 100 set by ancestor ${cascadeRoot.body.id}.`);
  });

  it('a header value that is not visible ASCII is percent-encoded (UTF-8), so any field name is sent safely', async () => {
    const m = await start({ unknownFields: 'reject' });
    const res = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'x', 'nöme\u2028': 1 }, models: [], hierarchy: {} });
    expect(res.status).toBe(400);
    expect(res.headers['x-fgw-error-param']).toBe('metadata.n%C3%B6me%E2%80%A8');
    expect(errorOf(res).param).toBe('metadata.nöme\u2028');
    expect(res.body.error).toContain('nöme');
  });

  it("with errorFormat 'openai': the nested OpenAI body, the same messages, and the same headers", async () => {
    const m = await start({ errorFormat: 'openai' });
    const checker = await ContractChecker.load();
    const s = await samples(m);
    for (const [name, res] of Object.entries(s)) {
      expect(Object.keys(res.body.error).sort(), name).toEqual(['code', 'message', 'param', 'type']);
      expect(res.body.error.code, name).toBe(res.headers['x-fgw-error-code']);
      expect(checker.check({ ...where(res), status: res.status, contentType: res.headers['content-type'], body: res.body }), name).toEqual([]);
    }
    expect(s.unauthorized.body).toEqual({ error: { message: 'Missing Authorization header: send "Authorization: Api-Key <key>".', type: 'authentication_error', code: 'missing_api_key', param: null } });
    expect(s.invalid.body.error).toMatchObject({ type: 'invalid_request_error', param: 'metadata.external_entity_id' });
    expect(s.notFound.body.error.type).toBe('not_found_error');
    expect(s.methodNotAllowed.body.error).toMatchObject({ type: 'method_not_allowed', code: 'method_not_allowed' });
    expect(s.admin.body.error).toMatchObject({ message: 'Provide advance_seconds or now.', type: 'invalid_request_error' });
  });

  it("an injected fault's default answer and a 413 follow the form", async () => {
    for (const errorFormat of ['baseten', 'openai'] as const) {
      const m = await start({ errorFormat });
      await request(m.url).post('/_mock/faults').send({ operation: 'listGroups', status: 503, times: 1 }).expect(201);
      const faulted = await request(m.url).get('/v1/gateway/groups').set(auth);
      expect(faulted.status).toBe(503);
      expect(faulted.headers['x-fgw-error-code']).toBe('injected_fault');
      if (errorFormat === 'baseten') expect(faulted.body).toEqual({ error: 'Injected by the mock (fault_1): this call answers 503.' });
      else expect(faulted.body.error).toMatchObject({ message: 'Injected by the mock (fault_1): this call answers 503.', type: 'api_error', code: 'injected_fault' });
      const big = await request(m.url).post('/v1/gateway/groups').set(auth).set('Content-Type', 'application/json').send('x'.repeat(1_100_000));
      expect(big.status).toBe(413);
      expect(errorOf(big)).toMatchObject({ message: 'The request body is too large (limit 1 MB).', code: 'body_too_large' });
      expect(typeof big.body.error).toBe(errorFormat === 'baseten' ? 'string' : 'object');
    }
  });
});

describe('the official openai SDK with either form', () => {
  const sdk = (m: RunningMock, apiKey: string) => new OpenAI({ apiKey, baseURL: `${m.url}/v1`, maxRetries: 0 });
  const hello = [{ role: 'user' as const, content: 'hello' }];

  it.each(['baseten', 'openai'] as const)('%s form: the status picks the error class and the message is surfaced', async (errorFormat) => {
    const m = await start({ errorFormat });
    const { key } = await groupWithKey(m);
    const cases: [() => Promise<unknown>, new (...args: any[]) => Error, string, string][] = [
      [() => sdk(m, key).chat.completions.create({ model: 'acme/m', messages: hello, max_tokens: 100_000 }), OpenAI.BadRequestError, 'max_tokens', 'max_tokens_too_large'],
      [() => sdk(m, 'sky_nope.nope').chat.completions.create({ model: 'acme/m', messages: hello }), OpenAI.AuthenticationError, 'Invalid API key', 'invalid_api_key'],
      [() => sdk(m, key).chat.completions.create({ model: 'other/slug', messages: hello }), OpenAI.NotFoundError, 'other/slug', 'model_not_found'],
      // The group's REQUEST/MINUTE limit of 1: the second call is refused with the limit named.
      [async () => (await sdk(m, key).chat.completions.create({ model: 'acme/m', messages: hello }), sdk(m, key).chat.completions.create({ model: 'acme/m', messages: hello })), OpenAI.RateLimitError, 'REQUEST per MINUTE', 'rate_limit_exceeded'],
    ];
    for (const [call, cls, text, code] of cases) {
      const err = (await call().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err, text).toBeInstanceOf(cls);
      expect(err.message, text).toContain(text);
      expect(err.headers?.get('x-fgw-error-code'), text).toBe(code);
      if (errorFormat === 'baseten') {
        // The SDK keeps the body's `error` as is: here, the message itself.
        expect(typeof err.error).toBe('string');
        expect(err.error as unknown as string).toContain(text);
        expect(err.code).toBeUndefined();
      } else {
        expect((err.error as { message: string }).message).toContain(text);
        expect(err.code).toBe(code);
      }
    }
  });

  it('a permission error is PermissionDeniedError in both forms (the management API through the SDK client)', async () => {
    for (const errorFormat of ['baseten', 'openai'] as const) {
      const m = await start({ errorFormat });
      const client = new OpenAI({ apiKey: 'mock-view-key', baseURL: m.url, maxRetries: 0 });
      const err = await client.post('/v1/gateway/groups', { body: { metadata: { external_entity_id: 'x' }, models: [], hierarchy: {} }, headers: { Authorization: 'Api-Key mock-view-key' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((err as Error).message).toContain('management scope');
    }
  });
});
