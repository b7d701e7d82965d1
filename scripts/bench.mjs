#!/usr/bin/env node
// Benchmark of frontier-gateway-mock (run: npm run bench [-- --quick] [-- --duration=5]).
// It measures RATIOS in one run, so the figures mean the same on any machine: the mock
// (node dist/cli.js) beside a bare Express 5 app and an Express 5 + express.json + ajv app,
// each its own process, pinned to core 0 with taskset where it exists while this script
// (the autocannon load generator) is pinned to core 1. It prints figures and asserts
// nothing. Loopback only; every loop is bounded in count and in time.
//
//   --quick          1 s load runs, fewer cold starts (a smoke run, noisier)
//   --duration=N     seconds per load run (default 5)
//   --runs=N         load runs per route and server, alternating (default 3); medians are kept
//   --groups=N       groups (each with one key) for the footprint (default 100000)
//   --skip=a,b       skip sections: load, cold, footprint, cascade
//   --routes=a,b     load only these routes: list, one, create, chat (default all)
//   --help           this text
//   --no-admin       run the mock with --no-admin (no journal or fault steps on the request path)
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { api, createBody, MGMT, MOCK_BENCH_FLAGS, MOCK_BENCH_NOTE, printUsage, ROOT, routeRequests, ROUTES as ALL_ROUTES, setUpRoutes, whenListening } from './bench/common.mjs';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return fallback;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : true;
};
if (arg('help', false) === true) printUsage(import.meta.url);
const QUICK = arg('quick', false) === true;
const DURATION = Number(arg('duration', QUICK ? 1 : 5));
if (!(DURATION > 0)) throw new Error('--duration: seconds per load run, more than 0');
const RUNS = Number(arg('runs', 3));
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs: a whole number of runs, at least 1');
const CONNECTIONS = 50;
const COLD_RUNS = QUICK ? 3 : 9;
const GROUPS = Number(arg('groups', 100_000));
const SKIP = new Set(String(arg('skip', '')).split(',').filter(Boolean));
const ROUTES = new Set(String(arg('routes', ALL_ROUTES.join(','))).split(',').filter(Boolean));
for (const r of ROUTES) if (!ALL_ROUTES.includes(r)) throw new Error(`--routes: unknown route "${r}" (${ALL_ROUTES.join(', ')})`);
const MOCK_ARGS = ['--quiet', '--port', '0', ...MOCK_BENCH_FLAGS, ...(arg('no-admin', false) === true ? ['--no-admin'] : [])];

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bench/bare-express.mjs', import.meta.url));
const AJV_APP = fileURLToPath(new URL('./bench/express-ajv.mjs', import.meta.url));
const SERVER_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;

// Pinning: servers on core 0, the load generator (this process) on core 1.
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
let pinned = 'no (taskset not found)';
if (TASKSET) {
  try {
    execFileSync(TASKSET, ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
    pinned = 'servers on core 0, load generator on core 1';
  } catch {
    pinned = 'no (taskset failed: one core?)';
  }
}

/** Spawns a server that prints "listening on <url>"; resolves once it does. */
function startServer(script, args = [], env = {}) {
  const t0 = performance.now();
  const [cmd, argv] = TASKSET ? [TASKSET, ['-c', '0', process.execPath, script, ...args]] : [process.execPath, [script, ...args]];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  // A server's standard error is passed on, but for the line the mock writes when it is stopped.
  child.stderr.on('data', (c) => {
    const text = String(c).replace(/^frontier-gateway-mock stopped \(SIG\w+\).*\n?/gm, '');
    if (text) process.stderr.write(text);
  });
  return whenListening(child, script, SERVER_TIMEOUT_MS).then((url) => ({ child, url, t0 }));
}

const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => (clearTimeout(kill), resolve()));
    child.kill('SIGTERM');
  });
const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

/** autocannon with a hard time bound on top of its own duration/amount. */
function cannon({ url, path = '', ...opts }, maxMs) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ connections: CONNECTIONS, url: `${url}${path}`, ...opts }, (err, result) => (clearTimeout(timer), err ? reject(err) : resolve(result)));
    const timer = setTimeout(() => instance.stop(), maxMs);
  });
}

/** One load run: req/s, the server's CPU µs per request (from /proc), non-2xx and errors. */
async function run(server, opts) {
  const cpu0 = cpuMs(server.child.pid);
  const r = await cannon({ url: server.url, duration: DURATION, ...opts }, DURATION * 1000 + 10_000);
  return { rps: r.requests.average, cpuUs: ((cpuMs(server.child.pid) - cpu0) * 1000) / Math.max(1, r.requests.total), bad: r.non2xx + r.errors };
}

/**
 * RUNS runs on the mock and on its baseline, alternately, so a change in the machine's
 * load hits both: median req/s of each, the median of the per-pair ratios, and the ratio
 * of CPU time per request (baseline / mock), which a busy machine disturbs far less.
 */
async function loadPair(mock, base, opts) {
  const pairs = [];
  for (let i = 0; i < RUNS; i++) pairs.push([await run(mock, opts), await run(base, opts)]);
  const sum = (k, j) => pairs.reduce((a, p) => a + p[j][k], 0);
  return {
    mock: { rps: median(pairs.map((p) => p[0].rps)), bad: sum('bad', 0) },
    baseline: { rps: median(pairs.map((p) => p[1].rps)), bad: sum('bad', 1) },
    ratio: median(pairs.map(([m, b]) => m.rps / b.rps)),
    cpuRatio: median(pairs.map(([m, b]) => b.cpuUs / m.cpuUs)),
  };
}

async function loadSection() {
  const mock = await startServer(CLI, MOCK_ARGS);
  let bare;
  let ajv;
  const rows = [];
  try {
    const setup = await setUpRoutes(mock.url, REQUEST_TIMEOUT_MS);
    const env = { BENCH_FIXED_JSON: JSON.stringify(setup.fixed) };
    bare = await startServer(BARE, [], env);
    ajv = await startServer(AJV_APP, [], env);

    const routes = [
      { key: 'list', name: 'GET list groups', base: bare, target: 0.8 },
      { key: 'one', name: 'GET one group', base: bare, target: 0.8 },
      { key: 'create', name: 'POST create group', base: ajv, target: 0.8 },
      { key: 'chat', name: 'POST chat completion', base: ajv, target: 0.7 },
    ].map((r) => ({ ...r, opts: routeRequests(r.key, setup, 'c') }));
    for (const r of routes.filter((route) => ROUTES.has(route.key))) {
      // A short warm-up of each server on the route, then the measured runs, alternating.
      await cannon({ url: mock.url, duration: 1, ...r.opts }, 10_000);
      await cannon({ url: r.base.url, duration: 1, ...r.opts }, 10_000);
      rows.push({ ...r, ...(await loadPair(mock, r.base, r.opts)) });
      process.stderr.write(`  measured ${r.name}\n`);
    }
  } finally {
    await Promise.all([mock, bare, ajv].filter(Boolean).map((s) => stop(s.child)));
  }
  return rows;
}

/** CPU time (user + system) a process has used so far, in ms; NaN where /proc is missing. */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

async function coldStart(script, args) {
  const times = [];
  const cpus = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const s = await startServer(script, args);
    const res = await fetch(`${s.url}/v1/gateway/groups`, { headers: MGMT, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${script}: first request ${res.status}`);
    times.push(performance.now() - s.t0);
    cpus.push(cpuMs(s.child.pid));
    await stop(s.child);
  }
  return { wall: median(times), cpu: median(cpus) };
}

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}

/** Median ms of `n` sequential GETs of `path`. */
async function timeGets(url, path, n = 200) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(`${url}${path}`, { headers: MGMT, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await res.arrayBuffer();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

/** The cursor of the last page, walking pages of `size` (bounded). */
async function deepCursor(url, size) {
  let cursor = null;
  let next;
  for (let i = 0; i < 1_000; i++) {
    const page = await api(url, 'GET', `/v1/gateway/groups?limit=${size}${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
    if (!page.pagination.has_more) break;
    cursor = next ?? cursor;
    next = page.pagination.cursor;
  }
  return next ?? cursor;
}

async function pageCosts(url, size) {
  const deep = await deepCursor(url, size);
  return {
    first: await timeGets(url, '/v1/gateway/groups?limit=10'),
    deep: deep ? await timeGets(url, `/v1/gateway/groups?limit=10&cursor=${encodeURIComponent(deep)}`) : NaN,
  };
}

async function footprintSection() {
  const mock = await startServer(CLI, MOCK_ARGS);
  try {
    for (let i = 0; i < 10; i++) await api(mock.url, 'POST', '/v1/gateway/groups', { metadata: { external_entity_id: `small-${i}` }, models: [{ slug: 'bench/model' }], hierarchy: ROOT });
    const small = await pageCosts(mock.url, 5);
    const before = rssBytes(mock.child.pid);
    // Each connection creates a group, then mints a key in it; 50 connections at once.
    const t0 = performance.now();
    const r = await cannon(
      {
        url: mock.url,
        amount: GROUPS * 2,
        headers: MGMT,
        requests: [
          {
            method: 'POST',
            path: '/v1/gateway/groups',
            setupRequest: (req) => ({ ...req, body: createBody('f') }),
            onResponse: (status, body, context) => {
              if (status === 200) context.groupId = JSON.parse(body).id;
            },
          },
          { method: 'POST', setupRequest: (req, context) => ({ ...req, path: `/v1/gateway/groups/${context.groupId}/api_keys`, body: '{}' }) },
        ],
      },
      300_000,
    );
    const fillSeconds = (performance.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 1_000));
    const after = rssBytes(mock.child.pid);
    const big = await pageCosts(mock.url, 1000);
    return { small, big, before, after, groups: r['2xx'] / 2, bad: r.non2xx + r.errors, fillSeconds };
  } finally {
    await stop(mock.child);
  }
}

/** A CASCADING root with 100 children of 100 children each (10,100 descendants), then PATCHes at the root. */
async function cascadeSection() {
  const mock = await startServer(CLI, MOCK_ARGS);
  try {
    const model = (t) => [{ slug: 'bench/model', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: t }] }];
    const root = await api(mock.url, 'POST', '/v1/gateway/groups', { metadata: { external_entity_id: 'root' }, models: model(1e9), hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: null } });
    let descendants = 0;
    for (let i = 0; i < 100; i++) {
      const child = await api(mock.url, 'POST', '/v1/gateway/groups', { metadata: { external_entity_id: `c${i}` }, models: model(1000), hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: root.id } });
      descendants += 1;
      const batch = Array.from({ length: 100 }, (_, j) =>
        api(mock.url, 'POST', '/v1/gateway/groups', { metadata: { external_entity_id: `c${i}-${j}` }, models: model(100), hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: child.id } }),
      );
      descendants += (await Promise.all(batch)).length;
    }
    const xs = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await api(mock.url, 'PATCH', `/v1/gateway/groups/${root.id}`, { models: model(1e9 + (i % 2)) });
      xs.push(performance.now() - t);
    }
    return { descendants, ms: median(xs) };
  } finally {
    await stop(mock.child);
  }
}

const load1 = (() => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
})();
console.log(`frontier-gateway-mock bench: ${RUNS} runs of ${DURATION} s per route and server, ${CONNECTIONS} connections, medians; pinning: ${pinned}; load average before: ${load1}\n${MOCK_BENCH_NOTE}\n`);

if (!SKIP.has('load')) {
  const rows = await loadSection();
  const head = ['Route', 'Mock req/s', 'Baseline', 'Baseline req/s', 'Ratio', 'CPU ratio', 'Target', 'Met'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.mock.rps) + (r.mock.bad ? ` (${r.mock.bad} non-2xx!)` : ''),
    r.base === undefined ? '' : r.target === 0.8 && r.name.startsWith('GET') ? 'bare Express 5' : 'Express 5 + JSON + ajv',
    fmt(r.baseline.rps) + (r.baseline.bad ? ` (${r.baseline.bad} non-2xx!)` : ''),
    fmt(r.ratio, 3),
    Number.isFinite(r.cpuRatio) ? fmt(r.cpuRatio, 3) : 'n/a',
    `>= ${fmt(r.target, 2)}`,
    r.ratio >= r.target ? 'yes' : 'no',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log([line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n'));
}

if (!SKIP.has('cold')) {
  const mock = await coldStart(CLI, MOCK_ARGS);
  const bare = await coldStart(BARE, []);
  const ratio = mock.wall / bare.wall;
  console.log(
    `\ncold start, spawn to first 200 (median of ${COLD_RUNS}): mock ${fmt(mock.wall)} ms, bare Express 5 ${fmt(bare.wall)} ms, ratio ${fmt(ratio, 2)}x (target <= 1.50x: ${ratio <= 1.5 ? 'met' : 'not met'})` +
      `; CPU time to first 200 (less sensitive to a busy machine, 10 ms ticks): mock ${fmt(mock.cpu)} ms, bare ${fmt(bare.cpu)} ms`,
  );
}

if (!SKIP.has('footprint')) {
  const f = await footprintSection();
  const mb = f.after / 2 ** 20;
  console.log(
    `\nfootprint: ${fmt(f.groups)} groups with one key each (created over HTTP in ${fmt(f.fillSeconds, 1)} s${f.bad ? `, ${f.bad} failed` : ''}): RSS ${fmt(mb)} MB ` +
      `(${fmt(f.before / 2 ** 20)} MB before), ${fmt((f.after - f.before) / Math.max(1, f.groups))} bytes per group+key (target <= 400 MB: ${mb <= 400 ? 'met' : 'not met'})`,
  );
  console.log(`page of 10 (median of 200): first page ${fmt(f.small.first, 2)} ms at 10 groups, ${fmt(f.big.first, 2)} ms at ${fmt(f.groups + 10)}; deep cursor ${fmt(f.small.deep, 2)} ms vs ${fmt(f.big.deep, 2)} ms`);
}

if (!SKIP.has('cascade')) {
  const c = await cascadeSection();
  console.log(`PATCH at the root of a CASCADING tree with ${fmt(c.descendants)} descendants (median of 30): ${fmt(c.ms, 2)} ms`);
}
