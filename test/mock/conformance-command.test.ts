import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConformanceCli, preflight, type ConformanceArgs } from '../../src/cli-conformance.js';
import { UsageError } from '../../src/cli-options.js';
import { startMock, type RunningMock } from '../../src/index.js';

/** `frontier-gateway-mock conformance`: its flags, and the preflight that stops a wrong target with one line. */

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseConformanceCli(argv, env, '/work/here') as ConformanceArgs;

describe('conformance flags', () => {
  it('map onto the FGW_* variables, over the environment', () => {
    const a = parse(
      ['--base-url', 'https://api.example.test', '--api-key', 'k', '--inference-base-url', 'https://inf.example.test/v1', '--model-slug', 'a/b,c/d', '--view-key', 'v', '--other-workspace-key', 'o', '--not-onboarded-key', 'n', '--capabilities', 'mock-admin', '--endpoint-prefix', 'acme', '--endpoint-target', '{"provider":"BASETEN","model_id":"x"}'],
      { FGW_API_KEY: 'from-env', FGW_WEBHOOK_SECRET: 's', PATH: '/bin' },
    );
    expect(a.env).toEqual({
      FGW_BASE_URL: 'https://api.example.test',
      FGW_API_KEY: 'k',
      FGW_INFERENCE_BASE_URL: 'https://inf.example.test/v1',
      FGW_MODEL_SLUG: 'a/b,c/d',
      FGW_VIEW_KEY: 'v',
      FGW_OTHER_WORKSPACE_KEY: 'o',
      FGW_NOT_ONBOARDED_KEY: 'n',
      FGW_CAPABILITIES: 'mock-admin',
      FGW_ENDPOINT_PREFIX: 'acme',
      FGW_ENDPOINT_TARGET: '{"provider":"BASETEN","model_id":"x"}',
      FGW_WEBHOOK_SECRET: 's',
    });
    expect(a).toMatchObject({ reportsDir: '/work/here/reports', compareWithMock: false, dryRun: false, filters: [] });
  });

  it('take the target from the environment alone, and the rest from flags', () => {
    const a = parse(['--dry-run', '--reports', 'out', '--min-coverage', '75%', 'auth', 'inference'], { FGW_BASE_URL: 'http://127.0.0.1:4010', FGW_API_KEY: 'k' });
    expect(a.env).toEqual({ FGW_BASE_URL: 'http://127.0.0.1:4010', FGW_API_KEY: 'k', FGW_DRY_RUN: '1' });
    expect(a).toMatchObject({ reportsDir: '/work/here/out', minCoverage: 75, dryRun: true, filters: ['auth', 'inference'] });
    expect(parse(['--reports', '/abs/dir']).reportsDir).toBe('/abs/dir');
    expect(parse([]).env).toEqual({});
    expect(parse(['--compare-with-mock', '--base-url', 'http://x.test', '--api-key', 'k']).compareWithMock).toBe(true);
    expect(parseConformanceCli(['--help'], {}, '/')).toBe('help');
  });

  it.each([
    [['--base-url', 'http://x.test'], '--base-url needs --api-key'],
    [['--base-url', 'ftp://x.test', '--api-key', 'k'], '--base-url must be an http(s) URL'],
    [['--api-key', 'k'], '--api-key needs --base-url'],
    [['--base-url', 'http://x.test', '--api-key', 'k', '--capabilities', 'clock'], 'unknown capability "clock"'],
    [['--min-coverage', '120'], '--min-coverage must be a percentage from 0 to 100'],
    [['--min-coverage', 'lots'], '--min-coverage must be a percentage'],
    [['--compare-with-mock'], '--compare-with-mock compares a target with the mock'],
    [['--endpoint-target', '{nope'], '--endpoint-target must be one target as JSON'],
    [['--api-key', ''], '--api-key must not be empty'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('refuse %j in plain words', (argv, message) => {
    expect(() => parseConformanceCli(argv, {}, '/')).toThrow(UsageError);
    expect(() => parseConformanceCli(argv, {}, '/')).toThrow(message);
  });
});

describe('the preflight: one request, one line when the target is wrong', () => {
  let mock: RunningMock;
  let other: Server;
  let otherUrl: string;
  beforeAll(async () => {
    mock = await startMock();
    other = createServer((req, res) => {
      if (req.url?.startsWith('/html/')) {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a login page</html>');
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await mock.close();
    await new Promise((r) => other.close(r));
  });

  it('passes an onboarded workspace whose key is accepted', async () => {
    expect(await preflight(mock.url, 'mock-management-key')).toBeUndefined();
    expect(await preflight(`${mock.url}/`, 'mock-view-key')).toBeUndefined();
  });

  it('names a refused key, a workspace not onboarded, and a URL that is not the gateway', async () => {
    expect(await preflight(mock.url, 'nope')).toMatch(/^the target refused the API key \(401.*check --api-key/);
    expect(await preflight(mock.url, 'mock-not-onboarded-key')).toMatch(/^the target answered 403 to listing groups.*not onboarded.*check --api-key/);
    expect(await preflight(otherUrl, 'k')).toMatch(/answered 404: no Frontier Gateway management API there; check --base-url/);
    expect(await preflight(`${otherUrl}/html`, 'k')).toMatch(/answered 200 but not with a list of groups/);
  });

  it('names a target that cannot be reached, without a stack', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await preflight(`http://127.0.0.1:${port}`, 'k');
    expect(refused).toBe(`cannot reach http://127.0.0.1:${port}: connection refused (nothing listens at 127.0.0.1:${port}); check --base-url, or start the mock first`);
    const notFound = await preflight('https://gateway.example.invalid', 'k', {
      fetch: () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } })),
    });
    expect(notFound).toBe('cannot reach https://gateway.example.invalid: the host gateway.example.invalid was not found (ENOTFOUND); check --base-url');
    const slow = await preflight('https://slow.example.test', 'k', {
      timeoutMs: 50,
      fetch: (_url, init) => new Promise((_resolve, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason))),
    });
    expect(slow).toBe('https://slow.example.test did not answer within 0.05 s: check --base-url and that the target is up');
    for (const line of [refused, notFound, slow]) expect(line).not.toContain('\n');
  });
});
