#!/usr/bin/env node
// Build step run by `npm run build` last: makes dist/cli.js, the command-line server, one
// file of the mock's own code instead of some fifty ES modules, which Node's ES module
// loader resolves, reads and links one by one at every start (about 15 ms of a ~200 ms cold
// start). Dependencies (express, ajv, yaml, ...) stay external and load from node_modules
// as they are; code the CLI imports only on demand (scenarios, run-time spec compilation)
// goes to dist/chunks/. The library entry points (dist/index.js, dist/testing.js) stay
// unbundled. Paths to the package's files come from src/paths.ts, which sits at the same
// depth as dist/cli.js, so they mean the same bundled or not.
import { rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const OUT = `${DIST}.bundle/`;
await rm(OUT, { recursive: true, force: true });
await build({
  input: `${DIST}cli.js`,
  platform: 'node',
  // Bare specifiers (packages, node: built-ins) are imported at run time as usual.
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
  logLevel: 'warn',
  onLog(level, log, handler) {
    // compiled-spec.ts imports spec.ts both ways on purpose (types, and its loader on demand).
    if (log.code === 'INEFFECTIVE_DYNAMIC_IMPORT') return;
    handler(level, log);
  },
  output: { dir: OUT, format: 'esm', chunkFileNames: 'chunks/[name]-[hash].js', sourcemap: true },
});
await rm(`${DIST}chunks`, { recursive: true, force: true });
await rename(`${OUT}chunks`, `${DIST}chunks`).catch((e) => {
  if (e.code !== 'ENOENT') throw e;
});
await rename(`${OUT}cli.js`, `${DIST}cli.js`);
await rename(`${OUT}cli.js.map`, `${DIST}cli.js.map`);
await rm(OUT, { recursive: true, force: true });
console.log(`bundle: ${DIST}cli.js (the mock's own code in one file; dependencies external)`);
