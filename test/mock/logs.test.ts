import { spawn } from 'node:child_process';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../../src/cli-options.js';
import { startMock } from '../../src/index.js';

/** Request logs for people (pretty) and machines (json), and the banner in both forms. Spawns dist/cli.js: run `npm run build` first. */

const CLI = 'dist/cli.js';

describe('--log-format', () => {
  it('parses pretty (default) and json, and refuses anything else', () => {
    const p = parseCli([], {});
    const j = parseCli(['--log-format', 'json'], {});
    if (typeof p === 'string' || typeof j === 'string') throw new Error('unexpected');
    expect([p.options.logFormat, j.options.logFormat]).toEqual(['pretty', 'json']);
    expect(() => parseCli(['--log-format', 'xml'], {})).toThrow(UsageError);
    expect(() => parseCli(['--log-format', 'xml'], {})).toThrow(/pretty or json/);
  });

  it('json: one object per request with time, level, method, path, operation, status, ms and request id; no header, so no key', async () => {
    const lines: string[] = [];
    const m = await startMock({ logFormat: 'json', log: (l) => lines.push(l) });
    try {
      const ok = await request(m.url).get('/v1/gateway/groups?limit=1').set('Authorization', 'Api-Key mock-management-key');
      await request(m.url).get('/v1/gateway/groups');
      await new Promise((r) => setTimeout(r, 20));
      const [a, b] = lines.map((l) => JSON.parse(l));
      expect(a).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: 'info', method: 'GET', path: '/v1/gateway/groups', operation: 'listGroups', status: 200, ms: expect.any(Number), request_id: ok.headers['x-request-id'] });
      expect(b).toMatchObject({ level: 'warn', status: 401 });
      expect(lines.join('\n')).not.toContain('mock-management-key');
    } finally {
      await m.close();
    }
  });

  it('pretty: one readable line with method, URL, status, time, operation and request id', async () => {
    const lines: string[] = [];
    const m = await startMock({ log: (l) => lines.push(l) });
    try {
      const res = await request(m.url).get('/v1/gateway/groups').set('Authorization', 'Api-Key mock-management-key');
      await new Promise((r) => setTimeout(r, 20));
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^GET /v1/gateway/groups 200 \\d+\\.\\d ms  listGroups  ${String(res.headers['x-request-id']).slice(0, 8)}$`))]);
    } finally {
      await m.close();
    }
  });
});

/** Runs the CLI until `done` says the output is complete, then stops it. */
async function cliOutput(args: string[], done: (out: string) => boolean, act?: (url: string) => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [CLI, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let acted = false;
  try {
    return await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
        if (url && act && !acted) {
          acted = true;
          act(url).catch(reject);
        }
        if (done(out)) resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
  } finally {
    child.kill('SIGTERM');
  }
}

describe('the banner', () => {
  it('pretty: the API, inference base URL and inspector URLs, and the keys', async () => {
    const out = await cliOutput(['--quiet'], (o) => o.includes('mock-not-onboarded-key'));
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
    expect(out).toContain(`inference (OpenAI baseURL): ${url}/v1`);
    expect(out).toContain(`inspector:       ${url}/_mock/`);
    expect(out).toContain(`${url}/v1/gateway/groups`);
  });

  it('json: the banner and every request line are JSON objects', async () => {
    const out = await cliOutput(
      ['--log-format', 'json'],
      (o) => o.split('\n').filter(Boolean).length >= 2,
      async (url) => void (await fetch(`${url}/v1/models`)),
    );
    const [banner, line] = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(banner).toMatchObject({ level: 'info', inspector: `${banner.url}/_mock/`, inference_base_url: `${banner.url}/v1`, management_keys: expect.arrayContaining([expect.objectContaining({ key: 'mock-management-key' })]) });
    expect(line).toMatchObject({ method: 'GET', path: '/v1/models', operation: 'listModels', status: 401, level: 'warn' });
  });

  it('json: a loaded scenario is named with its groups, and no key secret from it appears', async () => {
    const out = await cliOutput(['--log-format', 'json', '--scenario', 'scenarios/saas-tiers.yaml'], (o) => o.includes('\n'));
    const banner = JSON.parse(out.trim().split('\n')[0] as string);
    expect(banner.scenarios).toEqual([expect.objectContaining({ source: expect.stringContaining('saas-tiers.yaml'), federated_keys: expect.any(Number) })]);
    expect(banner.scenarios[0].groups.length).toBeGreaterThan(0);
    expect(out).not.toContain('HobbyistFreeTierSecret0001');
  });

  it('--no-admin: no inspector in the banner', async () => {
    const out = await cliOutput(['--no-admin', '--log-format', 'json'], (o) => o.includes('\n'));
    expect(JSON.parse(out.trim().split('\n')[0] as string)).toMatchObject({ inspector: null, admin_routes: false });
  });
});
