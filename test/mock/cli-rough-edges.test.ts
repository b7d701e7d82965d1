import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { banner, bannerJson, parseCli, UsageError } from '../../src/cli-options.js';
import { ConfigError, DEFAULT_CONFIG } from '../../src/config.js';
import { startMock } from '../../src/index.js';

/** Issue 9, items 9 to 11: what a newcomer meets in the first hour. Needs a current build (npm test builds first). */

function waitForBanner(child: ChildProcess): Promise<{ url: string; port: number; out: () => string; err: () => string }> {
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (m) resolve({ url: m[1] as string, port: Number(m[2]), out: () => out, err: () => err });
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out} ${err}`)));
  });
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('npm start', () => {
  it('on a built tree starts without compiling, and killing npm stops the server and frees the port', async () => {
    const npm = spawn('npm', ['start', '--silent', '--', '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { url, port, err } = await waitForBanner(npm);
    expect(err()).not.toContain('compiling');
    expect((await fetch(`${url}/v1/gateway/groups`, { headers: { Authorization: 'Api-Key mock-management-key' } })).status).toBe(200);
    const npmExited = new Promise((r) => npm.once('exit', r));
    npm.kill('SIGTERM');
    await npmExited;
    expect(await eventually(() => portIsFree(port))).toBe(true);
    expect(await eventually(async () => err().includes('stopped'))).toBe(true);
  }, 20_000);

  it('the start script does not rebuild on every start', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prestart).toBeUndefined();
    expect(pkg.scripts.start).toBe('node scripts/start.mjs');
  });
});

describe('CLI rough edges', () => {
  it('--port -1 says what is wrong in plain words', () => {
    expect(() => parseCli(['--port', '-1'], {})).toThrow(UsageError);
    expect(() => parseCli(['--port', '-1'], {})).toThrow('--port must be an integer from 0 to 65535, not "-1"');
  });

  it('--no-admin: the banner does not point at /_mock/webhooks', () => {
    const text = banner('http://127.0.0.1:1', { admin: false }, DEFAULT_CONFIG);
    expect(text).not.toContain('/_mock/');
    expect(banner('http://127.0.0.1:1', {}, DEFAULT_CONFIG)).toContain('/_mock/webhooks');
  });

  it('--quiet masks the management keys of a --config file in the banner', () => {
    const config = { workspaces: [{ id: 'w', onboarded: true }], management_keys: [{ key: 'very-secret-key-123', workspace: 'w', scope: 'management' as const }] };
    expect(banner('http://x', { config }, config, true)).not.toContain('very-secret-key-123');
    expect(banner('http://x', { config }, config, true)).toContain('very…');
    expect(banner('http://x', { config }, config, false)).toContain('very-secret-key-123');
  });

  it("the banner lists a start-up scenario's keys: management keys (masked under --quiet), federated keys by prefix only", async () => {
    const m = await startMock({ port: 0, scenarios: ['scenarios/saas-tiers.yaml'] });
    try {
      const startup = { scenarios: m.mock.scenarios, restoredFromStateFile: false };
      const loud = banner(m.url, {}, DEFAULT_CONFIG, false, startup);
      expect(loud).toContain('saas-admin-key');
      expect(loud).toMatch(/federated key sky_acmeprod0001… \(group acme/);
      expect(loud).not.toContain('AcmeProTierProductionSecret1');
      const quiet = banner(m.url, {}, DEFAULT_CONFIG, true, startup);
      expect(quiet).not.toContain('saas-admin-key');
      expect(quiet).toContain('saas…');
      expect(bannerJson(m.url, {}, DEFAULT_CONFIG, 'now', false, startup)).not.toContain('AcmeProTierProductionSecret1');
    } finally {
      await m.close();
    }
  });

  it('a config key naming an undeclared workspace is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ workspaces: [{ id: 'acme' }], management_keys: [{ key: 'k', workspace: 'acmee' }] }));
    expect(() => parseCli(['--config', file], {})).toThrow(ConfigError);
    expect(() => parseCli(['--config', file], {})).toThrow('management_keys[0].workspace "acmee" is not declared in "workspaces"');
  });

  it("the README's streaming example ends its output with a newline", () => {
    const readme = readFileSync('README.md', 'utf8');
    const example = readme.slice(readme.indexOf('const stream = await client.chat.completions.create'));
    const block = example.slice(0, example.indexOf('```'));
    expect(block.trimEnd().split('\n').at(-1)).toBe("process.stdout.write('\\n');");
  });
});
