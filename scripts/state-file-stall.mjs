#!/usr/bin/env node
// How long requests wait because of --state-file (run after npm run build:
// node scripts/state-file-stall.mjs [--groups=30000] [--duration=8] [--concurrency=4]).
// A state of N groups (each with a key and usage limits) is written as a state file; the
// mock (node dist/cli.js) starts on it, then a mixed load runs for the duration: creates
// (each one appended to the redo log), reads, and completions (each one a counter record
// and a webhook record), while background snapshots of the whole state run. The same load
// then runs against a mock without a state file holding the same state (restored with
// POST /_mock/snapshot). It prints the latency of each (median, p99, max) per kind, the
// snapshots written, and the start-up time on the file. Before that, in-process, it
// measures what a background snapshot of that state costs the event loop: the longest
// stall (monitorEventLoopDelay) while snapshots run back to back, against the same
// measure while idle, and what one logged change costs. It asserts nothing. Loopback only.
//
//   --groups=N       groups in the state (default 30000)
//   --duration=N     seconds of load per run (default 8)
//   --concurrency=N  requests in flight (default 4)
//   --fsync          run the mock with --state-file-fsync too
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createMock } from '../dist/index.js';
import { StateFile } from '../dist/store/state-file.js';
import { api, MGMT, ROOT, whenListening } from './bench/common.mjs';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return fallback;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : true;
};
const GROUPS = Number(arg('groups', 30_000));
const DURATION_MS = Number(arg('duration', 8)) * 1000;
const CONCURRENCY = Number(arg('concurrency', 4));
const FSYNC = arg('fsync', false) === true;
const MODELS = [{ slug: 'bench/model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 1e9 }], usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 1e12 }] }];

// ---- the state: N groups with a key each, built in-process and saved as a snapshot ----
const dir = mkdtempSync(join(tmpdir(), 'fgw-stall-'));
const path = join(dir, 'state.json');
const builder = await createMock({ admin: true });
let t0 = performance.now();
for (let i = 0; i < GROUPS; i++) {
  const g = builder.gateway.groups.create('workspace-a', { metadata: { name: `g${i}`, external_entity_id: `ext-${i}` }, models: MODELS, hierarchy: ROOT });
  builder.gateway.keys.mint('workspace-a', g.id, `k${i}`);
}
const snapshot = builder.snapshot();
writeFileSync(path, JSON.stringify(snapshot));
builder.close();
console.log(`state: ${GROUPS} groups and keys, ${(statSync(path).size / 1e6).toFixed(1)} MB as a snapshot (built in ${Math.round(performance.now() - t0)} ms)`);

function spawnMock(args) {
  // The management rate limit (100 requests/s per key and route) is off: this measures saves, not it.
  const child = spawn(process.execPath, ['dist/cli.js', '--port', '0', '--quiet', '--management-rate-limit', 'off', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return { child, url: whenListening(child, 'mock', 120_000) };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};

async function load(url, label) {
  const group = await api(url, 'POST', '/v1/gateway/groups', { metadata: { external_entity_id: `load-${label}` }, models: MODELS, hierarchy: ROOT });
  const { api_key: key } = await api(url, 'POST', `/v1/gateway/groups/${group.id}/api_keys`, {});
  const chat = { Authorization: `Api-Key ${key}`, 'Content-Type': 'application/json' };
  const times = { create: [], read: [], chat: [] };
  let n = 0;
  let snapshots = 0;
  let lastMtime = statSync(path).mtimeMs;
  const watcher = setInterval(() => {
    try {
      const m = statSync(path).mtimeMs;
      if (m !== lastMtime) snapshots++;
      lastMtime = m;
    } catch {}
  }, 10);
  const end = performance.now() + DURATION_MS;
  const worker = async () => {
    while (performance.now() < end) {
      const i = n++;
      const kind = i % 3 === 0 ? 'create' : i % 3 === 1 ? 'read' : 'chat';
      const t = performance.now();
      const res =
        kind === 'create'
          ? await fetch(`${url}/v1/gateway/groups`, { method: 'POST', headers: MGMT, body: JSON.stringify({ metadata: { external_entity_id: `${label}-${i}` }, models: MODELS, hierarchy: ROOT }) })
          : kind === 'read'
            ? await fetch(`${url}/v1/gateway/groups/${group.id}`, { headers: MGMT })
            : await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: chat, body: JSON.stringify({ model: 'bench/model', messages: [{ role: 'user', content: 'Hello' }] }) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${kind}: ${res.status}`);
      times[kind].push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  clearInterval(watcher);
  const f = (x) => x.toFixed(1).padStart(6);
  console.log(`\n${label}: ${n} requests in ${DURATION_MS / 1000} s, ${CONCURRENCY} in flight${label.startsWith('with') ? `; ${snapshots} background snapshots written` : ''}`);
  console.log('  kind      median    p99     max   (ms)');
  for (const [kind, xs] of Object.entries(times)) console.log(`  ${kind.padEnd(8)}${f(pct(xs, 0.5))} ${f(pct(xs, 0.99))} ${f(Math.max(...xs))}`);
}

// ---- in-process: what a background snapshot costs the event loop ----
{
  const inProcess = await createMock({});
  inProcess.restore(snapshot);
  const file = new StateFile(inProcess.store, { path: join(dir, 'in-process.json'), intervalMs: 1e9 });
  file.open();
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 1000));
  idle.disable();
  const busy = monitorEventLoopDelay({ resolution: 1 });
  const durations = [];
  busy.enable();
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await file.compact();
    durations.push(performance.now() - t);
  }
  busy.disable();
  const ms = (ns) => (ns / 1e6).toFixed(1);
  console.log(`background snapshot of ${GROUPS} groups: ${durations.map((d) => Math.round(d)).join(', ')} ms each (wall, 5 back to back)`);
  console.log(`  event-loop delay while they ran: p50 ${ms(busy.percentile(50))}, p99 ${ms(busy.percentile(99))}, max ${ms(busy.max)} ms (idle, 1 s: p99 ${ms(idle.percentile(99))}, max ${ms(idle.max)} ms)`);
  const g = inProcess.store.allGroups()[0];
  const N = 20_000;
  let t = performance.now();
  for (let i = 0; i < N; i++) inProcess.store.updateGroup(g.id, { name: `n${i}` });
  const logged = (performance.now() - t) / N;
  inProcess.store.setChangeSink(null);
  t = performance.now();
  for (let i = 0; i < N; i++) inProcess.store.updateGroup(g.id, { name: `n${i}` });
  const bare = (performance.now() - t) / N;
  console.log(`  one change (updateGroup): ${(logged * 1000).toFixed(1)} µs logged to the redo log, ${(bare * 1000).toFixed(1)} µs without`);
  file.close();
  inProcess.close();
}

// ---- with the state file ----
t0 = performance.now();
const withFile = spawnMock(['--state-file', path, ...(FSYNC ? ['--state-file-fsync'] : [])]);
const url1 = await withFile.url;
console.log(`start-up on the state file (read, replay, first snapshot): ${Math.round(performance.now() - t0)} ms`);
await load(url1, `with --state-file${FSYNC ? ' --state-file-fsync' : ''}`);
withFile.child.kill('SIGTERM');
await new Promise((r) => withFile.child.once('exit', r));

// ---- without: the same state, restored over HTTP ----
const without = spawnMock([]);
const url2 = await without.url;
const res = await fetch(`${url2}/_mock/snapshot`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(snapshot) });
if (res.status !== 200) throw new Error(`restore: ${res.status}`);
await load(url2, 'without a state file');
without.child.kill('SIGTERM');
await new Promise((r) => without.child.once('exit', r));
