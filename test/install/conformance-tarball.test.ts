import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * What an integrator does, from their own repository: the package packed as it would be
 * published (`npm pack`), installed in a scratch project, and the conformance step of
 * the CI recipes (docs/ci/github-actions-conformance.yml, docs/ci/gitlab-ci-conformance.yml) run as written
 * (its secrets and URLs replaced by a separately started mock, from the same tarball),
 * then against a wrong URL.
 */

const exec = promisify(execFile);
const REPO = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'fgw-scratch-'));
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FGW_') && !k.startsWith('npm_')));
let mock: ChildProcess | undefined;
let mockUrl = '';

interface Step {
  name?: string;
  run?: string;
  env?: Record<string, string>;
}
const github = parse(readFileSync(join(REPO, 'docs/ci/github-actions-conformance.yml'), 'utf8')) as { jobs: { conformance: { steps: Step[] } } };
const gitlab = parse(readFileSync(join(REPO, 'docs/ci/gitlab-ci-conformance.yml'), 'utf8')) as { 'gateway-conformance': { script: string[]; variables: Record<string, string> } };
const step = github.jobs.conformance.steps.find((s) => s.name === 'conformance') as Step;

async function bash(command: string, env: Record<string, string>) {
  try {
    const r = await exec('bash', ['-c', command], { cwd: scratch, env: { ...cleanEnv, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

beforeAll(async () => {
  // dist/ is built by `npm test`'s pretest; --ignore-scripts: no second build.
  await exec('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', scratch], { cwd: REPO, env: cleanEnv });
  const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz')) as string;
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'integrator-scratch', private: true }));
  await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`], { cwd: scratch, env: cleanEnv });
  // A separately started mock, from the installed package. Without the mock's clock (the
  // recipe does not claim mock-admin), the events rules poll until an event clears the
  // holdback: 1 s here instead of the documented minute keeps the run short.
  const portFile = join(scratch, 'mock.port');
  mock = spawn(join(scratch, 'node_modules/.bin/frontier-gateway-mock'), ['--port', '0', '--port-file', portFile, '--quiet', '--events-holdback-seconds', '1'], { cwd: scratch, env: cleanEnv, stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 100));
  mockUrl = `http://127.0.0.1:${readFileSync(portFile, 'utf8').trim()}`;
}, 180_000);

afterAll(() => {
  mock?.kill();
});

describe('the CI recipes, from a packed tarball in a scratch project', () => {
  it('the GitHub Actions and GitLab recipes run the same conformance command', () => {
    expect(step.run).toMatch(/^npx frontier-gateway-mock conformance\b/);
    const line = gitlab['gateway-conformance'].script.find((l) => l.includes('frontier-gateway-mock conformance')) as string;
    expect(line.endsWith(step.run as string), line).toBe(true);
    expect(Object.keys(gitlab['gateway-conformance'].variables).sort()).toEqual(Object.keys(step.env ?? {}).filter((k) => !/KEY$/.test(k)).sort());
  });

  it('passes against a separately started mock and writes JUnit, JSON, HTML and the coverage figure', async () => {
    const env = { ...step.env, FGW_BASE_URL: mockUrl, FGW_INFERENCE_BASE_URL: `${mockUrl}/v1`, FGW_API_KEY: 'mock-management-key', FGW_VIEW_KEY: 'mock-view-key' };
    const out = await bash(step.run as string, env);
    expect(out.code, `${out.stdout.slice(-3000)}\n${out.stderr}`).toBe(0);
    expect(out.stdout).toMatch(/\d+ passed, 0 failed/);
    expect(out.stdout).toMatch(/coverage: \d+ of \d+ documented rules exercised on this target \([\d.]+%\)/);
    for (const f of ['conformance.junit.xml', 'conformance.json', 'conformance.html']) expect(existsSync(join(scratch, 'reports', f)), f).toBe(true);
    const report = JSON.parse(readFileSync(join(scratch, 'reports/conformance.json'), 'utf8'));
    expect(report.coverage.percent).toBeGreaterThanOrEqual(70);
    expect(report.target.baseUrl).toBe(mockUrl);
  }, 180_000);

  it('fails with one clear line against a wrong URL', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const out = await bash(step.run as string, { ...step.env, FGW_BASE_URL: `http://127.0.0.1:${port}`, FGW_API_KEY: 'k' });
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toEqual([`frontier-gateway-mock conformance: cannot reach http://127.0.0.1:${port}: connection refused (nothing listens at 127.0.0.1:${port}); check --base-url, or start the mock first`]);
  }, 60_000);
});
