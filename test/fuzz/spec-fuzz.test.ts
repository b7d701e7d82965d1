import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecs, type Operation } from '../../src/http/spec.js';
import { startMock, type RunningMock } from '../../src/index.js';
import { Figures, RUNS } from './support/figures.js';
import { hostile, mutated, valid } from './support/schema-arb.js';

/**
 * Requests generated from openapi/frontier-gateway.yaml and openapi/mock-admin.yaml for
 * every operation, valid and mutated: none may answer 5xx, and after each operation's
 * batch a fresh known-good sequence (create a group, mint a key, complete, list the
 * webhook log) still succeeds, so no request poisoned the state.
 */

const MANAGEMENT = 'Api-Key mock-management-key';
let m: RunningMock;
let operations: Operation[];
const figures = new Figures('spec-fuzz');
let fixture: { groupId: string; prefix: string; apiKey: string };

async function send(method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await fetch(`${m.url}${path}`, { method: method.toUpperCase(), headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  figures.saw(res.status);
  return { status: res.status, text };
}

/** Create a group, mint a key, and complete: what every user does first. Throws unless all succeed. */
async function knownGood(tag: string) {
  const json = { 'Content-Type': 'application/json', Authorization: MANAGEMENT };
  const g = await send('post', '/v1/gateway/groups', json, JSON.stringify({ metadata: { external_entity_id: `fixture-${tag}-${Math.random()}`, name: null }, models: [{ slug: 'acme/fuzz' }], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } }));
  expect(g.status, g.text).toBe(200);
  const groupId = JSON.parse(g.text).id as string;
  const k = await send('post', `/v1/gateway/groups/${groupId}/api_keys`, json, '{}');
  expect(k.status, k.text).toBe(200);
  const { api_key: apiKey, prefix } = JSON.parse(k.text) as { api_key: string; prefix: string };
  const chat = await send('post', '/v1/chat/completions', { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` }, JSON.stringify({ model: 'acme/fuzz', messages: [{ role: 'user', content: 'hi' }] }));
  expect(chat.status, chat.text).toBe(200);
  for (const path of ['/_mock/webhooks', '/_mock/state', '/_mock/clock', '/v1/gateway/groups']) {
    const r = await send('get', path, { Authorization: MANAGEMENT });
    expect(r.status, `${path}: ${r.text.slice(0, 300)}`).toBe(200);
  }
  figures.invariants += 1;
  return { groupId, prefix, apiKey };
}

beforeAll(async () => {
  // Hundreds of management calls a second with one key on one route: the management
  // rate limit (100/s per key per route, pinned in test/mock/rate-limit.test.ts) is off,
  // or it would answer 429s the reference model does not expect.
  m = await startMock({ managementRateLimit: false });
  operations = (await loadSpecs(true)).operations;
  fixture = await knownGood('start');
});
afterAll(async () => {
  figures.flush();
  await m.close();
});

const oddSegments = ['%ED%A0%80', '%', '..', '%2F', 'x'.repeat(300), '0', '%00', '%F0%9F%98%80', 'grp_does_not_exist'];

function requestFor(op: Operation) {
  const pathParam = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('known') },
    { weight: 2, arbitrary: fc.constantFrom(...oddSegments) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
  );
  const query = op.parameters.filter((p) => p.in === 'query');
  const queryArb = fc.record(
    Object.fromEntries(query.map((p) => [p.name, fc.oneof(valid(p.schema as object).map(String), hostile.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')))])),
    { requiredKeys: [] },
  );
  const schema = (op.requestBody?.content?.['application/json'] as { schema?: object } | undefined)?.schema as Record<string, unknown> | undefined;
  // hierarchy becomes required on create (issue 8): valid create bodies always carry it.
  const good = schema ? valid(schema, op.id === 'createGroup' ? ['hierarchy'] : []) : fc.constant(undefined);
  const bodyArb = schema
    ? fc.oneof({ weight: 2, arbitrary: good }, { weight: 3, arbitrary: mutated(good) }, { weight: 1, arbitrary: fc.constant(undefined) })
    : fc.oneof(fc.constant(undefined), hostile);
  const authArb = fc.constantFrom('right', 'right', 'right', 'none', 'garbage', 'view', 'other-workspace', 'not-onboarded');
  const typeArb = fc.constantFrom('application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded');
  return fc.record({ params: fc.array(pathParam, { minLength: 4, maxLength: 4 }), query: queryArb, body: bodyArb, auth: authArb, type: typeArb });
}

function authHeader(op: Operation, how: string): string | undefined {
  switch (how) {
    case 'none':
      return undefined;
    case 'garbage':
      return 'Api-Key sky_nope.nope';
    case 'view':
      return 'Api-Key mock-view-key';
    case 'other-workspace':
      return 'Api-Key mock-other-workspace-key';
    case 'not-onboarded':
      return 'Api-Key mock-not-onboarded-key';
    default:
      return op.auth === 'federated' ? `Bearer ${fixture.apiKey}` : MANAGEMENT;
  }
}

describe('spec-driven fuzzing: no 5xx, no poisoned state', () => {
  it('every operation, valid and mutated', async () => {
    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(requestFor(op), async (r) => {
          let i = 0;
          const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
            const pick = r.params[i++ % 4] as string;
            if (pick !== 'known') return pick;
            return name === 'group_id' ? fixture.groupId : fixture.prefix;
          });
          const qs = new URLSearchParams(r.query as Record<string, string>).toString();
          const headers: Record<string, string> = {};
          const auth = authHeader(op, r.auth);
          if (auth) headers.Authorization = auth;
          let body: string | undefined;
          if (r.body !== undefined && op.method !== 'get') {
            headers['Content-Type'] = r.type;
            body = JSON.stringify(r.body) ?? 'null';
          }
          const res = await send(op.method, `${path}${qs ? `?${qs}` : ''}`, headers, body);
          if (res.status >= 500) throw new Error(`${op.method.toUpperCase()} ${path} -> ${res.status}: ${res.text.slice(0, 300)}`);
        }),
        { numRuns: RUNS ?? 25, endOnFailure: true },
      );
      // Injected faults (POST /_mock/faults) and scripted replies (POST /_mock/replies, which
      // may script a 5xx) are breakage on purpose, not poisoned state: clear them first.
      await send('delete', '/_mock/faults', {});
      await send('delete', '/_mock/replies', {});
      fixture = await knownGood(op.id);
    }
  }, 120_000);
});
