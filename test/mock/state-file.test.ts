import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_VERSION, startMock, type RunningMock } from '../../src/index.js';
import { mocksPerTest } from '../support/mocks.js';
import { StateFileError } from '../../src/store/state-file.js';

const CLI = 'dist/cli.js';
const auth = { Authorization: 'Api-Key mock-management-key' };
const hello = [{ role: 'user' as const, content: 'Hello' }];
const { start: startWith, running } = mocksPerTest();

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'fgw-state-')), 'state.json');

const start = (stateFile: string): Promise<RunningMock> => startWith({ stateFile: { path: stateFile, intervalMs: 20 } });

/** Resolves once `check` holds for the file's content, polling (the writes are debounced). */
async function fileSoon(path: string, check: (text: string) => boolean): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (check(text)) return text;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${path} never matched`);
}

/** A world with a group, a key, traffic on a daily limit, and a moved clock. */
async function populate(m: RunningMock) {
  // Mid-morning (UTC) of a day to come, so the hour the clock moves below stays inside one daily window
  // whatever the time the test runs (from 23:00 UTC it crossed midnight and the DAY usage reset).
  await request(m.url).post('/_mock/clock').send({ now: '2030-05-13T10:00:00Z' }).expect(200);
  const g = await request(m.url)
    .post('/v1/gateway/groups')
    .set(auth)
    .send({ metadata: { external_entity_id: 'kept' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 5 }] }], hierarchy: {} });
  const k = await request(m.url).post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(auth).send({ name: 'kept-key' });
  const client = new OpenAI({ baseURL: `${m.url}/v1`, apiKey: k.body.api_key, maxRetries: 0 });
  await client.chat.completions.create({ model: 'a/b', messages: hello });
  await client.chat.completions.create({ model: 'a/b', messages: hello });
  await request(m.url).post('/_mock/clock').send({ advance_seconds: 3600 });
  return { groupId: g.body.id as string, apiKey: k.body.api_key as string };
}

describe('--state-file', () => {
  it('keeps groups, keys, counters and the clock across a restart', async () => {
    const path = tempFile();
    const first = await start(path);
    expect(first.mock.restoredFromStateFile).toBe(false);
    const { groupId, apiKey } = await populate(first);
    // Written after the changes, without waiting for the shutdown.
    await fileSoon(path, (t) => t.includes(groupId) && JSON.parse(t).clock.offset_ms >= 3_600_000);
    const before = first.snapshot();
    await first.close();
    running.splice(0);

    const second = await start(path);
    expect(second.mock.restoredFromStateFile).toBe(true);
    const after = second.snapshot();
    // Everything as it was; the clock kept its offset, so time that passed while stopped counts.
    expect({ ...after, taken_at: 0, clock: 0 }).toEqual({ ...before, taken_at: 0, clock: 0 });
    expect(after.clock.offset_ms).toBe(before.clock.offset_ms);
    expect(after.clock.now_ms).toBeGreaterThanOrEqual(before.clock.now_ms);
    const usage = await request(second.url).get(`/v1/gateway/groups/${groupId}/usage`).set(auth);
    expect(usage.body.usage['a/b'][0].current_usage).toBe(2);
    const client = new OpenAI({ baseURL: `${second.url}/v1`, apiKey, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'a/b', messages: hello });
    await expect(client.chat.completions.create({ model: 'a/b', messages: hello })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    // No key secret in the file, and no temporary file left beside it.
    await second.close();
    running.splice(0);
    expect(readFileSync(path, 'utf8')).not.toContain(apiKey.split('.')[1]);
    expect(readdirSync(join(path, '..'))).toEqual(['state.json']);
  });

  it('is written only when something changed', async () => {
    const path = tempFile();
    const m = await start(path);
    const written = readFileSync(path, 'utf8');
    await request(m.url).get('/v1/gateway/groups').set(auth);
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(path, 'utf8')).toBe(written);
    await request(m.url).post('/_mock/clock').send({ advance_seconds: 60 });
    const moved = await fileSoon(path, (t) => t !== written);
    // Endpoints and registration keys are state too.
    const endpoint = await request(m.url).post('/v1/gateway/endpoints').set(auth).send({ slug: 'your-org/kept', targets: [{ provider: 'BASETEN', model_id: 'm1' }] });
    expect(endpoint.status).toBe(200);
    const withEndpoint = await fileSoon(path, (t) => t !== moved && t.includes('your-org/kept'));
    await request(m.url).put('/_mock/workspaces/workspace-a/register_public_key').send({ public_key: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' });
    await fileSoon(path, (t) => t !== withEndpoint && t.includes('11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='));
  });

  it.each([
    ['not JSON', () => '{"format": "frontier-gateway-mock/state", "vers', /is not valid JSON, so it may be corrupt/],
    ['another kind of file', () => JSON.stringify({ hello: 'world' }), /not a frontier-gateway-mock snapshot/],
    ['a newer version', () => JSON.stringify({ format: 'frontier-gateway-mock/state', version: SNAPSHOT_VERSION + 1 }), /newer than this mock understands/],
  ])('refuses %s, names the file, and leaves it untouched', async (_what, content, message) => {
    const path = tempFile();
    const text = content();
    writeFileSync(path, text);
    const err = await startMock({ stateFile: path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(message);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('refuses a file whose records do not hang together, and leaves it untouched', async () => {
    const path = tempFile();
    const m = await start(path);
    await populate(m);
    const snap = m.snapshot() as any;
    snap.api_keys[0].group_id = 'gone';
    const text = JSON.stringify(snap);
    writeFileSync(path.replace('state.json', 'other.json'), text);
    const err = await startMock({ stateFile: path.replace('state.json', 'other.json') }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/refused \(left as it is\): snapshot: api key .* names missing group gone/);
    expect(readFileSync(path.replace('state.json', 'other.json'), 'utf8')).toBe(text);
  });
});

/** Starts the binary and resolves with its base URL once the banner is out. */
function spawnMock(args: string[]): Promise<{ url: string; out: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && out.includes('state file:')) {
        child.stdout.off('data', onData);
        resolve({
          url: m[1] as string,
          out: () => out,
          stop: () => {
            const exited = new Promise<number | null>((r) => child.once('exit', r));
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(Object.assign(new Error(`exited ${code}: ${out}`), { code, out })));
  });
}

describe('the binary with --state-file', () => {
  it('keeps the state across a real restart, on top of a start-up scenario', async () => {
    const path = tempFile();
    const args = ['--state-file', path, '--scenario', 'scenarios/saas-tiers.yaml'];
    const first = await spawnMock(args);
    expect(first.out()).toContain('(new; rewritten after changes)');
    const admin = { Authorization: 'Api-Key saas-admin-key', 'Content-Type': 'application/json' };
    const created = await fetch(`${first.url}/v1/gateway/groups`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ metadata: { external_entity_id: 'cust-new' }, models: [{ slug: 'saas-co/chat-small' }], hierarchy: {} }),
    });
    const group = (await created.json()) as { id: string };
    const key = (await (await fetch(`${first.url}/v1/gateway/groups/${group.id}/api_keys`, { method: 'POST', headers: admin, body: '{}' })).json()) as { api_key: string };
    expect(await first.stop()).toBe(0);

    const second = await spawnMock(args);
    try {
      expect(second.out()).toContain('(state restored from it; rewritten after changes)');
      const list = (await (await fetch(`${second.url}/v1/gateway/groups?external_entity_id=cust-new`, { headers: admin })).json()) as { items: { id: string }[] };
      expect(list.items.map((g) => g.id)).toEqual([group.id]);
      for (const apiKey of [key.api_key, 'sky_acmeprod0001.AcmeProTierProductionSecret1']) {
        const client = new OpenAI({ baseURL: `${second.url}/v1`, apiKey, maxRetries: 0 });
        expect((await client.chat.completions.create({ model: 'saas-co/chat-small', messages: hello })).object).toBe('chat.completion');
      }
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('a corrupt state file stops the start-up with exit code 1 and says why; the file is kept', async () => {
    const path = tempFile();
    writeFileSync(path, 'not json at all');
    const err = (await spawnMock(['--state-file', path]).catch((e: unknown) => e)) as { code: number; out: string };
    expect(err.code).toBe(1);
    expect(err.out).toContain(`state file ${path} is not valid JSON, so it may be corrupt (left as it is)`);
    expect(readFileSync(path, 'utf8')).toBe('not json at all');
  });
});
