import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { startMock, StateFileError, type Snapshot } from '../../src/index.js';
import { mocksPerTest } from '../support/mocks.js';

/**
 * What --state-file promises when things go wrong: a mock killed with SIGKILL in the
 * middle of writes finds every write it acknowledged after a restart; one mock per state
 * file; no stray temporary files; a disk error is logged, keeps the last good file and
 * shows in the health, and saving resumes once the disk is back.
 */

const CLI = 'dist/cli.js';
const MANAGEMENT = { Authorization: 'Api-Key mock-management-key', 'Content-Type': 'application/json' };
const { start } = mocksPerTest();
const tempFile = () => join(mkdtempSync(join(tmpdir(), 'fgw-crash-')), 'state.json');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Spawned {
  child: ChildProcess;
  url: string;
  out: () => string;
}

function spawnMock(args: string[]): Promise<Spawned> {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && out.includes('state file:')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve({ child, url: m[1] as string, out: () => out });
      }
    };
    const onExit = (code: number | null) => reject(Object.assign(new Error(`exited ${code}: ${out}`), { code, out }));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

describe('--state-file under kill -9', () => {
  it('finds every acknowledged write after the mock is killed in the middle of writes (several cycles)', async () => {
    const path = tempFile();
    const acknowledged = { groups: new Map<string, string>(), keys: new Map<string, string>(), completions: 0, clock: 0 };
    let usageGroup = '';
    let usageKey = '';
    for (let cycle = 0; cycle < 4; cycle++) {
      const mock = await spawnMock(['--state-file', path]);
      if (cycle === 0) {
        // A group with a daily usage limit, and its key: completions count there.
        const g = await fetch(`${mock.url}/v1/gateway/groups`, {
          method: 'POST',
          headers: MANAGEMENT,
          body: JSON.stringify({ metadata: { external_entity_id: 'usage' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 1_000_000 }] }], hierarchy: {} }),
        });
        usageGroup = ((await g.json()) as { id: string }).id;
        const k = await fetch(`${mock.url}/v1/gateway/groups/${usageGroup}/api_keys`, { method: 'POST', headers: MANAGEMENT, body: '{}' });
        usageKey = ((await k.json()) as { api_key: string }).api_key;
      }
      let stop = false;
      let inflightCompletions = 0;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const ext = `c${cycle}-w${w}-${i}`;
          try {
            const res = await fetch(`${mock.url}/v1/gateway/groups`, {
              method: 'POST',
              headers: MANAGEMENT,
              body: JSON.stringify({ metadata: { external_entity_id: ext }, models: [{ slug: 'a/b' }], hierarchy: {} }),
            });
            const body = (await res.json()) as { id: string };
            if (res.status === 200) acknowledged.groups.set(body.id, ext);
            const key = await fetch(`${mock.url}/v1/gateway/groups/${body.id}/api_keys`, { method: 'POST', headers: MANAGEMENT, body: '{}' });
            const kb = (await key.json()) as { api_key: string; prefix?: string };
            if (key.status === 200) acknowledged.keys.set(kb.api_key.split('.')[0] as string, kb.api_key);
          } catch {
            return; // killed: what was not answered was not acknowledged
          }
        }
      };
      const chatter = async () => {
        while (!stop) {
          inflightCompletions++;
          try {
            const res = await fetch(`${mock.url}/v1/chat/completions`, {
              method: 'POST',
              headers: { Authorization: `Api-Key ${usageKey}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }] }),
            });
            await res.arrayBuffer();
            if (res.status === 200) acknowledged.completions++;
          } catch {
            return;
          } finally {
            inflightCompletions--;
          }
        }
      };
      const clockMover = async () => {
        while (!stop) {
          try {
            const res = await fetch(`${mock.url}/_mock/clock`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ advance_seconds: 1 }) });
            await res.arrayBuffer();
            if (res.status === 200) acknowledged.clock++;
          } catch {
            return;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const work = Promise.all([writer(0), writer(1), writer(2), chatter(), chatter(), clockMover()]);
      // Some writes in, then long enough for background saves to run and be interrupted at some point of theirs.
      const atStart = acknowledged.groups.size;
      for (let i = 0; i < 2000 && acknowledged.groups.size - atStart < 10; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 500)));
      const notYetAnswered = inflightCompletions;
      mock.child.kill('SIGKILL');
      stop = true;
      await exited(mock.child);
      await work;

      const after = await spawnMock(['--state-file', path]);
      try {
        const snap = (await (await fetch(`${after.url}/_mock/snapshot`)).json()) as Snapshot;
        const groups = new Map(snap.groups.map((g) => [g.id, g.external_entity_id]));
        const missingGroups = [...acknowledged.groups].filter(([id, ext]) => groups.get(id) !== ext);
        expect(missingGroups).toEqual([]);
        const keys = new Map(snap.api_keys.map((k) => [k.prefix, k.sha256]));
        const missingKeys = [...acknowledged.keys].filter(([prefix, key]) => keys.get(prefix) !== sha256(key));
        expect(missingKeys).toEqual([]);
        // Every acknowledged completion was counted; one that was in flight may or may not have been.
        const usage = (await (await fetch(`${after.url}/v1/gateway/groups/${usageGroup}/usage`, { headers: MANAGEMENT })).json()) as any;
        const used = usage.usage['a/b'][0].current_usage as number;
        expect(used).toBeGreaterThanOrEqual(acknowledged.completions);
        expect(used).toBeLessThanOrEqual(acknowledged.completions + notYetAnswered + 2);
        acknowledged.completions = used;
        expect(snap.clock.offset_ms).toBeGreaterThanOrEqual(acknowledged.clock * 1000);
        acknowledged.clock = snap.clock.offset_ms / 1000;
        expect(acknowledged.groups.size).toBeGreaterThanOrEqual((cycle + 1) * 10);
      } finally {
        after.child.kill('SIGKILL');
        await exited(after.child);
      }
    }
  }, 120_000);
});

describe('one mock per state file', () => {
  it('refuses a second mock on the same file with a one-line message, in-process and as a binary', async () => {
    const path = tempFile();
    const first = await startMock({ stateFile: path });
    const err = await startMock({ stateFile: path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toMatch(new RegExp(`state file ${path} is in use by another frontier-gateway-mock \\(pid ${process.pid}, this process\\)`));
    const binary = (await spawnMock(['--state-file', path]).catch((e: unknown) => e)) as { code: number; out: string };
    expect(binary.code).toBe(1);
    expect(binary.out.trim().split('\n')).toEqual([
      `frontier-gateway-mock: cannot start: state file ${path} is in use by another frontier-gateway-mock (pid ${process.pid}); stop it or pick another file (lock: ${path}.lock)`,
    ]);
    // The first one still works, and after it stops the file is free again.
    await request(first.url).post('/v1/gateway/groups').set(MANAGEMENT).send({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b' }], hierarchy: {} }).expect(200);
    await first.close();
    const again = await startMock({ stateFile: path });
    expect(again.mock.restoredFromStateFile).toBe(true);
    await again.close();
  });

  it('takes over the lock of a mock that was killed (its pid no longer runs)', async () => {
    const path = tempFile();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${path}.lock`, `${dead.stdout}\n`);
    const m = await startMock({ stateFile: path });
    expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.pid));
    await m.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('removes the temporary files of saves that were interrupted', async () => {
    const path = tempFile();
    const dir = join(path, '..');
    writeFileSync(join(dir, '.state.json.4242.tmp'), '{"format": "frontier-gateway-mock/st');
    writeFileSync(join(dir, '.state.json.4242.7.tmp'), '');
    writeFileSync(join(dir, 'unrelated.tmp'), 'kept');
    // Another state file's save in progress in the same directory is not ours to remove.
    writeFileSync(join(dir, '.state.json.bak.4242.1.tmp'), 'kept');
    const m = await startMock({ stateFile: path });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')).sort()).toEqual(['.state.json.bak.4242.1.tmp', 'unrelated.tmp']);
    await m.close();
  });
});

describe('a disk error', () => {
  it('is logged once, keeps the last good file, turns the health to failing, and saving resumes when the disk is back', async () => {
    const path = tempFile();
    let full = false;
    const lines: string[] = [];
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const m = await startMock({
      stateFile: {
        path,
        intervalMs: 20,
        onError: (line) => lines.push(line),
        io: {
          writeSync: (fd, text) => {
            if (full) throw enospc();
            return fs.writeSync(fd, text);
          },
        },
      },
    });
    const create = (ext: string) =>
      request(m.url).post('/v1/gateway/groups').set(MANAGEMENT).send({ metadata: { external_entity_id: ext }, models: [{ slug: 'a/b' }], hierarchy: {} }).expect(200);
    const kept = (await create('before')).body.id as string;
    expect(m.mock.stateFileHealth()).toMatchObject({ ok: true, path });
    for (let i = 0; i < 100 && !readFileSync(path, 'utf8').includes(kept); i++) await new Promise((r) => setTimeout(r, 20));
    const goodFile = readFileSync(path, 'utf8');
    expect(goodFile).toContain(kept);

    full = true;
    const during = (await create('during')).body.id as string;
    await create('during-2');
    await new Promise((r) => setTimeout(r, 150));
    const health = m.mock.stateFileHealth();
    expect(health).toMatchObject({ ok: false, path });
    expect(health?.error).toMatch(/ENOSPC/);
    // The health route says so too, so a CI health check does not take the mock for well.
    const route = await request(m.url).get('/_mock/health');
    expect(route.status).toBe(503);
    expect(route.body).toMatchObject({ status: 'failing', state_file: { path, ok: false, error: expect.stringMatching(/ENOSPC/) } });
    // One line, not one per change or retry.
    expect(lines.filter((l) => /ENOSPC/.test(l)).length).toBeLessThanOrEqual(2);
    expect(lines[0]).toMatch(new RegExp(`cannot append to ${path}\\.log\\.\\d+: ENOSPC`));
    // The last good file is still there, whole; no temporary file is left.
    expect(readFileSync(path, 'utf8')).toBe(goodFile);
    expect(readdirSync(join(path, '..')).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    full = false;
    for (let i = 0; i < 100 && !m.mock.stateFileHealth()?.ok; i++) await new Promise((r) => setTimeout(r, 50));
    expect(m.mock.stateFileHealth()).toMatchObject({ ok: true });
    expect((await request(m.url).get('/_mock/health')).status).toBe(200);
    expect(lines.at(-1)).toMatch(/saved again/);
    // What changed while the disk was full is saved too (the save reads the live state).
    await m.close();
    const restarted = await start({ stateFile: path });
    expect(restarted.mock.stateFileHealth()).toMatchObject({ ok: true });
    expect(restarted.snapshot().groups.map((g) => g.id)).toEqual(expect.arrayContaining([kept, during]));
  });

  it('a mock without a state file reports no health', async () => {
    const m = await start();
    expect(m.mock.stateFileHealth()).toBeNull();
  });
});
