#!/usr/bin/env node
// `npm start`: run the built server at once, compiling first only when the build is
// stale (a file under src/ or a tsconfig is newer than dist/cli.js, or dist/ is missing).
// The server runs in this process, not a child. npm runs the script through a shell
// (dash on Debian, cmd.exe on Windows) that does not pass a signal on: killing npm kills
// that shell and leaves this process running on the port. So the launcher watches its
// parent and stops the server (with its usual goodbye) when the parent is gone.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli.js');

/** Newest modification time under `path` (a file or a directory), 0 when it does not exist. */
function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

function oldestBuildTime() {
  try {
    return statSync(entry).mtimeMs;
  } catch {
    return -1;
  }
}

const sources = Math.max(newest(join(root, 'src')), newest(join(root, 'tsconfig.json')), newest(join(root, 'tsconfig.build.json')));
if (oldestBuildTime() < sources) {
  process.stderr.write('frontier-gateway-mock: sources changed since the last build; compiling (npm run build)...\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
// The spec compiled at build time (dist/generated); without it the server still starts, compiling the spec itself, only slower.
if (newest(join(root, 'dist', 'generated', 'spec.json')) < Math.max(oldestBuildTime(), newest(join(root, 'openapi')))) {
  const spec = spawnSync(process.execPath, [join(root, 'scripts', 'build-spec.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (spec.status !== 0) process.exit(spec.status ?? 1);
}
const parent = process.ppid;
await import(pathToFileURL(entry).href);
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 250).unref();
