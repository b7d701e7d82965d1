#!/usr/bin/env node
// `npm run fuzz`: the property and fuzz tests of test/fuzz/ with many more runs than
// `npm test` gives them, then their figures: requests sent, statuses seen, invariants
// checked, time. FUZZ_RUNS overrides the number of runs per property (default 400).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = process.env.FUZZ_RUNS ?? '400';
const figures = join(mkdtempSync(join(tmpdir(), 'fgw-fuzz-')), 'figures.jsonl');
const started = performance.now();
const result = spawnSync('npx', ['vitest', 'run', 'test/fuzz', '--testTimeout', '3600000', '--hookTimeout', '600000'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: runs, FUZZ_FIGURES: figures },
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);
const lines = existsSync(figures) ? readFileSync(figures, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
let requests = 0;
let invariants = 0;
const statuses = {};
for (const f of lines) {
  requests += f.requests;
  invariants += f.invariants;
  for (const [s, n] of Object.entries(f.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
  console.log(`${f.name.padEnd(12)} requests ${String(f.requests).padStart(7)}  invariants checked ${String(f.invariants).padStart(7)}`);
}
console.log(`\nfuzz: ${runs} runs per property, ${requests} requests, ${invariants} invariants checked, ${seconds} s`);
console.log(`statuses: ${Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join('  ')}`);
console.log(result.status === 0 ? 'no 5xx, no broken invariant' : 'FAILED: see the counterexample above');
process.exit(result.status ?? 1);
