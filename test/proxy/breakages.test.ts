import { afterAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { RULES, type RuleKey } from '../../src/proxy/rules.js';
import { BREAKAGES, startBroken, type Breakage, type BrokenGateway } from '../meta/broken-proxy.js';
import { ALL_AT_ONCE, HONEST } from '../meta/honest-gateways.js';

/**
 * The validating proxy in front of the deliberately broken gateways of test/meta/: one
 * scripted walk of traffic (the suite's kind of requests, a few hundred, no assertion of
 * its own) goes through the proxy to each broken gateway, and the proxy must name the
 * broken rule with the suite's id. Every breakage is either here or in NOT_VISIBLE with
 * the reason a passive observer cannot see it.
 */

const KEY = 'mock-management-key';
const OTHER = 'mock-other-workspace-key';
const A = 'acme-org/chat-model';
const B = 'acme-org/embed-model';

interface Res {
  status: number;
  body: any;
}

/** The walk: hierarchy, cascade, PATCH, keys, revoke, delete, lists, field rules, limits, endpoints, events, the management rate limit. */
async function traffic(base: string): Promise<void> {
  const run = Math.random().toString(36).slice(2, 8);
  const call = async (method: string, path: string, body?: unknown, key = KEY): Promise<Res> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Api-Key ${key}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json };
  };
  const ext = (label: string) => `bt-${run}-${label}`;
  const limit = (type: string, unit: string, threshold: number) => ({ type, unit, threshold });
  const group = async (label: string, models: unknown[], hierarchy: Record<string, unknown> = { limit_enforcement: 'INDEPENDENT', parent_group_id: null }) =>
    (await call('POST', '/v1/gateway/groups', { metadata: { name: label, external_entity_id: ext(label) }, models, hierarchy })).body;
  const chat = (key: string, model = A) => call('POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, key);
  const drain = async (path: string, n: number) => {
    let cursor: string | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await call('GET', `${path}?limit=${n}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (!page.body?.pagination?.has_more) return;
      cursor = page.body.pagination.cursor;
    }
  };

  // Hierarchy: an INDEPENDENT child inherits what it omits.
  const root = await group('root', [{ slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 100)], usage_limits: [limit('TOKEN', 'DAY', 100000)] }, { slug: B }]);
  const child = await group('child', [{ slug: A }], { parent_group_id: root.id });
  await call('GET', `/v1/gateway/groups/${child.id}`);
  // CASCADING: a child above its parent, a raise past the ancestor, a lowering below the descendant, another mode.
  const org = await group('org', [{ slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 5)] }], { limit_enforcement: 'CASCADING', parent_group_id: null });
  await group('above', [{ slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 10)] }], { parent_group_id: org.id });
  const team = await group('team', [{ slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 3)] }], { parent_group_id: org.id });
  await call('PATCH', `/v1/gateway/groups/${team.id}`, { models: [{ slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 10)] }] });
  await call('PATCH', `/v1/gateway/groups/${org.id}`, { models: [{ slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 1)] }] });
  await group('mode', [{ slug: A }], { limit_enforcement: 'INDEPENDENT', parent_group_id: org.id });
  // PATCH: set semantics, then the refusals.
  await call('PATCH', `/v1/gateway/groups/${root.id}`, { models: [{ slug: A, rate_limits: [limit('TOKEN', 'MINUTE', 50)] }] });
  await call('GET', `/v1/gateway/groups/${root.id}`);
  await call('PATCH', `/v1/gateway/groups/${root.id}`, { models: [] });
  await call('GET', `/v1/gateway/groups/${root.id}`);
  await call('PATCH', `/v1/gateway/groups/${root.id}`, { hierarchy: { limit_enforcement: 'INDEPENDENT' } });
  await call('PATCH', `/v1/gateway/groups/${root.id}`, {});
  // Keys: mint, drain, read, the wrong group, revoke and use.
  const k1 = (await call('POST', `/v1/gateway/groups/${child.id}/api_keys`, { name: 'one' })).body;
  await call('POST', `/v1/gateway/groups/${child.id}/api_keys`, {});
  const k3 = (await call('POST', `/v1/gateway/groups/${child.id}/api_keys`, {})).body;
  await drain(`/v1/gateway/groups/${child.id}/api_keys`, 1);
  await call('GET', `/v1/gateway/groups/${child.id}/api_keys/${k1.prefix}`);
  await call('GET', `/v1/gateway/groups/${root.id}/api_keys/${k1.prefix}`);
  await chat(k3.api_key);
  await call('DELETE', `/v1/gateway/groups/${child.id}/api_keys/${k3.prefix}`);
  await chat(k3.api_key);
  await call('GET', `/v1/gateway/groups/${child.id}/api_keys/${k3.prefix}`);
  // Delete: the subtree, its keys, a create under it, the list.
  const doomed = await group('doomed', [{ slug: A }]);
  const below = await group('below', [{ slug: A }], { parent_group_id: doomed.id });
  const kb = (await call('POST', `/v1/gateway/groups/${below.id}/api_keys`, {})).body;
  await chat(kb.api_key);
  await call('DELETE', `/v1/gateway/groups/${doomed.id}`);
  await call('GET', `/v1/gateway/groups/${below.id}`);
  await chat(kb.api_key);
  await group('orphan', [{ slug: A }], { parent_group_id: doomed.id });
  await drain('/v1/gateway/groups', 2);
  // Field rules.
  await call('POST', '/v1/gateway/groups', { metadata: { external_entity_id: ext('root') }, models: [{ slug: A }], hierarchy: {} });
  await call('POST', '/v1/gateway/groups', { models: [{ slug: A }], hierarchy: {} });
  await call('POST', '/v1/gateway/groups', { metadata: { external_entity_id: ext('negative') }, models: [{ slug: A, usage_limits: [limit('TOKEN', 'DAY', -5)] }], hierarchy: {} });
  // Limits: one request a minute on A, nothing on B; an error body; usage.
  const limited = await group('limited', [
    { slug: A, rate_limits: [limit('REQUEST', 'MINUTE', 1)], usage_limits: [limit('TOKEN', 'DAY', 100000)] },
    { slug: B, rate_limits: [limit('REQUEST', 'MINUTE', 0)] },
  ]);
  const kl = (await call('POST', `/v1/gateway/groups/${limited.id}/api_keys`, {})).body;
  await chat(kl.api_key);
  await chat(kl.api_key);
  await chat(kl.api_key, B);
  await call('GET', `/v1/gateway/groups/${limited.id}/usage`);
  // Tenancy: another workspace's key on this workspace's group.
  await call('GET', `/v1/gateway/groups/${root.id}`, undefined, OTHER);
  // Endpoints: create, a taken slug, another workspace, PATCH a second later, a rename, the list, delete.
  const slug = `your-org/bt-${run}`;
  const target = { provider: 'BASETEN', model_id: 'abc123' };
  const ep = (await call('POST', '/v1/gateway/endpoints', { slug, targets: [target] })).body;
  await call('POST', '/v1/gateway/endpoints', { slug, targets: [target] });
  await call('GET', `/v1/gateway/endpoints/${ep.id}`, undefined, OTHER);
  await new Promise((r) => setTimeout(r, 1200));
  await call('PATCH', `/v1/gateway/endpoints/${ep.id}`, { targets: [target] });
  await call('PATCH', `/v1/gateway/endpoints/${ep.id}`, { slug: `${slug}-renamed` });
  await drain('/v1/gateway/endpoints', 1);
  await call('DELETE', `/v1/gateway/endpoints/${ep.id}`);
  await call('GET', `/v1/gateway/endpoints/${ep.id}`);
  // Billing events, once queryable (the mock holds the newest back a while): the window, then up to the last one.
  await fetch(`${base}/_mock/clock`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ advance_seconds: 300 }) });
  const events = await call('GET', `/v1/gateway/events?start_time=${encodeURIComponent('2000-01-01T00:00:00Z')}&limit=1000`);
  const last = events.body?.items?.at(-1)?.timestamp;
  if (typeof last === 'string') await call('GET', `/v1/gateway/events?start_time=${encodeURIComponent('2000-01-01T00:00:00Z')}&end_time=${encodeURIComponent(new Date(Date.parse(last)).toISOString())}`);
  // The management rate limit: bursts on one route until one is refused (as the suite provokes it).
  for (let round = 0; round < 5; round++) {
    const burst = await Promise.all(Array.from({ length: 150 }, () => call('GET', '/v1/gateway/groups?limit=1')));
    if (burst.some((r) => r.status === 429)) break;
  }
}

/** Each breakage the proxy sees passively, and the rules it must name (violations unless marked). */
const VISIBLE: [string, RuleKey[]][] = [
  ['PATCH merges models instead of replacing the set', ['patchReplaces', 'patchClears']],
  ['source_group always names the group itself', ['effectiveModels']],
  ['DELETE leaves descendants alive', ['subtree404', 'subtreeKeysRefused']],
  ['CASCADING updates skip the ancestor and descendant check', ['cascadeRaise', 'cascadeLower']],
  ['a child may be created above its CASCADING parent', ['cascadeCreate']],
  ['a group of another workspace answers 404 instead of 403', ['otherWorkspaceGroup']],
  ['pagination stops after the first full page', ['drainKeys', 'drainGroups']],
  ['a revoked key keeps working for inference', ['revokedRefused']],
  ['the secret is shown again on get and list', ['secretOnce']],
  ['rate and usage limits are never enforced', ['limitZero']],
  ['a management 429 without retry_after', ['managementRateLimit']],
  ['inference errors as {"detail": "..."} instead of the documented {"error": "<message>"}', ['inferenceErrorForm']],
  ['create answers 201 instead of the documented 200', ['contract']],
  ['an invalid threshold is accepted', ['negativeThreshold']],
  ['a limit of 0 lets traffic through', ['limitZero']],
  ['endpoint slugs are not unique', ['endpointSlugTaken']],
  ['a revoked key can still be fetched and revoked again (200)', ['revokedIs404']],
  ['a parent that does not exist is 400 instead of 404', ['parentDeleted']],
  ['a PATCH naming neither name nor models is accepted', ['patchNeither']],
  ['an endpoint slug may be renamed', ['endpointSlugImmutable']],
  ["another workspace's endpoint answers 404 instead of 403", ['otherWorkspaceEndpoint']],
  ['fetched billing events leak requestMetadata', ['eventFields']],
  ['billing events come back newest first', ['eventOrder']],
  ['the events end_time is inclusive', ['eventWindow']],
  ['the secret hides in another field of key list and get', ['secretOnce']],
  ['deleted_at is not UTC (a local offset)', ['deletedAt']],
  ['usage reset_at is not UTC (a local offset)', ['usageResetAt']],
  ['billing event timestamps are not UTC (a local offset)', ['eventFields']],
  ['a PATCH whose only field is hierarchy is accepted', ['patchNeither']],
  ['an endpoint PATCH leaves updated_at unchanged', ['endpointUpdatedAt']],
  ['an invalid create payload answers 422 instead of the documented 400', ['metadataRequired']],
  ['a duplicate external_entity_id answers 409 instead of the documented 400', ['externalIdUnique']],
  ['a key is found under any group of its workspace', ['keyUnderOwnGroup']],
  ['a deleted endpoint can still be read', ['endpointDeleted']],
  ['a child declaring another mode than its parent is accepted (it takes the parent’s)', ['childMode']],
];

/** Breakages the documentation leaves to observations: the proxy reports them as such, as the suite does off the mock. */
const OBSERVED: [string, RuleKey][] = [
  ['429 without Retry-After', 'inference429'],
  ['responses lose their request id', 'requestId'],
];

/** Why a passive observer cannot see these (docs/guide.md lists them too). */
const NOT_VISIBLE: Record<string, string> = {
  'key registration accepts any signature': "the workspace's registration public key is not in the traffic",
  'a key of exactly 32 characters is refused': 'a refusal is visible, its reason is not (the message is not documented, and the signature cannot be checked)',
  'a key of exactly 128 characters is refused': 'as above',
  'a key of entropy exactly 3.0 is refused': 'as above',
  'DELETE keeps the external id taken': 'a 400 on the create is visible, that the external id is its reason is not (no documented message)',
  'a threshold of 0 is refused (the minimum before 2026-07-03)': 'a 400 is visible, its reason is not: the request may break another rule, or an out-of-sight write',
  'a name of exactly 255 characters is refused': 'as above',
  'an external_entity_id of exactly 255 characters is refused': 'as above',
  'a deleted endpoint keeps its slug taken': 'as above (the slug may be taken by an endpoint the proxy never saw)',
  'view-scope keys may write': "a key's scope is not in the traffic",
  'workspaces that are not onboarded are let in': 'whether a workspace is onboarded is not in the traffic',
  'webhooks are signed with the wrong secret': 'webhooks go from the gateway to the integrator, not through the proxy, and their secret is not the proxy’s',
  'usage counters never move': 'what a counter should be depends on every call of the group, seen or not, and on windows the proxy would have to replicate',
  'the INDEPENDENT inherited limit is shared with the parent': 'needs the meter replicated over traffic the proxy may not all see',
  'one bucket is shared by all slugs of a group': 'as above',
  'a limit lets one request too many through': 'as above',
};

const open: (BrokenGateway | RunningProxy)[] = [];
afterAll(async () => {
  for (const x of open) await x.close();
});

async function through(breakage: string | Breakage): Promise<RunningProxy> {
  const gw = await startBroken(typeof breakage === 'string' ? (BREAKAGES[breakage] as Breakage) : breakage);
  open.push(gw);
  const proxy = await startProxy({ upstream: gw.url });
  open.push(proxy);
  await traffic(proxy.url);
  // Verdicts are given once each response has ended; the last ones may trail the walk by a tick.
  await new Promise((r) => setTimeout(r, 50));
  return proxy;
}

describe('the proxy in front of broken gateways', () => {
  it('every breakage of test/meta/ is either seen here or listed with the reason it cannot be', () => {
    const classified = [...VISIBLE.map(([b]) => b), ...OBSERVED.map(([b]) => b), ...Object.keys(NOT_VISIBLE)];
    expect(Object.keys(BREAKAGES).filter((b) => b !== 'honest' && !classified.includes(b))).toEqual([]);
    expect(classified.filter((b) => !(b in BREAKAGES))).toEqual([]);
  });

  it('the walk through an honest gateway: no violation (the control)', async () => {
    const proxy = await through('honest');
    const violations = proxy.verdicts().filter((v) => v.kind === 'violation');
    expect(violations.map((v) => `[${v.rule}] ${v.method} ${v.path}: ${v.message}`)).toEqual([]);
    expect(proxy.totals().exchanges).toBeGreaterThan(200);
  }, 60_000);

  it.concurrent.each(VISIBLE)('%s: named as a violation', async (breakage, keys) => {
    const proxy = await through(breakage);
    const named = new Set(proxy.verdicts().filter((v) => v.kind === 'violation').map((v) => v.rule));
    for (const key of keys) expect([...named], `${RULES[key].id} should be named`).toContain(RULES[key].id);
  }, 60_000);

  it.concurrent.each(OBSERVED)('%s: named as an observation, as the suite reports it off the mock', async (breakage, key) => {
    const proxy = await through(breakage);
    const verdicts = proxy.verdicts().filter((v) => v.rule === RULES[key].id);
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((v) => v.kind === 'observation')).toBe(true);
    expect(proxy.totals().violations).toBe(0);
  }, 60_000);
});

describe('the proxy in front of honest-but-different gateways (test/meta/honest-gateways.ts)', () => {
  // They differ from the mock only where the docs leave room: the same walk, no violation.
  // Latency alone ('a slow network') changes nothing the proxy judges: left out, as ALL_AT_ONCE leaves it out.
  const gateways = [...Object.entries(HONEST).filter(([name]) => !name.startsWith('a slow network')), ['all of those differences at once', ALL_AT_ONCE] as [string, Breakage]];
  it.concurrent.each(gateways)('%s: no violation', async (_name, gateway) => {
    const proxy = await through(gateway);
    // These gateways are honest for the suite's live run, which never provokes the management
    // rate limit (no rate-limit-probe); the error-form rewrites of some of them (and of
    // ALL_AT_ONCE) drop the 429's retry_after, a real departure the walk's burst does provoke.
    // The 429 form is pinned by the breakage case above and by the suite through the proxy.
    const excused = RULES.managementRateLimit.id;
    const violations = proxy.verdicts().filter((v) => v.kind === 'violation' && v.rule !== excused);
    expect(violations.map((v) => `[${v.rule}] ${v.method} ${v.path}: ${v.message}`)).toEqual([]);
  }, 60_000);
});
