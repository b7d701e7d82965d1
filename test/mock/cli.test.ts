import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../../src/cli-options.js';
import { ConfigError, DEFAULT_CONFIG } from '../../src/config.js';

const run = promisify(execFile);
const CLI = 'dist/cli.js';

describe('parseCli', () => {
  it('--scenario is repeatable and kept in order; --state-file names the file; neither is set by default', () => {
    const p = parseCli(['--scenario', 'a.yaml', '--state-file', 'state.json', '--scenario', 'b.json'], {});
    if (typeof p === 'string') throw new Error(p);
    expect(p.options).toMatchObject({ scenarios: ['a.yaml', 'b.json'], stateFile: 'state.json' });
    const q = parseCli([], {});
    if (typeof q === 'string') throw new Error(q);
    expect([q.options.scenarios, q.options.stateFile]).toEqual([undefined, undefined]);
    expect(() => parseCli(['--state-file', ''], {})).toThrow('--state-file must name a file');
  });

  it('defaults to 127.0.0.1:4010, admin on, Bearer accepted, strict token policy, embedded keys', () => {
    const p = parseCli([], {});
    if (typeof p === 'string') throw new Error(p);
    expect(p.options).toMatchObject({ port: 4010, host: '127.0.0.1', admin: true, viewScope: 'reads', inference: { allowBearer: true, latencyMs: 0, tokenLimitPolicy: 'strict' } });
    expect(p.options.config).toBeUndefined();
  });

  it('reads PORT, HOST and the FGW_ variables; flags win over them', () => {
    const env = { PORT: '5000', HOST: '0.0.0.0', FGW_WEBHOOK_URL: 'http://127.0.0.1:9/x', FGW_WEBHOOK_SECRET: 's', FGW_REJECT_BEARER: '1', FGW_LATENCY_MS: '20' };
    const p = parseCli([], env);
    if (typeof p === 'string') throw new Error(p);
    expect(p.options).toMatchObject({ port: 5000, host: '0.0.0.0', webhook: { url: 'http://127.0.0.1:9/x', secret: 's' }, inference: { allowBearer: false, latencyMs: 20 } });
    expect(p.options.prettyJson).toBe(false);
    expect((parseCli([], { FGW_PRETTY_JSON: '1' }) as { options: { prettyJson?: boolean } }).options.prettyJson).toBe(true);
    expect((parseCli(['--pretty-json'], {}) as { options: { prettyJson?: boolean } }).options.prettyJson).toBe(true);
    const q = parseCli(['--port', '6000', '--host', '::1'], env);
    if (typeof q === 'string') throw new Error(q);
    expect(q.options).toMatchObject({ port: 6000, host: '::1' });
  });

  it('request rules, endpoints and key registration: flags and FGW_ variables; defaults are lenient, endpoint slugs immutable', () => {
    const pub = Buffer.alloc(32, 7).toString('base64');
    const d = parseCli([], {});
    if (typeof d === 'string') throw new Error(d);
    expect(d.options).toMatchObject({ unknownFields: 'ignore', endpoints: { require: false, immutableSlugs: true } });
    expect(d.options.register).toBeUndefined();
    const f = parseCli(['--reject-unknown-fields', '--require-endpoints', '--allow-endpoint-renames', '--register-public-key', pub], {});
    if (typeof f === 'string') throw new Error(f);
    expect(f.options).toMatchObject({ unknownFields: 'reject', endpoints: { require: true, immutableSlugs: false }, register: { publicKey: pub } });
    const e = parseCli([], { FGW_REJECT_UNKNOWN_FIELDS: '1', FGW_REQUIRE_ENDPOINTS: 'true', FGW_ALLOW_ENDPOINT_RENAMES: 'yes', FGW_REGISTER_PUBLIC_KEY: pub });
    if (typeof e === 'string') throw new Error(e);
    expect(e.options).toMatchObject({ unknownFields: 'reject', endpoints: { require: true, immutableSlugs: false }, register: { publicKey: pub } });
    expect(d.options.endpoints).toMatchObject({ syncSeconds: 0 });
    expect(parseCli(['--endpoint-sync-seconds', '60'], {})).toMatchObject({ options: { endpoints: { syncSeconds: 60 } } });
    expect(parseCli([], { FGW_ENDPOINT_SYNC_SECONDS: '5' })).toMatchObject({ options: { endpoints: { syncSeconds: 5 } } });
    expect(() => parseCli(['--endpoint-sync-seconds', '1.5'], {})).toThrow(/--endpoint-sync-seconds must be an integer from 0 to 86400, not "1.5"/);
  });

  it('--error-format and --management-rate-limit: flags and FGW_ variables; defaults are the documented behaviour', () => {
    const opts = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      const p = parseCli(argv, env);
      if (typeof p === 'string') throw new Error(p);
      return p.options;
    };
    expect(opts([])).toMatchObject({ errorFormat: 'baseten' });
    expect(opts([]).managementRateLimit).toBeUndefined(); // createMock's default: 100
    expect(opts(['--error-format', 'openai', '--management-rate-limit', '20'])).toMatchObject({ errorFormat: 'openai', managementRateLimit: 20 });
    expect(opts(['--management-rate-limit', 'off']).managementRateLimit).toBe(false);
    expect(opts([], { FGW_ERROR_FORMAT: 'openai', FGW_MANAGEMENT_RATE_LIMIT: 'OFF' })).toMatchObject({ errorFormat: 'openai', managementRateLimit: false });
    expect(() => opts(['--error-format', 'xml'])).toThrow(/--error-format must be baseten or openai, not "xml"/);
    expect(() => opts(['--management-rate-limit', '0'])).toThrow(/--management-rate-limit must be an integer from 1/);
    expect(() => opts(['--management-rate-limit', '-5'])).toThrow(/--management-rate-limit must be an integer from 1/);
  });

  it('--prompt-cache-min-tokens, --prompt-cache-window-seconds and --cached-token-weight: flags, FGW_ variables and defaults', () => {
    const opts = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      const p = parseCli(argv, env);
      if (typeof p === 'string') throw new Error(p);
      return p.options.inference;
    };
    expect(opts([])).toMatchObject({ promptCache: { minTokens: 1024, windowSeconds: 300 }, cachedTokenWeight: 'full' });
    expect(opts(['--prompt-cache-min-tokens', '0', '--prompt-cache-window-seconds', '60', '--cached-token-weight', 'none'])).toMatchObject({ promptCache: { minTokens: 0, windowSeconds: 60 }, cachedTokenWeight: 'none' });
    expect(opts([], { FGW_PROMPT_CACHE_MIN_TOKENS: '32', FGW_PROMPT_CACHE_WINDOW_SECONDS: '10' })).toMatchObject({ promptCache: { minTokens: 32, windowSeconds: 10 } });
    expect(() => opts(['--cached-token-weight', 'half'])).toThrow(/--cached-token-weight must be full or none, not "half"/);
    expect(() => opts(['--prompt-cache-min-tokens', '-1'])).toThrow(/--prompt-cache-min-tokens/);
  });

  it('--management-key replaces the default keys and keeps the default workspaces', () => {
    const p = parseCli(['--management-key', 'k1', '--management-key', 'k2:workspace-b:view'], {});
    if (typeof p === 'string') throw new Error(p);
    expect(p.options.config?.management_keys).toEqual([
      { key: 'k1', workspace: 'workspace-a', scope: 'management' },
      { key: 'k2', workspace: 'workspace-b', scope: 'view' },
    ]);
    expect(p.options.config?.workspaces).toEqual(DEFAULT_CONFIG.workspaces);
  });

  it('--config loads a file; scenarios/example-config.json is valid', () => {
    const p = parseCli(['--config', 'scenarios/example-config.json'], {});
    if (typeof p === 'string') throw new Error(p);
    expect(p.options.config?.management_keys.map((k) => k.key)).toContain('acme-admin-key');
  });

  it.each([
    [['--port', 'abc'], UsageError, /--port must be an integer/],
    [['--port', '70000'], UsageError, /--port/],
    [['--bogus'], UsageError, /bogus/],
    [['--view-scope', 'all'], UsageError, /--view-scope/],
    [['--token-limit-policy', 'lenient'], UsageError, /--token-limit-policy/],
    [['--webhook-url', 'ftp://x'], UsageError, /--webhook-url/],
    [['--management-key', 'k:ws:admin'], ConfigError, /--management-key/],
    [['--config', '/nonexistent.json'], ConfigError, /cannot read config file/],
    [['--register-public-key', 'abc'], UsageError, /--register-public-key must be a base64 string/],
    [['--register-public-key', Buffer.alloc(33).toString('base64')], UsageError, /decodes to 33 bytes/],
  ])('refuses %j with a message that says what is wrong', (argv, type, message) => {
    expect(() => parseCli(argv as string[], {})).toThrow(type as never);
    expect(() => parseCli(argv as string[], {})).toThrow(message as RegExp);
  });

  it.each([
    [{ management_keys: [] }, /"management_keys" must be a non-empty array/],
    [{ management_keys: [{ key: 'k', workspace: 'w', scope: 'root' }] }, /management_keys\[0\].scope/],
    [{ management_keys: [{ key: 'k', workspace: 'w' }], extra: 1 }, /unknown field "extra"/],
    [{ workspaces: [{ id: 'w', onboarded: 'yes' }], management_keys: [{ key: 'k', workspace: 'w' }] }, /workspaces\[0\].onboarded/],
    [{ workspaces: [{ id: 'w', register_public_key: 'xyz' }], management_keys: [{ key: 'k', workspace: 'w' }] }, /workspaces\[0\].register_public_key: must be a base64/],
    [{ workspaces: [{ id: 'w', org_prefixes: ['a/b'] }], management_keys: [{ key: 'k', workspace: 'w' }] }, /workspaces\[0\].org_prefixes/],
    [{ workspaces: [{ id: 'w', org_prefixes: ['lab'] }, { id: 'v', org_prefixes: ['lab'] }], management_keys: [{ key: 'k', workspace: 'w' }] }, /org prefix "lab" is owned by both w and v/],
  ])('a bad config file is refused precisely: %j', (config, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify(config));
    expect(() => parseCli(['--config', file], {})).toThrow(message);
  });
});

describe('the frontier-gateway-mock binary', () => {
  it('--help explains the flags and the default keys', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--help']);
    for (const s of ['--port', '--webhook-url', '--reject-bearer', '--config', '--reject-unknown-fields', '--require-endpoints', '--allow-endpoint-renames', '--endpoint-sync-seconds', '--register-public-key', '--scenario', '--state-file', '--error-format', '--management-rate-limit', 'mock-management-key', 'mock-not-onboarded-key']) {
      expect(stdout).toContain(s);
    }
  });

  it('a bad flag exits 2 with the reason on stderr', async () => {
    const err = await run(process.execPath, [CLI, '--port', 'x']).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('--port must be an integer');
  });

  it('starts, prints the banner with the keys, serves, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m && out.includes('mock-not-onboarded-key')) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(out).toContain('mock-view-key');
    const res = await fetch(`${url}/v1/gateway/groups`, { headers: { Authorization: 'Api-Key mock-management-key' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('a bad scenario stops the start-up with exit code 1, naming the file, the entry and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'workspaces: [{ id: acme }]\ngroups:\n  - name: pro-acme\n    parent: pro-root\n    models: [{ slug: acme/chat }]\n');
    const err = await run(process.execPath, [CLI, '--port', '0', '--scenario', file]).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toContain(`${file}: scenario refused, nothing was loaded`);
    expect((err as { stderr: string }).stderr).toContain('groups[0] "pro-acme": parent "pro-root" is not the name of a group in this scenario');
  });

  it('a port in use exits 1 and says so', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const err = await run(process.execPath, [CLI, '--port', String(port)]).catch((e: { code: number; stderr: string }) => e);
    blocker.close();
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toContain('already in use');
  });

  it("is importable by its package name: startMock gives { url, reset(), close() } on a free port", async () => {
    const script = `
      import { startMock } from 'frontier-gateway-mock';
      const m = await startMock();
      const r = await fetch(m.url + '/v1/gateway/groups', { headers: { Authorization: 'Api-Key mock-management-key' } });
      m.reset();
      await m.close();
      console.log(JSON.stringify({ url: m.url, status: r.status, reset: typeof m.reset }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const result = JSON.parse(stdout);
    expect(result.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(result).toMatchObject({ status: 200, reset: 'function' });
  });
});
