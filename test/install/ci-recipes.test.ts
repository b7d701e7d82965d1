import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as an integrator gets it: packed to a tarball, installed in a scratch
 * project of their own (with the openai SDK, vitest and typescript), then used the ways
 * the README and docs/ci/ say: the bin with a shipped scenario by name and its health
 * route, the published declarations and wire types under a strict tsc, a vitest file with
 * startMock() and the openai SDK, and the very shell steps of the CI recipes
 * (docs/ci/github-actions.yml, docs/ci/gitlab-ci.yml, action.yml), so they cannot rot.
 *
 * Installs from npm's cache where it can (`--prefer-offline`): `npm ci` of this repository
 * has put every package the scratch project needs there.
 */

const run = promisify(execFile);
const ROOT = resolve('.');
const ours = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; devDependencies: Record<string, string> };
let project = '';
let work = '';

/** bash -c `script` in the scratch project, with `env` added; resolves with its output, rejects with it. */
async function bash(script: string, env: Record<string, string> = {}, timeout = 90_000): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: project, env: { ...process.env, ...env, CI: 'true' }, timeout });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${err.message}\n--- stdout\n${err.stdout ?? ''}\n--- stderr\n${err.stderr ?? ''}`);
  }
}

/** Kills what a recipe left running in the background (its pid file), if anything. */
function stopRecorded(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
  } catch {
    // already gone
  }
  rmSync(pidFile, { force: true });
}

const INTEGRATOR_TEST = `import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type RunningMock } from 'frontier-gateway-mock';
import type { ChatCompletion, GroupList } from 'frontier-gateway-mock/types';

// Against FGW_BASE_URL when a CI recipe started the mock in the background, else in-process.
let mock: RunningMock | undefined;
let base = process.env.FGW_BASE_URL ?? '';
beforeAll(async () => {
  if (!base) {
    mock = await startMock({ scenarios: ['saas-tiers'] });
    base = mock.url;
  }
});
afterAll(() => mock?.close());

it('is ready, lists the scenario groups, and answers the openai SDK', async () => {
  const health = await fetch(\`\${base}/_mock/health\`);
  expect(health.status).toBe(200);
  const groups = (await (await fetch(\`\${base}/v1/gateway/groups\`, { headers: { Authorization: 'Api-Key saas-admin-key' } })).json()) as GroupList;
  expect(groups.items.map((g) => g.metadata.external_entity_id)).toContain('cust-hobbyist');
  const client = new OpenAI({ baseURL: \`\${base}/v1\`, apiKey: 'sky_hobbyist0001.HobbyistFreeTierSecret0001', maxRetries: 0 });
  const reply: ChatCompletion = (await client.chat.completions.create({ model: 'saas-co/chat-small', messages: [{ role: 'user', content: 'hello' }] })) as unknown as ChatCompletion;
  expect(reply.choices[0]?.message.content).toBeTruthy();
});
`;

const CONSUMER_TS = `import { startMock, verifySignature, shippedScenarioNames, type MockOptions, type RunningMock } from 'frontier-gateway-mock';
import { ContractChecker } from 'frontier-gateway-mock/testing';
import type { BillingWebhook, CreateGroupRequest, Endpoint, Group, GroupUsage, MintedApiKey, operations, paths } from 'frontier-gateway-mock/types';

export const options: MockOptions = { scenarios: ['saas-tiers'] };
export const body: CreateGroupRequest = { metadata: { external_entity_id: 'c1' }, models: [{ slug: 'org/model' }], hierarchy: {} };
export type Shapes = [Group, GroupUsage, MintedApiKey, Endpoint, BillingWebhook, paths['/v1/gateway/groups']['post'], operations['createGroup']];
export async function use(): Promise<RunningMock> {
  const names: string[] = shippedScenarioNames();
  const checker: ContractChecker = await ContractChecker.load(true);
  void checker;
  void verifySignature;
  return startMock({ ...options, scenarios: names.slice(0, 1) });
}
`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fgw-install-'));
  // The tarball of what `npm run build` (the test command's pretest) left in dist/.
  await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT, timeout: 120_000 });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack wrote no tarball');
  project = join(work, 'integrator');
  mkdirSync(join(project, 'test'), { recursive: true });
  const dev = ours.devDependencies;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'integrator',
      private: true,
      type: 'module',
      scripts: { test: 'vitest run' },
      devDependencies: {
        'frontier-gateway-mock': `file:${join(work, tarball)}`,
        openai: dev.openai,
        vitest: dev.vitest,
        typescript: dev.typescript,
        '@types/node': dev['@types/node'],
      },
    }),
  );
  writeFileSync(join(project, 'test', 'mock.test.ts'), INTEGRATOR_TEST);
  writeFileSync(join(project, 'consumer.ts'), CONSUMER_TS);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] }, files: ['consumer.ts'] }),
  );
  await bash('npm install --prefer-offline --no-audit --no-fund --loglevel=error', {}, 300_000);
}, 420_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('installed from the packed tarball in a scratch project', () => {
  it('ships what the README links to, and the bin starts with a shipped scenario by name', async () => {
    const pkg = join(project, 'node_modules', 'frontier-gateway-mock');
    for (const f of ['LICENSE', 'AMBIGUITIES.md', 'README.md', 'docs/architecture.md', 'scenarios/saas-tiers.yaml', 'dist/cli.js', 'dist/types.d.ts']) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    const out = await bash(
      'npx frontier-gateway-mock --port 0 --port-file .p --scenario saas-tiers --quiet > /dev/null 2>&1 & echo $! > .pid; url=$(npx frontier-gateway-mock wait --port-file .p --timeout 60); curl -sf "$url/_mock/health" || node -e "fetch(process.argv[1]).then(async r => console.log(await r.text()))" "$url/_mock/health"',
    ).finally(() => stopRecorded(join(project, '.pid')));
    expect(JSON.parse(out.slice(out.indexOf('{')))).toMatchObject({ status: 'ok', version: ours.version });
  }, 120_000);

  it('its declarations and wire types pass a strict tsc with skipLibCheck false', async () => {
    await bash('npx tsc -p tsconfig.json', {}, 120_000);
  }, 150_000);

  it("an integrator's vitest file runs startMock with a shipped scenario and the openai SDK", async () => {
    const out = await bash('npx vitest run', {}, 120_000);
    expect(out).toMatch(/1 passed/);
  }, 150_000);
});

describe('the CI recipes, step by step', () => {
  it('docs/ci/github-actions.yml: start, wait (FGW_BASE_URL into $GITHUB_ENV), the tests against it, stop', async () => {
    const workflow = parse(readFileSync('docs/ci/github-actions.yml', 'utf8')) as { jobs: { test: { steps: { name?: string; run?: string }[] } } };
    const steps = workflow.jobs.test.steps.filter((s) => s.run !== undefined && s.run !== 'npm ci');
    expect(steps.map((s) => s.name)).toEqual([
      'mock: start in the background',
      'mock: wait until ready, then give its URL to the next steps',
      'your tests, with FGW_BASE_URL set',
      'mock: stop, and show its log',
    ]);
    const githubEnv = join(work, 'github-env');
    writeFileSync(githubEnv, '');
    const env: Record<string, string> = { GITHUB_ENV: githubEnv };
    try {
      for (const step of steps) {
        // Each step is its own shell, as on a runner; what a step writes to $GITHUB_ENV the next ones get.
        for (const line of readFileSync(githubEnv, 'utf8').split('\n').filter(Boolean)) {
          const i = line.indexOf('=');
          env[line.slice(0, i)] = line.slice(i + 1);
        }
        const out = await bash(step.run as string, env, 120_000);
        if (step.name?.startsWith('your tests')) {
          expect(env.FGW_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
          expect(out).toMatch(/1 passed/);
        }
      }
    } finally {
      stopRecorded(join(project, '.fgw-pid'));
    }
  }, 240_000);

  it('docs/ci/gitlab-ci.yml: the script in one shell, then after_script', async () => {
    const job = (parse(readFileSync('docs/ci/gitlab-ci.yml', 'utf8')) as { test: { script: string[]; after_script: string[] } }).test;
    expect(job.script[0]).toBe('npm ci');
    try {
      const out = await bash(job.script.slice(1).join('\n'), {}, 180_000);
      expect(out).toMatch(/1 passed/);
    } finally {
      await bash(job.after_script.join('\n')).catch(() => undefined);
      stopRecorded(join(project, '.fgw-pid'));
    }
  }, 240_000);

  it('action.yml: the start step, run from the installed package, sets FGW_BASE_URL to a ready mock', async () => {
    const action = parse(readFileSync('action.yml', 'utf8')) as { runs: { steps: { id: string; run: string; env?: Record<string, string> }[] } };
    const start = action.runs.steps.find((s) => s.id === 'start');
    if (!start) throw new Error('action.yml has no start step');
    const outputs = join(work, 'gh-output');
    const githubEnv = join(work, 'gh-env');
    writeFileSync(outputs, '');
    writeFileSync(githubEnv, '');
    // The inputs' expressions as the runner would fill them in.
    const env = { FGW_SCENARIO: 'saas-tiers', FGW_ARGS: '--log-format json', FGW_TIMEOUT: '60' };
    expect(Object.keys(start.env ?? {}).sort()).toEqual(Object.keys(env).sort());
    // Background processes of the step are this test's to stop: find the mock by its port.
    try {
      const out = await bash(start.run, { ...env, GITHUB_ACTION_PATH: join(project, 'node_modules', 'frontier-gateway-mock'), GITHUB_OUTPUT: outputs, GITHUB_ENV: githubEnv, RUNNER_TEMP: work }, 120_000);
      expect(out).toContain('frontier-gateway-mock ready at');
      const url = /^FGW_BASE_URL=(.+)$/m.exec(readFileSync(githubEnv, 'utf8'))?.[1];
      expect(readFileSync(outputs, 'utf8')).toContain(`url=${url}`);
      const health = await fetch(`${url}/_mock/health`);
      expect(health.status).toBe(200);
    } finally {
      await bash(`pkill -f "fgw-port-" || true`).catch(() => undefined);
    }
  }, 180_000);
});
