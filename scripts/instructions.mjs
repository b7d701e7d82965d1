#!/usr/bin/env node
// Instructions per request, the mock beside its baseline, under valgrind's callgrind
// (run after npm run build: node scripts/instructions.mjs [create|chat|list|one] [flags]).
// Counts, not seconds: the same build gives the same count within about 2% whatever else
// the machine is doing, where req/s on a shared VM moves by 10% (docs/performance.md).
// Each server starts under callgrind with counting off, takes --warm requests so the JIT
// has settled (fewer, and compiling dominates the count), then counts --requests; the
// mock and its baseline (bare Express 5 for reads, Express 5 + JSON + ajv for writes, as in
// npm run bench) run side by side. Counts include the garbage collector (run on the main
// thread here), not cache misses: a change that moves only memory traffic shows in the
// bench, not here. Loopback only; about 4 minutes with the defaults.
//
//   --warm=N       requests before counting (default 8000)
//   --requests=N   requests counted (default 3000)
//   --mock-only    skip the baseline
//   --help         this text
//   any other --flag is passed to the mock (e.g. --no-admin)
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MOCK_BENCH_FLAGS, MOCK_BENCH_NOTE, printUsage, routeRequests, ROUTES, setUpRoutes, whenListening } from './bench/common.mjs';

const argv = process.argv.slice(2);
if (argv.includes('--help')) printUsage(import.meta.url);
const usage = (message) => {
  console.error(`${message} (--help lists the flags)`);
  process.exit(2);
};
const number = (name, fallback) => {
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  const n = hit === undefined ? fallback : Number(hit.slice(name.length + 3));
  if (!Number.isInteger(n) || n < 1) usage(`--${name}: a whole number of requests, at least 1`);
  return n;
};
const ROUTE = argv.find((a) => !a.startsWith('--')) ?? 'create';
if (!ROUTES.includes(ROUTE)) usage(`unknown route "${ROUTE}" (${ROUTES.join(', ')})`);
const WARM = number('warm', 8000);
const REQUESTS = number('requests', 3000);
const MOCK_FLAGS = argv.filter((a) => a.startsWith('--') && !/^--(warm|requests)=/.test(a) && a !== '--mock-only');
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('valgrind is not installed (Debian: apt-get install valgrind); it counts the instructions.');
  process.exit(1);
}

// Whatever happens (a server that fails, a bad answer, Ctrl-C), no server and no temporary directory outlives this script.
const children = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');
/** Requests to a server under valgrind wait long. */
const REQUEST_TIMEOUT_MS = 60_000;

function start(args, { valgrind, env = {}, outDir } = {}) {
  const cmd = valgrind
    ? ['valgrind', ['-q', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outDir}/callgrind.%p`, process.execPath, '--single-threaded-gc', ...args]]
    : [process.execPath, args];
  const child = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  return whenListening(child, 'the server', 120_000, () => `: ${err.trim().slice(-500)}`).then((url) => ({ child, url }));
}

function load(url, setup, amount) {
  const opts = routeRequests(ROUTE, setup, 'i');
  return autocannon({ url: `${url}${opts.path}`, connections: 10, amount, timeout: 60, ...opts });
}

/** Runs one server under callgrind: warm, count, and the instructions per request. */
async function count(name, args, env) {
  const outDir = mkdtempSync(join(tmpdir(), 'fgw-instructions-'));
  tempDirs.add(outDir);
  const server = await start(args, { valgrind: true, env, outDir });
  try {
    const setup = name === 'mock' ? await setUpRoutes(server.url, REQUEST_TIMEOUT_MS) : baselineSetup;
    await load(server.url, setup, WARM);
    execFileSync('callgrind_control', ['-i', 'on', String(server.child.pid)], { stdio: 'ignore' });
    const r = await load(server.url, setup, REQUESTS);
    execFileSync('callgrind_control', ['-d', String(server.child.pid)], { stdio: 'ignore' });
    if (r.non2xx + r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx and ${r.errors} errors`);
    let total = 0;
    for (const f of readdirSync(outDir)) {
      const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(outDir, f), 'utf8'));
      if (m) total = Math.max(total, Number(m[1]));
    }
    return total / r.requests.total;
  } finally {
    server.child.kill('SIGKILL');
    rmSync(outDir, { recursive: true, force: true });
    tempDirs.delete(outDir);
  }
}

// The baseline answers the mock's own bodies, so payload sizes match (as in npm run bench).
const plain = await start([CLI, '--quiet', '--port', '0', ...MOCK_BENCH_FLAGS]);
let baselineSetup;
try {
  baselineSetup = await setUpRoutes(plain.url, REQUEST_TIMEOUT_MS);
} finally {
  plain.child.kill('SIGTERM');
}
const write = ROUTE === 'create' || ROUTE === 'chat';
const baseline = join(ROOT, write ? 'scripts/bench/express-ajv.mjs' : 'scripts/bench/bare-express.mjs');
console.log(MOCK_BENCH_NOTE);
console.log(`instructions per request, ${ROUTE}: ${WARM} requests to warm up, ${REQUESTS} counted, 10 connections, under callgrind`);
const [mock, base] = await Promise.all([
  count('mock', [CLI, '--quiet', '--port', '0', ...MOCK_BENCH_FLAGS, ...MOCK_FLAGS]),
  argv.includes('--mock-only') ? Promise.resolve(NaN) : count('baseline', [baseline], { BENCH_FIXED_JSON: JSON.stringify(baselineSetup.fixed) }),
]).catch((e) => {
  console.error(`instructions: ${e.message}`);
  process.exit(1);
});
const k = (x) => `${(x / 1000).toFixed(0)} k`;
console.log(`mock${MOCK_FLAGS.length ? ` (${MOCK_FLAGS.join(' ')})` : ''}: ${k(mock)} instructions per request`);
if (Number.isFinite(base)) {
  console.log(`${write ? 'Express 5 + JSON + ajv' : 'bare Express 5'}: ${k(base)} instructions per request`);
  console.log(`ratio (baseline / mock, as the bench's): ${(base / mock).toFixed(3)}`);
}
