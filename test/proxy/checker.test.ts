import { beforeAll, describe, expect, it } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import { TrafficChecker, type RequestSeen, type Verdict } from '../../src/proxy/checker.js';
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

function created(c: TrafficChecker, id: string, models: unknown[], parent: string | null = null, mode = 'INDEPENDENT', object = group(id, models, parent, mode)) {
  const body = { metadata: { external_entity_id: `ext-${id}` }, models, hierarchy: parent ? { parent_group_id: parent } : { limit_enforcement: mode } };
  expect(c.end(c.begin(req('POST', '/v1/gateway/groups', body)), ok(object))).toEqual([]);
}
/** An exchange told whole: begin, then end with `status` and `body`. */
const exchange = (c: TrafficChecker, r: RequestSeen, status: number, body: unknown, headers: Record<string, string> = {}) =>
  c.end(c.begin(r), { status, headers: { 'content-type': 'application/json', 'x-request-id': 'r', ...headers }, body });
const rulesOf = (vs: Verdict[]) => vs.map((v) => `${v.kind} ${v.rule}`);
const chatWith = (k: string, model = 'acme-org/chat-model') => req('POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Api-Key ${k}`, 'content-type': 'application/json' });
const completion = { id: 'c', object: 'chat.completion', created: 1, model: 'acme-org/chat-model', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
function minted(c: TrafficChecker, groupId: string, prefix: string): string {
  const key = `${prefix}.SECRETsecret0123456789SECRETsecret012345678`;
  expect(exchange(c, req('POST', `/v1/gateway/groups/${groupId}/api_keys`, {}), 200, { api_key: key, prefix, name: null })).toEqual([]);
  return key;
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

  it('a create refused for the caller (401 no key, 403 a view-scope key, 429) judges no field rule', () => {
    const c = new TrafficChecker(contract);
    const unauthenticated = req('POST', '/v1/gateway/groups', {}, { 'content-type': 'application/json' });
    expect(rulesOf(exchange(c, unauthenticated, 401, { error: 'Missing or invalid API key.' }))).toEqual([]);
    const view = req('POST', '/v1/gateway/groups', { metadata: { external_entity_id: 'v' }, hierarchy: {} });
    expect(rulesOf(exchange(c, view, 403, { error: 'This key may only read.' }))).toEqual([]);
    // The payload is still judged on an answer about it.
    expect(rulesOf(exchange(c, view, 422, { error: 'bad' }))).toContain(`violation ${RULES.modelsRequired.id}`);
  });

  it('a create that breaks two documented rules may answer either refusal (no metadata under a deleted parent: 400 or 404)', () => {
    const c = new TrafficChecker(contract);
    created(c, 'gone', [A()]);
    expect(exchange(c, req('DELETE', '/v1/gateway/groups/gone'), 200, { id: 'gone', metadata: { name: null, external_entity_id: 'ext-gone' }, deleted_at: '2026-12-01T00:00:01Z' })).toEqual([]);
    const orphan = req('POST', '/v1/gateway/groups', { models: [A()], hierarchy: { parent_group_id: 'gone' } });
    expect(rulesOf(exchange(c, orphan, 400, { error: 'metadata is required' }))).toEqual([]);
    expect(rulesOf(exchange(c, orphan, 404, { error: 'No such group' }))).toEqual([]);
    expect(rulesOf(exchange(c, orphan, 409, { error: 'Conflict' })).filter((r) => !r.includes(RULES.contract.id)).sort()).toEqual([`violation ${RULES.parentDeleted.id}`, `violation ${RULES.metadataRequired.id}`].sort());
  });

  it('a limit of 0 is judged from the path as it is now: an ancestor raised since the child was read is no violation', () => {
    const c = new TrafficChecker(contract);
    const zero = { slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 0 }], usage_limits: [] };
    created(c, 'parent', [zero], null, 'CASCADING');
    // The child, as answered: it inherits the 0 from its CASCADING parent.
    const child = group('child', [A()], 'parent', 'CASCADING');
    child.effective_models = [{ slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 0, source_group: 'parent' }] as any, usage_limits: [] }];
    created(c, 'child', [A()], 'parent', 'CASCADING', child);
    const key = minted(c, 'child', 'sky_childkey00001');
    // While the 0 holds, an admitted call is a violation.
    expect(rulesOf(exchange(c, chatWith(key), 200, completion))).toEqual([`violation ${RULES.limitZero.id}`]);
    // The parent is raised to 100; the child's object as last read still shows the 0.
    const raised = { ...zero, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 100 }] };
    expect(exchange(c, req('PATCH', '/v1/gateway/groups/parent', { models: [raised] }), 200, group('parent', [raised], null, 'CASCADING'))).toEqual([]);
    expect(rulesOf(exchange(c, chatWith(key), 200, completion))).toEqual([]);
  });

  it('a refused DELETE (another workspace: 403) switches no check off, and a DELETE on a made-up id leaves no mark', () => {
    const c = new TrafficChecker(contract);
    created(c, 'mine', [A()]);
    const other = { authorization: 'Api-Key mock-other-workspace-key', 'content-type': 'application/json' };
    expect(rulesOf(exchange(c, req('DELETE', '/v1/gateway/groups/mine', undefined, other), 403, { error: 'Forbidden' }))).toEqual([]);
    // The group is alive: another workspace reading it gets 403, never 404.
    expect(rulesOf(exchange(c, req('GET', '/v1/gateway/groups/mine', undefined, other), 404, { error: 'Not found' }))).toEqual([`violation ${RULES.otherWorkspaceGroup.id}`]);
    // And a drain of the owner's list still expects it.
    expect(rulesOf(exchange(c, req('GET', '/v1/gateway/groups'), 200, { items: [], pagination: { has_more: false, cursor: null } }))).toEqual([`violation ${RULES.drainGroups.id}`]);
    for (let i = 0; i < 50; i++) exchange(c, req('DELETE', `/v1/gateway/groups/made-up-${i}`), 404, { error: 'Not found' });
    for (let i = 0; i < 50; i++) exchange(c, req('DELETE', `/v1/gateway/groups/mine/api_keys/sky_madeup${String(i).padStart(7, '0')}`), 404, { error: 'Not found' });
    expect(c.sizes()).toMatchObject({ deleting: 0, revoking: 0 });
  });

  it('every map it keeps is bounded (the least recently written dropped first): first pages never followed, made-up deletes, minted keys', () => {
    const c = new TrafficChecker(contract, () => Date.now(), 10);
    created(c, 'g', [A()]);
    for (let i = 0; i < 50; i++) {
      exchange(c, req('GET', '/v1/gateway/groups/g/api_keys'), 200, { items: [], pagination: { has_more: true, cursor: `cursor-${i}` } });
      exchange(c, req('POST', `/v1/gateway/groups/g/api_keys`, {}), 200, { api_key: `sky_${String(i).padStart(12, '0')}.SECRETsecret0123456789SECRETsecret${i}`, prefix: `sky_${String(i).padStart(12, '0')}`, name: null });
      exchange(c, req('DELETE', `/v1/gateway/groups/g/api_keys/sky_${String(i).padStart(12, '0')}`), 200, { prefix: `sky_${String(i).padStart(12, '0')}` });
      exchange(c, req('POST', '/v1/gateway/endpoints', { slug: `your-org/m${i}`, targets: [] }), 200, { id: `ep-${i}`, slug: `your-org/m${i}` });
      exchange(c, req('DELETE', `/v1/gateway/endpoints/ep-${i}`), 200, { id: `ep-${i}` });
      created(c, `x${i}`, [A()]);
      exchange(c, req('DELETE', `/v1/gateway/groups/x${i}`), 200, { id: `x${i}`, metadata: { name: null, external_entity_id: `ext-x${i}` }, deleted_at: '2026-12-01T00:00:01Z' });
    }
    const sizes = c.sizes();
    for (const [name, size] of Object.entries(sizes)) expect(size, name).toBeLessThanOrEqual(10);
    expect(sizes).toMatchObject({ drains: 10, secrets: 10, revoked: 10, deleted: 10, deletedEndpoints: 10 });
  });

  it('a revoked or deleted group key refused with a 4xx other than 401 is an observation; served, a violation', () => {
    const c = new TrafficChecker(contract);
    created(c, 'g3', [A()]);
    const key = minted(c, 'g3', 'sky_revokedkey001');
    expect(exchange(c, req('DELETE', '/v1/gateway/groups/g3/api_keys/sky_revokedkey001'), 200, { prefix: 'sky_revokedkey001' })).toEqual([]);
    expect(rulesOf(exchange(c, chatWith(key), 401, { error: 'Invalid API key.' }))).toEqual([]);
    expect(rulesOf(exchange(c, chatWith(key), 403, { error: 'Key revoked.' }))).toEqual([`observation ${RULES.revokedRefused.id}`]);
    expect(rulesOf(exchange(c, chatWith(key), 200, completion))).toEqual([`violation ${RULES.revokedRefused.id}`]);
    created(c, 'g4', [A()]);
    const other = minted(c, 'g4', 'sky_deletedgroup1');
    exchange(c, req('DELETE', '/v1/gateway/groups/g4'), 200, { id: 'g4', metadata: { name: null, external_entity_id: 'ext-g4' }, deleted_at: '2026-12-01T00:00:01Z' });
    expect(rulesOf(exchange(c, chatWith(other), 404, { error: 'Not found.' }))).toEqual([`observation ${RULES.subtreeKeysRefused.id}`]);
    expect(rulesOf(exchange(c, chatWith(other), 200, completion))).toEqual([`violation ${RULES.subtreeKeysRefused.id}`]);
  });

  it('a request body it could not read is not judged as no body', () => {
    const c = new TrafficChecker(contract);
    created(c, 'g5', [A(5)]);
    const unread: RequestSeen = { ...req('PATCH', '/v1/gateway/groups/g5'), bodyUnread: true };
    expect(rulesOf(exchange(c, unread, 200, group('g5', [A(9)])))).toEqual([]);
    // Nor is a later read held to the write before it.
    expect(rulesOf(exchange(c, req('GET', '/v1/gateway/groups/g5'), 200, group('g5', [A(9)])))).toEqual([]);
    // A body truly absent still is.
    expect(rulesOf(exchange(c, req('PATCH', '/v1/gateway/groups/g5'), 200, group('g5', [A(9)])))).toEqual([`violation ${RULES.patchEmpty.id}`]);
  });

  it('a rule counts as evaluated only once its condition was reached, not when its operation was seen', () => {
    const c = new TrafficChecker(contract);
    created(c, 'g6', [A()]);
    minted(c, 'g6', 'sky_lonerevoke001');
    exchange(c, req('DELETE', '/v1/gateway/groups/g6/api_keys/sky_lonerevoke001'), 200, { prefix: 'sky_lonerevoke001' });
    const evaluated = c.evaluatedRules();
    expect(evaluated.has(RULES.revokedRefused.id)).toBe(false);
    expect(evaluated.has(RULES.metadataRequired.id)).toBe(false);
    expect(evaluated.has(RULES.readsBackAsCreated.id)).toBe(true);
    exchange(c, req('POST', '/v1/gateway/groups', { models: [A()], hierarchy: {} }), 400, { error: 'metadata is required' });
    expect(evaluated.has(RULES.metadataRequired.id)).toBe(true);
  });

  it('a message is redacted before it is cut: a key straddling the cut leaves none of its secret', () => {
    const c = new TrafficChecker(contract);
    const secret = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef';
    // A key minted before the proxy started (not among the secrets it knows), cut two characters into its secret.
    const text = `${'x'.repeat(180)} sky_notseenbefor.${secret}`;
    const vs = exchange(c, req('GET', '/v1/gateway/groups'), 429, { error: text, retry_after: 1 }, { 'retry-after': '1' });
    expect(rulesOf(vs)).toContain(`violation ${RULES.managementRateLimit.id}`);
    for (const v of vs) expect(v.message).not.toMatch(/sky_notseenbefor\.[A-Z]/);
  });
});
