import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseImportCli } from '../../src/cli-import.js';
import { ManualClock } from '../../src/domain/clock.js';
import { IdSource } from '../../src/domain/ids.js';
import { fetchWorkspace, ImportError } from '../../src/import/fetch-workspace.js';
import { scenarioFromWorkspace, scenarioYaml, type ObservedWorkspace } from '../../src/import/workspace-scenario.js';
import { checkScenario } from '../../src/service/scenarios/scenario.js';

/** The converter and the reader of src/import/ (AMBIGUITIES.md #112-#115), without a server. */

const model = (slug: string, rate: object[] = [], usage: object[] = []) => ({ slug, rate_limits: rate, usage_limits: usage });
function group(id: string, ext: string, parent: string | null, mode: 'INDEPENDENT' | 'CASCADING', models = [model('acme/chat')], name: string | null = null) {
  return {
    id,
    metadata: { name, external_entity_id: ext },
    models,
    effective_models: [],
    hierarchy: { limit_enforcement: mode, parent_group_id: parent },
    created_at: '2026-05-13T12:00:00Z',
  };
}
const ws = (w: Partial<ObservedWorkspace>): ObservedWorkspace => ({ groups: [], endpoints: [], keys: [], ...w });
const seeded = () => ({ ids: new IdSource('import-test') });

describe('scenarioFromWorkspace', () => {
  it('writes parents before children, whatever order the groups were observed in, with local names from external ids', () => {
    const { scenario } = scenarioFromWorkspace(
      ws({ groups: [group('g3', 'grandchild', 'g2', 'CASCADING'), group('g2', 'child', 'g1', 'CASCADING'), group('g1', 'root', null, 'CASCADING'), group('g4', 'other root', null, 'INDEPENDENT')] }),
      seeded(),
    );
    expect(scenario.groups?.map((g) => [g.name, g.parent ?? null])).toEqual([
      ['root', null],
      ['child', 'root'],
      ['grandchild', 'child'],
      ['other-root', null],
    ]);
    // Both modes: a root states its tree's mode; children inherit it.
    expect(scenario.groups?.map((g) => g.limit_enforcement)).toEqual(['CASCADING', undefined, undefined, 'INDEPENDENT']);
    expect(scenario.groups?.[3]?.metadata).toEqual({ name: null, external_entity_id: 'other root' });
  });

  it('keeps rate and usage limits as declared, leaving out empty lists, and thresholds up to the API maximum', () => {
    const big = Number.MAX_SAFE_INTEGER;
    const models = [model('acme/chat', [{ type: 'TOKEN', unit: 'MINUTE', threshold: 0 }, { type: 'REQUEST', unit: 'SECOND', threshold: 5 }], [{ type: 'TOKEN', unit: 'DAY', threshold: big }]), model('acme/small')];
    const { scenario } = scenarioFromWorkspace(ws({ groups: [group('g1', 'cust-1', null, 'INDEPENDENT', models, 'Customer 1')] }), seeded());
    expect(scenario.groups?.[0]).toEqual({
      name: 'cust-1',
      limit_enforcement: 'INDEPENDENT',
      metadata: { name: 'Customer 1', external_entity_id: 'cust-1' },
      models: [
        { slug: 'acme/chat', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 0 }, { type: 'REQUEST', unit: 'SECOND', threshold: 5 }], usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: big }] },
        { slug: 'acme/small' },
      ],
    });
  });

  it('makes unique local names: external ids cleaned to the name alphabet, collisions numbered, the name or `group` when nothing is left', () => {
    const { scenario } = scenarioFromWorkspace(
      ws({ groups: [group('a', 'cust/42', null, 'INDEPENDENT'), group('b', 'cust 42', null, 'INDEPENDENT'), group('c', 'cust-42', null, 'INDEPENDENT'), group('d', '!!!', null, 'INDEPENDENT', undefined, 'Ünïcode Team'), group('e', '***', null, 'INDEPENDENT')] }),
      seeded(),
    );
    expect(scenario.groups?.map((g) => g.name)).toEqual(['cust-42', 'cust-42-2', 'cust-42-3', 'Unicode-Team', 'group']);
    // External ids are kept as they were, whatever the local name.
    expect(scenario.groups?.map((g) => g.metadata?.external_entity_id)).toEqual(['cust/42', 'cust 42', 'cust-42', '!!!', '***']);
  });

  it('endpoints keep slug, region and the target fields that apply; the workspace owns their org prefixes and knows their environments', () => {
    const target = { provider: 'BASETEN', model_id: 'abc123', environment_name: 'canary', secret_id: null, target_model: null, vertex_config: null, base_url: null };
    const vertex = { provider: 'VERTEX', model_id: null, environment_name: null, secret_id: 's1', target_model: 'gemini', vertex_config: { project_id: 'p', location: 'eu' }, base_url: null };
    const { scenario } = scenarioFromWorkspace(
      ws({
        endpoints: [
          { id: 'ep1', slug: 'acme/chat', region: 'EU', targets: [target], created_at: 'x', updated_at: 'x' },
          { id: 'ep2', slug: 'beta/vision', region: 'UNRESTRICTED', targets: [vertex] },
        ],
      }),
      { ...seeded(), workspace: 'acme-ws' },
    );
    expect(scenario.endpoints).toEqual([
      { slug: 'acme/chat', region: 'EU', targets: [{ provider: 'BASETEN', model_id: 'abc123', environment_name: 'canary' }] },
      { slug: 'beta/vision', region: 'UNRESTRICTED', targets: [{ provider: 'VERTEX', secret_id: 's1', target_model: 'gemini', vertex_config: { project_id: 'p', location: 'eu' } }] },
    ]);
    expect(scenario.workspaces?.[0]).toMatchObject({ id: 'acme-ws', org_prefixes: ['acme', 'beta'], environments: ['production', 'staging', 'canary'] });
  });

  it('keys keep prefix and name and get fresh random secrets; each is returned once to print; the workspace gets a fresh management key', () => {
    const observed = ws({
      groups: [group('g1', 'cust-1', null, 'INDEPENDENT')],
      keys: [
        { group_id: 'g1', prefix: 'sky_abcdefghijkl', name: 'prod' },
        { group_id: 'g1', prefix: 'sky_mnopqrstuvwx', name: null },
      ],
    });
    const a = scenarioFromWorkspace(observed);
    const b = scenarioFromWorkspace(observed);
    expect(a.scenario.groups?.[0]?.keys?.map((k) => [k.api_key.split('.')[0], k.name])).toEqual([
      ['sky_abcdefghijkl', 'prod'],
      ['sky_mnopqrstuvwx', null],
    ]);
    expect(a.secrets.map((s) => ({ ...s, key: s.key.split('.')[0] }))).toEqual([
      { prefix: 'sky_abcdefghijkl', group: 'cust-1', key: 'sky_abcdefghijkl', name: 'prod' },
      { prefix: 'sky_mnopqrstuvwx', group: 'cust-1', key: 'sky_mnopqrstuvwx', name: null },
    ]);
    expect(a.secrets.map((s) => s.key)).toEqual(a.scenario.groups?.[0]?.keys?.map((k) => k.api_key));
    for (const s of a.secrets) expect(s.key).toMatch(/^sky_[a-z]{12}\.[A-Za-z0-9]{43}$/);
    // Crypto-random: two imports of the same workspace give different secrets and management keys.
    expect(a.secrets[0]?.key).not.toBe(b.secrets[0]?.key);
    expect(a.managementKey).not.toBe(b.managementKey);
    expect(a.scenario.workspaces?.[0]?.management_keys).toEqual([{ key: a.managementKey, scope: 'management' }]);
    expect(a.warnings.some((w) => w.startsWith('key secrets cannot be read from the API: each of the 2 keys has'))).toBe(true);
  });

  it('a prefix the mock cannot find a key by (not 16 characters), or one already used, gets a new prefix, with a warning', () => {
    const { scenario, warnings } = scenarioFromWorkspace(
      ws({
        groups: [group('g1', 'a', null, 'INDEPENDENT'), group('g2', 'b', null, 'INDEPENDENT')],
        keys: [
          { group_id: 'g1', prefix: 'aBcDeFg', name: 'old-style' },
          { group_id: 'g1', prefix: 'sky_abcdefghijkl', name: 'one' },
          { group_id: 'g2', prefix: 'sky_abcdefghijkl', name: 'same' },
        ],
      }),
      seeded(),
    );
    const prefixes = (scenario.groups ?? []).flatMap((g) => (g.keys ?? []).map((k) => k.api_key.slice(0, 16)));
    expect(prefixes[1]).toBe('sky_abcdefghijkl');
    expect(new Set(prefixes).size).toBe(3);
    expect(warnings).toContain(`key "aBcDeFg" of group "a": the prefix is not 16 characters of [A-Za-z0-9_-], the shape the mock finds keys by; it gets the new prefix ${prefixes[0]}`);
    expect(warnings).toContain(`key "sky_abcdefghijkl" of group "b": the prefix is used by another key; it gets the new prefix ${prefixes[2]}`);
  });

  it('lists what a scenario cannot express as warnings, and drops nothing silently', () => {
    const { scenario, warnings } = scenarioFromWorkspace(
      ws({
        groups: [
          group('g1', 'root', null, 'CASCADING'),
          group('g2', 'orphan', 'gone', 'INDEPENDENT'),
          group('g3', 'empty', null, 'INDEPENDENT', []),
          group('g4', 'under-empty', 'g3', 'INDEPENDENT'),
          group('g5', 'odd-mode', 'g1', 'INDEPENDENT'),
          { id: 'g6' },
        ],
        endpoints: [{ id: 'e1', slug: 'acme/two', region: 'UNRESTRICTED', targets: [{ provider: 'OPENAI', secret_id: 's', target_model: 'a' }, { provider: 'OPENAI', secret_id: 's', target_model: 'b' }] }, { id: 'e2', slug: 'acme/none', targets: [] }],
        keys: [
          { group_id: 'g4', prefix: 'sky_0000000000000', name: null },
          { group_id: 'nowhere', prefix: 'sky_1111111111111', name: null },
        ],
      }),
      seeded(),
    );
    expect(scenario.groups?.map((g) => g.name)).toEqual(['root', 'odd-mode', 'orphan']);
    expect(scenario.groups?.[2]).toMatchObject({ name: 'orphan', limit_enforcement: 'INDEPENDENT' });
    expect(scenario.endpoints).toEqual([{ slug: 'acme/two', region: 'UNRESTRICTED', targets: [{ provider: 'OPENAI', secret_id: 's', target_model: 'a' }] }]);
    expect(warnings.slice(0, 9)).toEqual([
      'endpoint "acme/two": 2 targets, a scenario (and the mock) takes one; only the first (highest priority) is kept',
      'endpoints[1] has no slug or no target; skipped',
      'groups[5] is not a group object (id, metadata.external_entity_id, models); skipped',
      'group "orphan": its parent "gone" was not observed; written as a root group',
      'group "odd-mode": mode INDEPENDENT differs from its parent\'s CASCADING; a child takes its tree\'s mode, so it will be CASCADING',
      'group "empty": no models, and a scenario group needs at least one; left out, with its subtree and keys',
      'group "under-empty": left out with its parent',
      'key "sky_0000000000000": its group "g4" is not in the scenario; skipped',
      'key "sky_1111111111111": its group "nowhere" is not in the scenario; skipped',
    ]);
    // Always said: usage, workspace settings, ids.
    expect(warnings.join('\n')).toMatch(/usage already counted today is not imported/);
    expect(warnings.join('\n')).toMatch(/workspace settings the API does not show are not imported \(webhook receiver and signing secret, management keys and their scopes/);
  });

  it('the result is a valid scenario, and its YAML reads back to the same document under a header saying where and when', () => {
    const result = scenarioFromWorkspace(
      ws({ groups: [group('g1', 'root', null, 'CASCADING', [model('acme/chat', [{ type: 'REQUEST', unit: 'MINUTE', threshold: 3 }])])], keys: [{ group_id: 'g1', prefix: 'sky_abcdefghijkl', name: 'k\nnewline' }] }),
      seeded(),
    );
    const text = scenarioYaml(result, { source: 'https://api.baseten.co', at: new ManualClock(Date.UTC(2026, 11, 3, 9, 0)).now() });
    expect(text.split('\n')[0]).toBe('# Imported from https://api.baseten.co at 2026-12-03T09:00:00.000Z');
    // Every line of the header is a comment: a warning cannot break out of it.
    const header = text.slice(0, text.indexOf('description:'));
    expect(header.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
    expect(text).toContain('        rate_limits:\n          - { type: REQUEST, unit: MINUTE, threshold: 3 }\n');
    // A value on several lines is not squeezed into a one-line map.
    expect(text).toMatch(/- name: "k\\nnewline"|- name: \|-?\n/);
    expect(parse(text)).toEqual(result.scenario);
    expect(() => checkScenario(parse(text))).not.toThrow();
  });

  it('refuses (ScenarioError) what cannot make a valid scenario even so, e.g. a model slug the API would not return', () => {
    expect(() => scenarioFromWorkspace(ws({ groups: [group('g1', 'a', null, 'INDEPENDENT', [model('no-slash')])] }), seeded())).toThrow(/models\[0\]\.slug must be a model slug shaped org\/name/);
  });
});

/** A scripted fetch: each call answers the next response of `script`, recording the URL. */
function scripted(script: ((url: string) => Response)[]) {
  const calls: string[] = [];
  const fetchFn = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    const next = script.shift();
    if (!next) throw new Error(`unexpected call ${url}`);
    return next(url);
  }) as typeof fetch;
  return { calls, fetchFn };
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const page = (items: unknown[], cursor: string | null) => json(200, { items, pagination: { has_more: cursor !== null, cursor } });

describe('fetchWorkspace', () => {
  const clock = new ManualClock(0);
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.advance(ms);
  };

  it('follows every cursor, reads each group\'s keys, paces each route and waits out a 429 (retry_after, else Retry-After)', async () => {
    sleeps.length = 0;
    const { calls, fetchFn } = scripted([
      page([group('g1', 'a', null, 'INDEPENDENT')], 'c1'),
      json(429, { error: 'Rate limit exceeded. Please try again later.', retry_after: 3 }),
      page([group('g2', 'b', null, 'INDEPENDENT')], null),
      page([], null),
      page([{ prefix: 'sky_abcdefghijkl', name: 'k' }], null),
      json(429, { error: 'slow down' }, { 'retry-after': '2' }),
      page([], null),
    ]);
    const got = await fetchWorkspace({ baseUrl: 'https://gw.example/', apiKey: 'secret-key', pageSize: 1, perRoutePerSecond: 10, clock, sleep, fetch: fetchFn });
    expect(calls).toEqual([
      'https://gw.example/v1/gateway/groups?limit=1',
      'https://gw.example/v1/gateway/groups?limit=1&cursor=c1',
      'https://gw.example/v1/gateway/groups?limit=1&cursor=c1',
      'https://gw.example/v1/gateway/endpoints?limit=1',
      'https://gw.example/v1/gateway/groups/g1/api_keys?limit=1',
      'https://gw.example/v1/gateway/groups/g2/api_keys?limit=1',
      'https://gw.example/v1/gateway/groups/g2/api_keys?limit=1',
    ]);
    expect(got.workspace.keys).toEqual([{ group_id: 'g1', prefix: 'sky_abcdefghijkl', name: 'k' }]);
    expect(got.workspace.groups.map((g) => (g as { id: string }).id)).toEqual(['g1', 'g2']);
    expect([got.requests, got.waits]).toEqual([7, 2]);
    // 100 ms between two requests of one route (10 per second); 3 s and 2 s after the 429s.
    expect(sleeps).toEqual([100, 3000, 100, 2000]);
  });

  it('gives up after the bounded retries, or on a retry_after longer than it waits', async () => {
    const many = Array.from({ length: 3 }, () => json(429, { error: 'x', retry_after: 1 }));
    await expect(fetchWorkspace({ baseUrl: 'https://gw.example', apiKey: 'k', maxRetries: 2, clock, sleep, fetch: scripted(many).fetchFn })).rejects.toThrow(
      'https://gw.example kept answering 429 on GET /v1/gateway/groups?limit=100 (3 times); try again later or lower --max-rate',
    );
    await expect(fetchWorkspace({ baseUrl: 'https://gw.example', apiKey: 'k', clock, sleep, fetch: scripted([json(429, { error: 'x', retry_after: 3600 })]).fetchFn })).rejects.toThrow(/retry_after 3600 s, longer than the 120 s this import waits/);
  });

  it('a repeated cursor or a body that is not a list is an ImportError, not a loop or a crash', async () => {
    const loop = scripted([page([], 'same'), page([], 'same')]);
    await expect(fetchWorkspace({ baseUrl: 'https://gw.example', apiKey: 'k', clock, sleep, fetch: loop.fetchFn })).rejects.toThrow(/returned the same cursor twice/);
    const notList = scripted([json(200, { hello: 'world' })]);
    const err = await fetchWorkspace({ baseUrl: 'https://user:pw@gw.example/?q=1', apiKey: 'k', clock, sleep, fetch: notList.fetchFn }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    // Credentials in the URL are not shown.
    expect((err as Error).message).toBe('https://gw.example does not look like a Frontier Gateway management API: GET /v1/gateway/groups?limit=100 answered 200 with JSON that is not a gateway list (items, pagination)');
  });

  it('a 5xx names the status and the target\'s message (OpenAI form too)', async () => {
    const f = scripted([page([], null), json(503, { error: { message: 'draining', type: 'api_error', code: null, param: null } })]);
    await expect(fetchWorkspace({ baseUrl: 'https://gw.example', apiKey: 'k', clock, sleep, fetch: f.fetchFn })).rejects.toThrow('https://gw.example answered 503 on GET /v1/gateway/endpoints?limit=100: draining');
  });
});

describe('parseImportCli', () => {
  it('takes the target from FGW_BASE_URL and FGW_API_KEY when the flags are not given (flags win); defaults', () => {
    expect(parseImportCli([], { FGW_BASE_URL: 'https://api.baseten.co', FGW_API_KEY: 'from-env' }, '/work/app')).toEqual({
      baseUrl: 'https://api.baseten.co',
      apiKey: 'from-env',
      out: '/work/app/imported-scenario.yaml',
      force: false,
      workspace: 'imported',
      pageSize: 100,
      perRoutePerSecond: 50,
    });
    expect(parseImportCli(['--api-key', 'flag', '--out', 'x.yaml', '--force', '--workspace-name', 'acme', '--page-size', '7', '--max-rate', '9'], { FGW_BASE_URL: 'http://127.0.0.1:4010', FGW_API_KEY: 'env' }, '/w')).toMatchObject({
      apiKey: 'flag',
      out: '/w/x.yaml',
      force: true,
      workspace: 'acme',
      pageSize: 7,
      perRoutePerSecond: 9,
    });
    expect(() => parseImportCli(['--base-url', 'http://x', '--api-key', 'k', '--workspace-name', 'a b'], {}, '/')).toThrow(/--workspace-name must be 1 to 255 characters without spaces/);
    expect(() => parseImportCli(['--base-url', 'http://x', '--api-key', 'k', '--page-size', '0'], {}, '/')).toThrow(/--page-size must be an integer from 1 to 1000, not "0"/);
    expect(() => parseImportCli(['--base-url', 'http://x', '--bogus'], {}, '/')).toThrow(/Unknown option '--bogus'/);
  });
});
