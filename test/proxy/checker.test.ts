import { beforeAll, describe, expect, it } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import { TrafficChecker, type RequestSeen } from '../../src/proxy/checker.js';
import { RULES } from '../../src/proxy/rules.js';

/**
 * The judge alone, without HTTP: exchanges told to it in the order a proxy sees them, to
 * pin what it does when they overlap (a verdict only from writes answered before the
 * request it judges) and that it judges by the domain's rules.
 */

let contract: ContractChecker;
beforeAll(async () => {
  contract = await ContractChecker.load(false, 'documented');
});

const auth = { authorization: 'Api-Key mock-management-key', 'content-type': 'application/json' };
const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = auth): RequestSeen => ({ method, path, query: null, headers, body });
const ok = (body: unknown) => ({ status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'r' }, body });
const group = (id: string, models: unknown[], parent: string | null = null, mode = 'INDEPENDENT') => ({
  id,
  metadata: { name: null, external_entity_id: `ext-${id}` },
  hierarchy: { limit_enforcement: mode, parent_group_id: parent },
  created_at: '2026-12-01T00:00:00Z',
  models,
  effective_models: models.map((m: any) => ({ slug: m.slug, rate_limits: (m.rate_limits ?? []).map((l: any) => ({ ...l, source_group: id })), usage_limits: [] })),
});
const A = (threshold?: number) => ({ slug: 'acme-org/chat-model', rate_limits: threshold === undefined ? [] : [{ type: 'REQUEST', unit: 'MINUTE', threshold }], usage_limits: [] });

function created(c: TrafficChecker, id: string, models: unknown[]) {
  const p = c.begin(req('POST', '/v1/gateway/groups', { metadata: { external_entity_id: `ext-${id}` }, models, hierarchy: {} }));
  p.req.body = { metadata: { external_entity_id: `ext-${id}` }, models, hierarchy: {} };
  expect(c.end(p, ok(group(id, models)))).toEqual([]);
}

describe('the proxy judge', () => {
  it('a read that overlaps a write is not judged against it; a read after it is', () => {
    const c = new TrafficChecker(contract);
    created(c, 'g1', [A(5)]);
    const read = c.begin(req('GET', '/v1/gateway/groups/g1'));
    const write = c.begin(req('PATCH', '/v1/gateway/groups/g1'));
    write.req.body = { models: [A(9)] };
    expect(c.end(write, ok(group('g1', [A(9)])))).toEqual([]);
    // The read left before the PATCH and came back with the old models: nothing to say.
    expect(c.end(read, ok(group('g1', [A(5)])))).toEqual([]);
    // A read after the PATCH was answered must show it.
    const later = c.begin(req('GET', '/v1/gateway/groups/g1'));
    expect(c.end(later, ok(group('g1', [A(5)]))).map((v) => v.rule)).toEqual([RULES.patchReplaces.id]);
  });

  it('effective_models by the domain rule: an INDEPENDENT child inherits what it omits, naming the parent', () => {
    const c = new TrafficChecker(contract);
    created(c, 'root', [A(7)]);
    const child = group('kid', [A()], 'root');
    const right = { ...child, effective_models: [{ slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 7, source_group: 'root' }], usage_limits: [] }] };
    expect(c.end(c.begin(req('GET', '/v1/gateway/groups/kid')), ok(right))).toEqual([]);
    const wrong = { ...child, effective_models: [{ slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 7, source_group: 'kid' }], usage_limits: [] }] };
    expect(c.end(c.begin(req('GET', '/v1/gateway/groups/kid')), ok(wrong)).map((v) => v.rule)).toEqual([RULES.effectiveModels.id]);
  });

  it('a revoked key is judged on inference only once the revoke was answered before the call', () => {
    const c = new TrafficChecker(contract);
    created(c, 'g2', [A()]);
    const secret = 'SECRETsecret0123456789SECRETsecret012345678';
    const key = `sky_abcdefghijkl.${secret}`;
    expect(c.end(c.begin(req('POST', '/v1/gateway/groups/g2/api_keys', {})), ok({ api_key: key, prefix: 'sky_abcdefghijkl', name: null }))).toEqual([]);
    const chat = (k: string) => req('POST', '/v1/chat/completions', { model: 'acme-org/chat-model', messages: [] }, { authorization: `Api-Key ${k}` });
    const completion = { id: 'c', object: 'chat.completion', created: 1, model: 'acme-org/chat-model', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    const during = c.begin(chat(key));
    expect(c.end(c.begin(req('DELETE', '/v1/gateway/groups/g2/api_keys/sky_abcdefghijkl')), ok({ prefix: 'sky_abcdefghijkl' }))).toEqual([]);
    expect(c.end(during, ok(completion))).toEqual([]);
    expect(c.end(c.begin(chat(key)), ok(completion)).map((v) => v.rule)).toEqual([RULES.revokedRefused.id]);
    // Its secret is known only as a digest, and redacted wherever it shows.
    expect(c.redactText(`leaked ${key} and ${secret}`)).toBe('leaked sky_abcdefghijkl[redacted] and [redacted]');
    expect(JSON.stringify(c.learned())).not.toContain('SECRET');
  });

  it('the CASCADING write-time rule, by the domain: a child created above its parent is a violation', () => {
    const c = new TrafficChecker(contract);
    const org = group('org', [A(5)], null, 'CASCADING');
    const p = c.begin(req('POST', '/v1/gateway/groups'));
    p.req.body = { metadata: { external_entity_id: 'ext-org' }, models: [A(5)], hierarchy: { limit_enforcement: 'CASCADING' } };
    expect(c.end(p, ok(org))).toEqual([]);
    const above = c.begin(req('POST', '/v1/gateway/groups'));
    above.req.body = { metadata: { external_entity_id: 'ext-x' }, models: [A(10)], hierarchy: { parent_group_id: 'org' } };
    const made = group('x', [A(10)], 'org', 'CASCADING');
    made.effective_models = [{ slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 10, source_group: 'x' }, { type: 'REQUEST', unit: 'MINUTE', threshold: 5, source_group: 'org' }] as any, usage_limits: [] }];
    expect(c.end(above, ok(made)).map((v) => v.rule)).toEqual([RULES.cascadeCreate.id]);
  });

  it('a route no documented operation answers is an observation, a documented one out of its schema a violation', () => {
    const c = new TrafficChecker(contract);
    expect(c.end(c.begin(req('OPTIONS', '/v1/gateway/groups')), { status: 204, headers: { 'x-request-id': 'r' }, body: undefined })).toEqual([
      { rule: RULES.contract.id, kind: 'observation', message: 'OPTIONS /v1/gateway/groups -> 204: no documented operation answers this' },
    ]);
    expect(c.end(c.begin(req('GET', '/v1/gateway/groups')), ok({ items: 'not a list' })).map((v) => [v.rule, v.kind])).toEqual([[RULES.contract.id, 'violation']]);
  });
});
