#!/usr/bin/env node
// Where the time goes, per route (run after npm run build): starts `node --cpu-prof dist/cli.js`,
// drives one route with autocannon (50 connections, --duration=N s, default 5), stops the
// server (SIGINT writes the profile) and prints the top self-time functions and packages.
// Usage: node scripts/profile.mjs [list|one|create|chat|start] [--duration=5] [--top=25]
// The .cpuprofile files stay in the printed directory (open them in Chrome DevTools).
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MGMT = { Authorization: 'Api-Key mock-management-key', 'Content-Type': 'application/json' };
const opt = (name, d) => Number((process.argv.find((a) => a.startsWith(`--${name}=`)) ?? `=${d}`).split('=')[1]);
const route = process.argv[2] ?? 'chat';
const duration = opt('duration', 5);
const top = opt('top', 25);
const dir = mkdtempSync(join(tmpdir(), `fgw-prof-${route}-`));

const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, CLI, '--quiet', '--port', '0', '--management-rate-limit', 'off', ...process.argv.slice(3).filter((a) => !/^--(duration|top)=/.test(a))], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error('no start within 15 s')), 15_000);
  child.stdout.on('data', (c) => {
    const m = /listening on (http:\/\/[^\s/]+)/.exec((out += c));
    if (m) resolve(m[1], clearTimeout(timer));
  });
});
const api = async (method, path, body, headers = MGMT) => (await fetch(`${url}${path}`, { method, headers, body: body && JSON.stringify(body) })).json();

if (route !== 'start') {
  const unlimited = [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1e12 }];
  const group = await api('POST', '/v1/gateway/groups', { metadata: { external_entity_id: 'prof' }, models: [{ slug: 'bench/model', rate_limits: unlimited }], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } });
  const { api_key: key } = await api('POST', `/v1/gateway/groups/${group.id}/api_keys`, {});
  let n = 0;
  const opts = {
    list: { url: `${url}/v1/gateway/groups`, headers: MGMT },
    one: { url: `${url}/v1/gateway/groups/${group.id}`, headers: MGMT },
    create: { url: `${url}/v1/gateway/groups`, method: 'POST', headers: MGMT, requests: [{ setupRequest: (r) => ({ ...r, body: JSON.stringify({ metadata: { external_entity_id: `p${++n}` }, models: [{ slug: 'bench/model' }], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } }) }) }] },
    chat: { url: `${url}/v1/chat/completions`, method: 'POST', headers: { Authorization: `Api-Key ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'bench/model', messages: [{ role: 'user', content: 'Hello, world! How are you today?' }] }) },
  }[route];
  if (!opts) throw new Error(`unknown route ${route}`);
  const r = await autocannon({ connections: 50, duration, ...opts });
  console.log(`${route}: ${Math.round(r.requests.average)} req/s under the profiler, ${r.non2xx} non-2xx`);
} else {
  await api('GET', '/v1/gateway/groups');
}
await new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGINT')));

const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')));
const p = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(p.nodes.map((n) => [n.id, n]));
const where = (cf) => cf.url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+)\//, '$1:').replace(`file://${ROOT}`, '').replace(ROOT, '');
const fn = new Map();
const pkg = new Map();
let total = 0;
p.samples.forEach((id, i) => {
  const cf = nodes.get(id).callFrame;
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const k = `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;
  fn.set(k, (fn.get(k) ?? 0) + dt);
  const u = where(cf).replace(/:.*/, '').replace(/^node:.*/, 'node internals') || cf.functionName;
  pkg.set(u, (pkg.get(u) ?? 0) + dt);
});
const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(6)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`profile ${file} (${(total / 1000).toFixed(0)} ms sampled)\n-- self time by function\n${show(fn, top)}\n-- self time by package / file\n${show(pkg, 15)}`);
