import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import { SHIPPED_SCENARIOS_DIR, shippedScenarioNames } from '../../src/index.js';
import { resolveScenarioPath } from '../../src/service/scenarios/shipped.js';
import { errorMessage } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';

/** Knowing the mock is ready, finding its port, and reaching the shipped scenarios from anywhere. */

const CLI = resolve('dist/cli.js');
const execFileP = promisify(execFile);
const auth = { Authorization: 'Api-Key mock-management-key' };
/** The management key of saas-tiers' workspace. */
const saasAuth = { Authorization: 'Api-Key saas-admin-key' };
const { start } = mocksPerTest();
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('GET /_mock/health', () => {
  it('answers 200 with the version, as the admin spec describes, and is not journaled', async () => {
    const m = await start();
    const res = await request(m.url).get('/_mock/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', version, admin: true, state_file: null });
    const checker = await ContractChecker.load(true);
    expect(checker.check({ method: 'get', path: '/_mock/health', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
    const journal = await request(m.url).get('/_mock/requests');
    expect(journal.body.entries.map((e: { path: string }) => e.path)).not.toContain('/_mock/health');
  });

  it('stays under --no-admin, while the other /_mock/ routes are gone', async () => {
    const m = await start({ admin: false });
    const res = await request(m.url).get('/_mock/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', admin: false });
    expect((await request(m.url).get('/_mock/clock')).status).toBe(404);
  });

  it('names the state file and says it is healthy', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fgw-health-')), 'state.json');
    const m = await start({ stateFile: path });
    const res = await request(m.url).get('/_mock/health');
    expect(res.status).toBe(200);
    expect(res.body.state_file).toEqual({ path, ok: true, error: null });
  });
});

describe('--port-file', () => {
  it('with --port 0, writes the chosen port once listening; the health route then answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-port-'));
    const portFile = join(dir, 'port');
    const child = spawn(process.execPath, [CLI, '--port', '0', '--quiet', '--port-file', portFile], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 15_000;
      while (!existsSync(portFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const port = Number(readFileSync(portFile, 'utf8').trim());
      expect(port).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${port}/_mock/health`);
      expect(res.status).toBe(200);
      expect(existsSync(`${portFile}.tmp`)).toBe(false);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('shipped scenarios by name', () => {
  it('lists them, and resolves a name or the README path wherever the process runs', () => {
    expect(shippedScenarioNames()).toEqual(['churned-customer', 'enterprise-cascading', 'saas-tiers']);
    expect(resolveScenarioPath('saas-tiers')).toBe(join(SHIPPED_SCENARIOS_DIR, 'saas-tiers.yaml'));
    // An existing path is taken as it is.
    expect(resolveScenarioPath('scenarios/saas-tiers.yaml')).toBe('scenarios/saas-tiers.yaml');
    expect(() => resolveScenarioPath('no-such-plan')).toThrow(/shipped: churned-customer, enterprise-cascading, saas-tiers/);
    // Any other path is the reader's to refuse ("cannot read the file").
    expect(resolveScenarioPath('elsewhere/saas-tiers.yaml')).toBe('elsewhere/saas-tiers.yaml');
  });

  it('startMock({ scenarios: ["saas-tiers"] }) loads the shipped file', async () => {
    const m = await start({ scenarios: ['saas-tiers'] });
    expect(m.mock.scenarios[0]?.source).toBe(join(SHIPPED_SCENARIOS_DIR, 'saas-tiers.yaml'));
    const groups = await request(m.url).get('/v1/gateway/groups').set(saasAuth);
    expect(groups.body.items.length).toBeGreaterThan(0);
  });

  it('the CLI finds --scenario saas-tiers and --scenario scenarios/saas-tiers.yaml from another directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'fgw-elsewhere-'));
    for (const value of ['saas-tiers', 'scenarios/saas-tiers.yaml']) {
      const portFile = join(cwd, `port-${value.length}`);
      const child = spawn(process.execPath, [CLI, '--port', '0', '--quiet', '--port-file', portFile, '--scenario', value], { cwd, stdio: 'ignore' });
      try {
        const deadline = Date.now() + 15_000;
        while (!existsSync(portFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        const port = Number(readFileSync(portFile, 'utf8').trim());
        const res = await fetch(`http://127.0.0.1:${port}/v1/gateway/groups`, { headers: saasAuth });
        expect(((await res.json()) as { items: unknown[] }).items.length).toBeGreaterThan(0);
      } finally {
        child.kill('SIGTERM');
      }
    }
  });
});

describe('a key of the wrong kind is named as such', () => {
  it('a federated key on the management API, and a management key for inference, say which kind they are (still 401)', async () => {
    const m = await start();
    const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'kinds' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    const key = (await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({})).body.api_key as string;
    const management = await request(m.url).get('/v1/gateway/groups').set({ Authorization: `Api-Key ${key}` });
    expect(management.status).toBe(401);
    expect(errorMessage(management.body)).toMatch(/^This is an operator endpoint, not an inference credential: federated gateway keys \(for inference/);
    const inference = await request(m.url).post('/v1/chat/completions').set(auth).send({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }] });
    expect(inference.status).toBe(401);
    expect(errorMessage(inference.body)).toMatch(/this is a workspace management key; inference needs a federated API key/);
    // A key that is neither says only that it is invalid.
    const neither = await request(m.url).get('/v1/gateway/groups').set({ Authorization: 'Api-Key nope' });
    expect(errorMessage(neither.body)).toBe('Invalid API key.');
  });
});

describe('frontier-gateway-mock wait', () => {
  it('prints the URL once the mock is ready; a wrong URL is one line and exit 1 at the deadline; bad flags exit 2', async () => {
    const m = await start();
    const ok = await execFileP(process.execPath, [CLI, 'wait', '--url', `${m.url}/`, '--timeout', '10']);
    expect(ok.stdout.trim()).toBe(m.url);
    // A port nothing listens on: one a server just gave back.
    const closed = await new Promise<number>((done) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => done(port));
      });
    });
    const down = await execFileP(process.execPath, [CLI, 'wait', '--url', `http://127.0.0.1:${closed}`, '--timeout', '0.5']).catch((e: { code: number; stderr: string }) => e);
    expect(down).toMatchObject({ code: 1 });
    expect((down as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1);
    expect((down as { stderr: string }).stderr).toMatch(new RegExp(`not ready within 0.5 s: http://127\\.0\\.0\\.1:${closed}: ECONNREFUSED`));
    const bad = await execFileP(process.execPath, [CLI, 'wait']).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toContain('give exactly one of --url or --port-file');
  });
});
