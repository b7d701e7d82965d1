import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli-options.js';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { startMock, type RunningMock } from '../../src/index.js';
import { parseProxyCli, PROXY_HELP, summaryLine, wrappedEnv } from '../../src/proxy/cli.js';
import { BREAKAGES, startBroken, type BrokenGateway } from '../meta/broken-proxy.js';

/**
 * `frontier-gateway-mock proxy`: its options (pure), and the built command (dist/cli.js,
 * `npm run build` first) wrapped around a command: reports on exit, and the exit status
 * a CI job relies on.
 */

const CLI = 'dist/cli.js';

describe('proxy options', () => {
  it('needs --upstream, an http(s) URL, and says so', () => {
    expect(() => parseProxyCli([], '/x')).toThrow(/--upstream URL is required/);
    expect(() => parseProxyCli(['--upstream', 'ftp://x'], '/x')).toThrow(/--upstream must be an http\(s\) URL/);
    expect(() => parseProxyCli(['--upstream', 'http://x', '--inference-upstream', 'nope'], '/x')).toThrow(/--inference-upstream must be an http\(s\) URL/);
    expect(() => parseProxyCli(['--upstream', 'http://x?a=1'], '/x')).toThrow(/query or fragment/);
    expect(() => parseProxyCli(['--upstream', 'http://x', '--port', '70000'], '/x')).toThrow(/--port must be an integer from 0 to 65535/);
    expect(() => parseProxyCli(['--upstream', 'http://x', '--bogus'], '/x')).toThrow(UsageError);
    expect(() => parseProxyCli(['--upstream', 'http://x', 'npm', 'test'], '/x')).toThrow(/goes after --/);
    expect(() => parseProxyCli(['--upstream', 'http://x', '--'], '/x')).toThrow(/-- must be followed by the command/);
    expect(() => parseProxyCli(['--upstream', 'http://x', '--report-json', ''], '/x')).toThrow(/--report-json must name a file/);
    // A user name or password would be shown in the banner and the reports: refused, without echoing it.
    expect(() => parseProxyCli(['--upstream', 'https://me:s3cret@api.example'], '/x')).toThrow(/--upstream must not carry a user name or password/);
    expect(() => parseProxyCli(['--upstream', 'http://x', '--inference-upstream', 'http://me@y'], '/x')).toThrow(/--inference-upstream must not carry/);
    try {
      parseProxyCli(['--upstream', 'https://me:s3cret@api.example'], '/x');
    } catch (e) {
      expect(String(e)).not.toContain('s3cret');
    }
  });

  it('defaults: port 4011 standalone, any free port around a command; reports resolved against the working directory', () => {
    expect(parseProxyCli(['--upstream', 'http://127.0.0.1:4010'], '/work')).toEqual({ upstream: 'http://127.0.0.1:4010', port: 4011, host: '127.0.0.1', quiet: false, command: [] });
    expect(parseProxyCli(['--upstream', 'https://api.baseten.co', '--inference-upstream', 'https://inference.baseten.co', '--report-json', 'r/p.json', '--report-junit', '/abs/p.xml', '--', 'npm', 'test', '--', '-x'], '/work')).toEqual({
      upstream: 'https://api.baseten.co',
      inferenceUpstream: 'https://inference.baseten.co',
      port: 0,
      host: '127.0.0.1',
      quiet: false,
      reportJson: '/work/r/p.json',
      reportJunit: '/abs/p.xml',
      command: ['npm', 'test', '--', '-x'],
    });
    expect(parseProxyCli(['-h'], '/x')).toBe('help');
  });

  it('help names every option, and the wrapped command gets the proxy as its gateway and OpenAI base URL', () => {
    for (const flag of ['--upstream', '--inference-upstream', '--port', '--host', '--report-json', '--report-junit', '--record', '--quiet', '-- command']) expect(PROXY_HELP).toContain(flag);
    expect(wrappedEnv('http://127.0.0.1:5000')).toEqual({
      FGW_BASE_URL: 'http://127.0.0.1:5000',
      FGW_INFERENCE_BASE_URL: 'http://127.0.0.1:5000',
      FGW_PROXY_URL: 'http://127.0.0.1:5000',
      OPENAI_BASE_URL: 'http://127.0.0.1:5000/v1',
    });
    expect(summaryLine({ exchanges: 1, violations: 0, observations: 2 })).toBe('proxy: 1 exchange, 0 violations, 2 observations');
  });
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const runCli = (args: string[]) =>
  new Promise<Ran>((resolve) => {
    execFile(process.execPath, [CLI, 'proxy', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });

/** A command that creates a group through whatever FGW_BASE_URL points at. */
const CREATE_GROUP = `fetch(process.env.FGW_BASE_URL + '/v1/gateway/groups', { method: 'POST', headers: { Authorization: 'Api-Key mock-management-key', 'Content-Type': 'application/json' },
  body: JSON.stringify({ metadata: { external_entity_id: 'wrapped-' + Date.now() }, models: [{ slug: 'acme-org/chat-model' }], hierarchy: {} }) })
  .then((r) => { if (r.status >= 300 && r.status !== 201) process.exit(9); console.log('made ' + r.status); })`;

describe('the built command around a command', () => {
  let mock: RunningMock;
  let broken: BrokenGateway;
  const dir = mkdtempSync(join(tmpdir(), 'fgw-proxy-cli-'));
  beforeAll(async () => {
    mock = await startMock();
    broken = await startBroken(BREAKAGES['create answers 201 instead of the documented 200'] as (typeof BREAKAGES)[string]);
  });
  afterAll(async () => {
    await mock?.close();
    await broken?.close();
  });

  it('exit 0 when the command passes and nothing is violated; the summary line, and both reports written', async () => {
    const json = join(dir, 'ok.json');
    const junit = join(dir, 'ok.xml');
    const r = await runCli(['--upstream', mock.url, '--report-json', json, '--report-junit', junit, '--', process.execPath, '-e', CREATE_GROUP]);
    expect(r.stdout).toContain('made 200');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^proxy: 1 exchange, 0 violations, \d+ observations?$/m);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report).toMatchObject({ format: 'frontier-gateway-mock/conformance-report', target: { kind: 'validating proxy', baseUrl: mock.url }, totals: { failed: 0 } });
    expect(readFileSync(junit, 'utf8')).toMatch(/<testsuites name="frontier-gateway-mock proxy" tests="\d+" failures="0"/);
  });

  it('exit 1 on a violation, though the command passed; the violation is named on stderr and in the JUnit report', async () => {
    const junit = join(dir, 'broken.xml');
    const r = await runCli(['--upstream', broken.url, '--report-junit', junit, '--', process.execPath, '-e', CREATE_GROUP]);
    expect(r.stdout).toContain('made 201');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^proxy: 1 exchange, 1 violation, /m);
    expect(r.stderr).toMatch(/violation \[responses\/every-response-has-a-documented-status-and-content-type-and-a-body-the-published-schema-allows\] .*status 201 is not documented/);
    expect(readFileSync(junit, 'utf8')).toMatch(/<failure message="1 violation:"/);
  });

  it('--record writes what the traffic showed as a scenario a second mock loads: groups with their hierarchy and limits, the endpoint, key prefixes', async () => {
    const file = join(dir, 'recorded.yaml');
    const walk = `const base = process.env.FGW_BASE_URL;
      const h = { Authorization: 'Api-Key mock-management-key', 'Content-Type': 'application/json' };
      const post = (p, b) => fetch(base + p, { method: 'POST', headers: h, body: JSON.stringify(b) }).then((r) => r.json());
      (async () => {
        const root = await post('/v1/gateway/groups', { metadata: { name: 'Acme', external_entity_id: 'rec-root' }, models: [{ slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 7 }] }], hierarchy: { limit_enforcement: 'CASCADING' } });
        await post('/v1/gateway/groups', { metadata: { external_entity_id: 'rec-child' }, models: [{ slug: 'acme-org/chat-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 3 }] }], hierarchy: { parent_group_id: root.id } });
        const key = await post('/v1/gateway/groups/' + root.id + '/api_keys', { name: 'rec-key' });
        await post('/v1/gateway/endpoints', { slug: 'your-org/recorded', targets: [{ provider: 'BASETEN', model_id: 'abc123' }] });
        console.log('prefix ' + key.prefix + ' secret ' + key.api_key);
      })();`;
    const r = await runCli(['--upstream', mock.url, '--record', file, '--', process.execPath, '-e', walk]);
    expect(r.code, r.stderr).toBe(0);
    const [, prefix, secret] = /prefix (\S+) secret (\S+)/.exec(r.stdout) as unknown as [string, string, string];
    expect(r.stderr).toMatch(/recorded 2 groups, 1 endpoint, 1 key to /);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# by frontier-gateway-mock proxy --record');
    expect(text).toContain(prefix);
    expect(text).not.toContain(secret.slice(secret.indexOf('.') + 1));
    // your-org is the first mock's (workspace-a's by default); the recorded workspace takes it on the second.
    const config = { ...DEFAULT_CONFIG, workspaces: DEFAULT_CONFIG.workspaces.map((w) => ({ ...w, org_prefixes: (w.org_prefixes ?? []).filter((p) => p !== 'your-org') })) };
    const second = await startMock({ config, scenarios: [file] });
    try {
      const state = JSON.stringify(await (await fetch(`${second.url}/_mock/state`)).json());
      for (const expected of ['rec-root', 'rec-child', 'your-org/recorded', prefix, 'CASCADING']) expect(state).toContain(expected);
    } finally {
      await second.close();
    }
  });

  it("the command's own failure is the exit status, violations or not", async () => {
    const r = await runCli(['--upstream', mock.url, '--', process.execPath, '-e', 'process.exit(3)']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('proxy: 0 exchanges, 0 violations, 0 observations');
  });

  it('exit 2 on a usage error, with the reason', async () => {
    const r = await runCli(['--upstream', 'not a url']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--upstream must be an http(s) URL');
  });

  it('around a command, SIGTERM to the proxy alone reaches the command, then the reports are written; the exit status is 128 + the signal', async () => {
    const json = join(dir, 'wrapped-term.json');
    const script = `${CREATE_GROUP}.then(() => { console.log('ready'); setInterval(() => {}, 1000); })`;
    const child = spawn(process.execPath, [CLI, 'proxy', '--upstream', mock.url, '--report-json', json, '--', process.execPath, '-e', script]);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 400 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(out).toContain('made 200');
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(128 + 15);
    expect(out).toContain('proxy: 1 exchange, 0 violations');
    expect(JSON.parse(readFileSync(json, 'utf8')).totals.failed).toBe(0);
  });

  it('standalone, SIGTERM writes the reports and exits 0 without violations', async () => {
    const json = join(dir, 'standalone.json');
    const child = spawn(process.execPath, [CLI, 'proxy', '--upstream', mock.url, '--port', '0', '--report-json', json]);
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 200 && !/listening on (http:\/\/\S+),/.test(err); i++) await new Promise((r) => setTimeout(r, 25));
    const url = /listening on (http:\/\/\S+),/.exec(err)?.[1] as string;
    expect((await fetch(`${url}/v1/gateway/groups`, { headers: { Authorization: 'Api-Key mock-management-key' } })).status).toBe(200);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(out).toContain('proxy: 1 exchange, 0 violations');
    expect(JSON.parse(readFileSync(json, 'utf8')).totals.failed).toBe(0);
  });
});
