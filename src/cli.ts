#!/usr/bin/env node
import { renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from './config.js';
import { banner, bannerJson, HELP, parseCli, UsageError } from './cli-options.js';
import { parseWaitArgs, WAIT_HELP, waitForMock } from './cli-wait.js';
import { RegistryMismatchError } from './http/registry.js';
import { PACKAGE_VERSION } from './paths.js';
import { startMock } from './index.js';

async function main(): Promise<void> {
  if (process.argv[2] === 'wait') return waitCommand(process.argv.slice(3));
  if (process.argv[2] === 'conformance') {
    // Loaded on demand: the server never needs vitest.
    const { conformanceMain } = await import('./cli-conformance.js');
    process.exit(await conformanceMain(process.argv.slice(3)));
  }
  if (process.argv[2] === 'proxy') {
    const { proxyMain } = await import('./proxy/cli.js');
    process.exit(await proxyMain(process.argv.slice(3)));
  }
  if (process.argv[2] === 'import') {
    // Loaded on demand, like conformance.
    const { importMain } = await import('./cli-import.js');
    process.exit(await importMain(process.argv.slice(3), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }));
  }
  let parsed;
  try {
    parsed = parseCli(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`frontier-gateway-mock: ${e.message}\nRun with --help for the options.\n`);
      process.exit(2);
    }
    throw e;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (parsed === 'version') {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return;
  }
  const { options, quiet, portFile } = parsed;
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const json = options.logFormat === 'json';
  // Under --log-format json every line on both streams is one JSON object.
  let clockNow: (() => number) | undefined;
  const logError = (line: string) =>
    process.stderr.write(`${json ? JSON.stringify({ time: clockNow ? new Date(clockNow()).toISOString() : null, level: 'error', message: line }) : line}\n`);
  try {
    const running = await startMock({ ...options, logError, ...(quiet ? {} : { log }) });
    clockNow = () => running.mock.clock.now();
    const now = new Date(running.mock.clock.now()).toISOString();
    log(json ? bannerJson(running.url, options, running.mock.config, now, quiet, running.mock) : banner(running.url, options, running.mock.config, quiet, running.mock));
    if (portFile !== undefined) {
      // Written whole, then renamed: a reader polling for the file never sees it half written.
      writeFileSync(`${portFile}.tmp`, `${running.port}\n`);
      renameSync(`${portFile}.tmp`, portFile);
    }
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      void running.close().then(() => {
        const message = `frontier-gateway-mock stopped (${signal}); ${running.url} is free.`;
        process.stderr.write(`${json ? JSON.stringify({ time: new Date(running.mock.clock.now()).toISOString(), level: 'info', message }) : message}\n`);
        process.exit(0);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      process.stderr.write(`frontier-gateway-mock: ${options.host}:${options.port} is already in use; pick another with --port.\n`);
    } else if (err instanceof RegistryMismatchError) {
      process.stderr.write(`frontier-gateway-mock: cannot start.\n${err.message}\n`);
    } else {
      process.stderr.write(`frontier-gateway-mock: cannot start: ${err.message}\n`);
    }
    process.exit(1);
  }
}

/** `frontier-gateway-mock wait ...` (src/cli-wait.ts). */
async function waitCommand(argv: string[]): Promise<void> {
  let options;
  try {
    options = parseWaitArgs(argv);
  } catch (e) {
    process.stderr.write(`frontier-gateway-mock wait: ${(e as Error).message}\nRun with --help for the options.\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(WAIT_HELP);
    return;
  }
  try {
    const url = await waitForMock(options);
    if (!options.quiet) process.stdout.write(`${url}\n`);
  } catch (e) {
    process.stderr.write(`frontier-gateway-mock wait: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

void main();
