import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { importMain } from '../../src/cli-import.js';
import { startMock } from '../../src/index.js';
import type { Scenario } from '../../src/service/scenarios/scenario.js';
import { mocksPerTest } from '../support/mocks.js';

/**
 * `frontier-gateway-mock import` end to end (AMBIGUITIES.md #112-#115): a mock loaded with
 * a shipped scenario is imported through the command's own function, the file is loaded
 * into a second mock, and both are compared through the gateway API.
 */

const { start } = mocksPerTest();
const dir = () => mkdtempSync(join(tmpdir(), 'fgw-import-'));

async function runImport(argv: string[], clockMs = Date.UTC(2026, 11, 3, 9, 30)) {
  let out = '';
  let err = '';
  const code = await importMain(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {}, cwd: process.cwd(), clock: { now: () => clockMs } });
  return { code, out, err };
}

async function getJson(url: string, key: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Api-Key ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Every item of a gateway list, following cursors. */
async function listAll(url: string, key: string, path: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const { status, body } = await getJson(url, key, `${path}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(status).toBe(200);
    items.push(...(body.items as Record<string, unknown>[]));
    const p = body.pagination as { has_more: boolean; cursor: string | null };
    cursor = p.has_more ? p.cursor : null;
  } while (cursor);
  return items;
}

type Group = { id: string; metadata: { name: string | null; external_entity_id: string }; models: unknown; effective_models: { slug: string; rate_limits: { source_group: string }[]; usage_limits: { source_group: string }[] }[]; hierarchy: { limit_enforcement: string; parent_group_id: string | null } };

/** What a workspace looks like through the API, with every group id replaced by its external id (ids differ between mocks). */
async function workspaceView(url: string, key: string) {
  const groups = (await listAll(url, key, '/v1/gateway/groups')) as unknown as Group[];
  const ext = new Map(groups.map((g) => [g.id, g.metadata.external_entity_id]));
  const bySource = <T extends { source_group: string }>(l: T[]) => l.map((x) => ({ ...x, source_group: ext.get(x.source_group) }));
  const view = [];
  for (const g of groups) {
    const keys = (await listAll(url, key, `/v1/gateway/groups/${g.id}/api_keys`)).map((k) => ({ prefix: k.prefix, name: k.name }));
    view.push({
      external_entity_id: g.metadata.external_entity_id,
      name: g.metadata.name,
      parent: g.hierarchy.parent_group_id === null ? null : ext.get(g.hierarchy.parent_group_id),
      limit_enforcement: g.hierarchy.limit_enforcement,
      models: g.models,
      effective_models: g.effective_models.map((m) => ({ ...m, rate_limits: bySource(m.rate_limits), usage_limits: bySource(m.usage_limits) })),
      keys: keys.sort((a, b) => String(a.prefix).localeCompare(String(b.prefix))),
    });
  }
  const endpoints = (await listAll(url, key, '/v1/gateway/endpoints')).map((e) => ({ slug: e.slug, region: e.region, targets: e.targets }));
  const sort = <T extends Record<string, unknown>>(l: T[], k: string) => l.sort((a, b) => String(a[k]).localeCompare(String(b[k])));
  return { groups: sort(view, 'external_entity_id'), endpoints: sort(endpoints, 'slug') };
}

/** The source's journal (GET /_mock/requests), optionally only one status. */
async function journal(url: string, status?: number): Promise<{ status: number; path: string }[]> {
  const res = await fetch(`${url}/_mock/requests?limit=100000${status ? `&status=${status}` : ''}`);
  return ((await res.json()) as { entries: { status: number; path: string }[] }).entries;
}

const chat = (url: string, apiKey: string, model: string) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Api-Key ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }) });

describe('import: the round trip through a second mock', () => {
  for (const [scenario, key, oldKey] of [
    ['enterprise-cascading', 'globocorp-platform-key', 'sky_gcresearch01.ResearchDepartmentNotebookKey1'],
    ['saas-tiers', 'saas-admin-key', 'sky_hobbyist0001.HobbyistFreeTierSecret0001'],
  ] as const) {
    it(`${scenario}: the second mock has the same groups, hierarchy, modes, limits, effective_models, endpoints and key prefixes and names; the fresh secrets call models`, async () => {
      const source = await start({ scenarios: [scenario] });
      const out = join(dir(), 'imported.yaml');
      // A small page size, so every list is read over several pages.
      const run = await runImport(['--base-url', source.url, '--api-key', key, '--out', out, '--page-size', '2']);
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
      const text = readFileSync(out, 'utf8');
      // The API key is never written or printed.
      expect(text).not.toContain(key);
      expect(run.out).not.toContain(key);
      expect(text).toMatch(new RegExp(`^# Imported from ${source.url.replace(/[.]/g, '\\.')} at 2026-12-03T09:30:00\\.000Z`));

      const doc = parse(text) as Scenario;
      const managementKey = doc.workspaces?.[0]?.management_keys?.[0]?.key as string;
      const second = await start({ scenarios: [out] });
      const [a, b] = await Promise.all([workspaceView(source.url, key), workspaceView(second.url, managementKey)]);
      expect(b.groups.length).toBeGreaterThan(2);
      expect(b).toEqual(a);

      // Each imported key's fresh secret, printed once, calls a model of its group on the second mock.
      const keys = (doc.groups ?? []).flatMap((g) => (g.keys ?? []).map((k) => ({ apiKey: k.api_key, slug: g.models[0]?.slug as string })));
      expect(keys.length).toBe(b.groups.reduce((n, g) => n + g.keys.length, 0));
      for (const k of keys) {
        expect(run.out.split(k.apiKey).length - 1).toBe(1);
        const res = await chat(second.url, k.apiKey, k.slug);
        expect(res.status, await res.clone().text()).toBe(200);
      }
      // The source's own secret is not in the file, and is refused by the second mock.
      expect(text).not.toContain(oldKey.split('.')[1]);
      expect((await chat(second.url, oldKey, keys[0]?.slug as string)).status).toBe(401);
    });
  }
});

describe('import: pacing and 429', () => {
  it('paced at --max-rate 2 against a source that allows 3 requests per second per route, no 429 happens (unpaced, the 5 key lists would burst past it)', async () => {
    // 3, not 2: the requests leave 500 ms apart but reach the mock with some jitter.
    const source = await start({ scenarios: ['saas-tiers'], managementRateLimit: 3 });
    const out = join(dir(), 's.yaml');
    const run = await runImport(['--base-url', source.url, '--api-key', 'saas-admin-key', '--out', out, '--max-rate', '2']);
    expect(run.code, run.err).toBe(0);
    // 1 groups page, 1 endpoints page, 5 key lists (one per group) on one route.
    expect(run.out).toContain('5 groups, 2 endpoints, 4 keys (7 requests)');
    expect(await journal(source.url, 429)).toEqual([]);
  });

  it('faster than the source allows, every 429 is waited out (its retry_after) and the import completes', async () => {
    const source = await start({ scenarios: ['saas-tiers'], managementRateLimit: 2 });
    const out = join(dir(), 's.yaml');
    const run = await runImport(['--base-url', source.url, '--api-key', 'saas-admin-key', '--out', out, '--page-size', '1']);
    expect(run.code, run.err).toBe(0);
    const refused = await journal(source.url, 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(run.out).toMatch(new RegExp(`\\(\\d+ requests, ${refused.length} waits? after a 429\\)`));
    const second = await start({ scenarios: [out] });
    expect(second.mock.store.allGroups().length).toBe(5);
  }, 30_000);
});

describe('import: refusals', () => {
  it('refuses to overwrite a file without --force, reading nothing; --force overwrites', async () => {
    const source = await start({ scenarios: ['saas-tiers'] });
    const out = join(dir(), 'taken.yaml');
    writeFileSync(out, 'mine\n');
    const run = await runImport(['--base-url', source.url, '--api-key', 'saas-admin-key', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/taken\.yaml exists; pass --force to overwrite it/);
    expect(readFileSync(out, 'utf8')).toBe('mine\n');
    expect(await journal(source.url)).toEqual([]);
    const forced = await runImport(['--base-url', source.url, '--api-key', 'saas-admin-key', '--out', out, '--force']);
    expect(forced.code, forced.err).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^# Imported from/);
  });

  it('bad credentials: 401 with the target\'s message, nothing written, the key not echoed', async () => {
    const source = await start({ scenarios: ['saas-tiers'] });
    const out = join(dir(), 'x.yaml');
    const run = await runImport(['--base-url', source.url, '--api-key', 'wrong-key-1234', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/refused the API key \(401 on GET \/v1\/gateway\/groups\?limit=100\): Invalid API key/);
    expect(run.err + run.out).not.toContain('wrong-key-1234');
    expect(existsSync(out)).toBe(false);
  });

  it('a workspace not onboarded: 403 with the target\'s message', async () => {
    const source = await start();
    const run = await runImport(['--base-url', source.url, '--api-key', 'mock-not-onboarded-key', '--out', join(dir(), 'x.yaml')]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/refused the API key \(403 on GET \/v1\/gateway\/groups.*\): .*onboarded/i);
  });

  it('a key that may list groups but not endpoints (view scope, --view-scope list-only): 403, saying so', async () => {
    const source = await start({ viewScope: 'list-only' });
    const run = await runImport(['--base-url', source.url, '--api-key', 'mock-view-key', '--out', join(dir(), 'x.yaml')]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/refused the API key \(403 on GET \/v1\/gateway\/endpoints\?limit=100\): .*\(the key may list groups but not this; a management-scope key reads every list\)/);
  });

  it('an unreachable URL and a URL that is not a gateway say so in one line', async () => {
    const closed = await startMock(); // not through start(): closed here, not after the test
    const url = closed.url;
    await closed.close();
    const unreachable = await runImport(['--base-url', url, '--api-key', 'k', '--out', join(dir(), 'x.yaml')]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toMatch(new RegExp(`cannot reach ${url.replace(/[.]/g, '\\.')}: ECONNREFUSED`));

    const page = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    try {
      const site = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
      const run = await runImport(['--base-url', site, '--api-key', 'k', '--out', join(dir(), 'x.yaml')]);
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/does not look like a Frontier Gateway management API: GET \/v1\/gateway\/groups\?limit=100 answered 200 with a text\/html body/);
    } finally {
      page.close();
    }
  });

  it('usage errors exit 2; --help exits 0', async () => {
    expect((await runImport([])).err).toMatch(/--base-url is required/);
    expect((await runImport(['--base-url', 'ftp://x', '--api-key', 'k'])).code).toBe(2);
    expect((await runImport(['--base-url', 'http://x', '--api-key', 'k', '--max-rate', '101'])).err).toMatch(/--max-rate must be an integer from 1 to 100/);
    const help = await runImport(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^frontier-gateway-mock import:/);
  });
});

describe('import: through the command itself (dist/cli.js; needs npm run build)', () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, ['dist/cli.js', ...args], { env: { ...process.env, FGW_API_KEY: '' } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('imports, exits 0 and prints the summary; a refused key exits 1; --help is listed by the main help', async () => {
    const source = await start({ scenarios: ['saas-tiers'] });
    const out = join(dir(), 'cli.yaml');
    const ok = await cli(['import', '--base-url', source.url, '--api-key', 'saas-admin-key', '--out', out]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Imported from ${source.url}: 5 groups, 2 endpoints, 4 keys (7 requests).`);
    expect(existsSync(out)).toBe(true);
    const refused = await cli(['import', '--base-url', source.url, '--api-key', 'nope', '--out', join(dir(), 'n.yaml')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^frontier-gateway-mock import: .* refused the API key \(401/);
    expect((await cli(['import', '--help'])).stdout).toMatch(/^frontier-gateway-mock import:/);
    expect((await cli(['--help'])).stdout).toContain('frontier-gateway-mock import --base-url URL --api-key KEY');
  });
});
