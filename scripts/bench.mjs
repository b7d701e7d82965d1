#!/usr/bin/env node
// Benchmark figures for frontier-gateway-mock (run: npm run bench). Prints numbers; asserts
// nothing. The server runs as its own process (node dist/cli.js) and this script is the
// client, over loopback only; every loop is bounded in count and time.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const MGMT = { Authorization: 'Api-Key mock-management-key', 'Content-Type': 'application/json' };

function startServer() {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ child, url: m[1], t0 });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

const stop = (child) => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM')));
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => `${x.toFixed(2)} ms`;

async function coldStart(runs = 5) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const { child, url, t0 } = await startServer();
    const res = await fetch(`${url}/v1/gateway/groups`, { headers: MGMT });
    if (res.status !== 200) throw new Error(`first request: ${res.status}`);
    times.push(performance.now() - t0);
    await stop(child);
  }
  return times;
}

async function setupKey(url, models) {
  const g = await (await fetch(`${url}/v1/gateway/groups`, { method: 'POST', headers: MGMT, body: JSON.stringify({ metadata: { external_entity_id: `bench-${Math.random()}` }, models }) })).json();
  const k = await (await fetch(`${url}/v1/gateway/groups/${g.id}/api_keys`, { method: 'POST', headers: MGMT, body: '{}' })).json();
  return k.api_key;
}

async function latency(url, n = 500) {
  const key = await setupKey(url, [{ slug: 'bench/model', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1e12 }], usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 1e12 }] }]);
  const chatBody = JSON.stringify({ model: 'bench/model', messages: [{ role: 'user', content: 'Hello, world! How are you today?' }] });
  const chat = () => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Api-Key ${key}`, 'Content-Type': 'application/json' }, body: chatBody }).then((r) => r.arrayBuffer());
  const trivial = () => fetch(`${url}/_mock/clock`).then((r) => r.arrayBuffer());
  for (let i = 0; i < 50; i++) await chat();
  const measure = async (fn) => {
    const xs = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn();
      xs.push(performance.now() - t);
    }
    return xs;
  };
  return { chat: await measure(chat), trivial: await measure(trivial), key, chatBody };
}

async function throughput(url, key, chatBody, seconds = 5, concurrency = 32) {
  let done = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Api-Key ${key}`, 'Content-Type': 'application/json' }, body: chatBody });
      await r.arrayBuffer();
      if (r.status === 200) done += 1;
      else errors += 1;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { rps: done / ((performance.now() - t0) / 1000), errors };
}

async function pageCost(url) {
  const rows = [];
  let created = 0;
  for (const size of [1_000, 20_000]) {
    while (created < size) {
      const batch = Array.from({ length: Math.min(200, size - created) }, () => {
        created += 1;
        return fetch(`${url}/v1/gateway/groups`, { method: 'POST', headers: MGMT, body: JSON.stringify({ metadata: { external_entity_id: `p-${created}` }, models: [{ slug: 'bench/model' }] }) }).then((r) => r.arrayBuffer());
      });
      await Promise.all(batch);
    }
    // A cursor deep in the table: walk pages of 1000 to the last one and keep the cursor before it.
    let cursor;
    let next;
    do {
      const page = await (await fetch(`${url}/v1/gateway/groups?limit=1000${next ? `&cursor=${next}` : ''}`, { headers: MGMT })).json();
      if (page.pagination.has_more) cursor = page.pagination.cursor;
      next = page.pagination.cursor;
    } while (next);
    const xs = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await (await fetch(`${url}/v1/gateway/groups?limit=10&cursor=${cursor}`, { headers: MGMT })).arrayBuffer();
      xs.push(performance.now() - t);
    }
    rows.push([size, pct(xs, 50)]);
  }
  return rows;
}

const cold = await coldStart();
console.log(`cold start to first answered request (spawn node dist/cli.js, ${cold.length} runs): median ${ms(pct(cold, 50))}, max ${ms(Math.max(...cold))}`);

const { child, url } = await startServer();
try {
  const { chat, trivial, key, chatBody } = await latency(url);
  console.log(`non-streaming completion, sequential (${chat.length}): p50 ${ms(pct(chat, 50))}, p95 ${ms(pct(chat, 95))}`);
  console.log(`trivial route GET /_mock/clock (${trivial.length}): p50 ${ms(pct(trivial, 50))}, p95 ${ms(pct(trivial, 95))}`);
  console.log(`added latency of a completion over the trivial route: p50 ${ms(pct(chat, 50) - pct(trivial, 50))}`);
  const tp = await throughput(url, key, chatBody);
  console.log(`throughput, 32 concurrent clients for 5 s, one server process: ${tp.rps.toFixed(0)} completions/s (${tp.errors} non-200)`);
  for (const [size, p50] of await pageCost(url)) console.log(`list page of 10 deep in a table of ${size} groups: p50 ${ms(p50)}`);
} finally {
  await stop(child);
}
