import { existsSync, readFileSync } from 'node:fs';
import { strictFlags } from './cli-options.js';
import { systemClock } from './domain/clock.js';

/**
 * `frontier-gateway-mock wait`: blocks until a mock started in the background answers its
 * health route, so a CI step can start the mock, wait, then run the tests, without a
 * hand-written curl loop. The mock is named by `--url`, or by the `--port-file` it was
 * started with (the file appears once it listens).
 */

export const WAIT_HELP = `frontier-gateway-mock wait: wait until a running mock is ready

Usage: frontier-gateway-mock wait (--url URL | --port-file PATH) [--timeout SECONDS]

  --url URL          the mock's base URL, e.g. http://127.0.0.1:4010
  --port-file PATH   the file the mock was started with (--port-file): its port, on 127.0.0.1
  --host ADDR        with --port-file, the address the mock listens on (default 127.0.0.1)
  --timeout S        give up after S seconds (default 30): exit 1
  --quiet            print nothing on success (default: the URL, on standard output)

Polls GET /_mock/health every 100 ms. Exits 0 with the base URL on standard output once it
answers 200 (so FGW_BASE_URL=$(frontier-gateway-mock wait --port-file .fgw-port) works),
1 on time-out or a failing health (503: the state file cannot be written), 2 on bad flags.
`;

export interface WaitOptions {
  url?: string;
  portFile?: string;
  host: string;
  timeoutMs: number;
  quiet: boolean;
}

export class WaitUsageError extends Error {}

export function parseWaitArgs(argv: string[]): WaitOptions | 'help' {
  const values = strictFlags(
    argv,
    {
      url: { type: 'string' },
      'port-file': { type: 'string' },
      host: { type: 'string' },
      timeout: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    (m) => new WaitUsageError(m),
  );
  if (values.help) return 'help';
  if ((values.url === undefined) === (values['port-file'] === undefined)) throw new WaitUsageError('give exactly one of --url or --port-file');
  const seconds = Number(values.timeout ?? '30');
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new WaitUsageError(`--timeout must be a number of seconds from 0 to 3600, not "${values.timeout}"`);
  if (values.url !== undefined && !/^https?:\/\/[^/]+/.test(values.url)) throw new WaitUsageError(`--url must be an http(s) URL, not "${values.url}"`);
  return {
    ...(values.url !== undefined ? { url: values.url.replace(/\/+$/, '') } : {}),
    ...(values['port-file'] !== undefined ? { portFile: values['port-file'] } : {}),
    host: values.host ?? '127.0.0.1',
    timeoutMs: seconds * 1000,
    quiet: values.quiet === true,
  };
}

/** Resolves with the base URL once /_mock/health answers 200; rejects with a one-line reason at the deadline. */
export async function waitForMock(options: WaitOptions, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<string> {
  const deadline = systemClock.now() + options.timeoutMs;
  let last = options.portFile !== undefined ? `${options.portFile} does not exist yet` : 'no answer yet';
  while (systemClock.now() < deadline) {
    const url = options.url ?? urlFromPortFile(options.portFile as string, options.host);
    if (url !== undefined) {
      try {
        const res = await fetch(`${url}/_mock/health`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return url;
        const body = (await res.json().catch(() => null)) as { state_file?: { error?: string | null } | null } | null;
        last = `${url}/_mock/health answered ${res.status}${body?.state_file?.error ? ` (state file: ${body.state_file.error})` : ''}`;
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        last = `${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`;
      }
    }
    await sleep(100);
  }
  throw new Error(`the mock was not ready within ${options.timeoutMs / 1000} s: ${last}`);
}

function urlFromPortFile(path: string, host: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const port = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isInteger(port) || port <= 0) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
