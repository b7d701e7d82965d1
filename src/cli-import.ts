import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isHttpUrl } from './config.js';
import { strictFlags, UsageError } from './cli-options.js';
import { systemClock, type Clock } from './domain/clock.js';
import { DEFAULT_PAGE_SIZE, DEFAULT_PER_ROUTE_PER_SECOND, displayUrl, fetchWorkspace, ImportError, type FetchWorkspaceOptions } from './import/fetch-workspace.js';
import { count, DEFAULT_IMPORT_WORKSPACE, scenarioFromWorkspace, scenarioYaml } from './import/workspace-scenario.js';
import { ScenarioError } from './service/scenarios/errors.js';

/**
 * `frontier-gateway-mock import`: a live workspace (or another mock) read with read-only
 * calls and written as a scenario file the mock loads (src/import/). The fresh secrets
 * are printed once, here, and kept in the file; the API key is never written or printed.
 */

export const DEFAULT_IMPORT_FILE = 'imported-scenario.yaml';

export const IMPORT_HELP = `frontier-gateway-mock import: bring a workspace's groups, endpoints and keys home as a scenario

Usage: frontier-gateway-mock import --base-url URL --api-key KEY [options]
       npx frontier-gateway-mock import --base-url https://api.baseten.co --api-key "$BASETEN_API_KEY"

  --base-url URL         the management API [FGW_BASE_URL]
  --api-key KEY          a workspace key with management scope (the docs name view scope
                         for listing groups only) [FGW_API_KEY]
  --out FILE             the scenario file to write (default ./${DEFAULT_IMPORT_FILE})
  --force                overwrite FILE if it exists (refused otherwise)
  --workspace-name ID    the workspace id in the scenario (default ${DEFAULT_IMPORT_WORKSPACE})
  --page-size N          items per list page, 1 to 1000 (default ${DEFAULT_PAGE_SIZE})
  --max-rate N           requests per second on one route, 1 to 100 (default ${DEFAULT_PER_ROUTE_PER_SECOND};
                         the documented limit is 100 per key and per route)
  -h, --help             this help

Only reads: list groups, list endpoints, list each group's keys, following every cursor.
A 429 is waited out (its retry_after, up to 5 times a request). Key secrets cannot be read
back: each imported key keeps its prefix and name and gets a fresh local secret, and the
workspace gets a fresh management key; they are kept in FILE (share it with your team) and
printed once here. Usage already counted and workspace settings the API does not show are
listed as warnings. Then:  npx frontier-gateway-mock --scenario FILE
Exit status: 0 written, 1 the import failed (nothing written), 2 a usage error.
`;

export interface ImportArgs {
  baseUrl: string;
  apiKey: string;
  /** Absolute. */
  out: string;
  force: boolean;
  workspace: string;
  pageSize: number;
  perRoutePerSecond: number;
}

/** Flags and environment -> what to import; pure. */
export function parseImportCli(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ImportArgs | 'help' {
  const values = strictFlags(argv, {
    'base-url': { type: 'string' },
    'api-key': { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    'workspace-name': { type: 'string' },
    'page-size': { type: 'string' },
    'max-rate': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const baseUrl = values['base-url'] ?? env.FGW_BASE_URL;
  const apiKey = values['api-key'] ?? env.FGW_API_KEY;
  if (!baseUrl) throw new UsageError('--base-url is required (or FGW_BASE_URL)');
  if (!isHttpUrl(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL, not "${baseUrl}"`);
  if (!apiKey) throw new UsageError('--api-key is required (or FGW_API_KEY)');
  if (values.out === '') throw new UsageError('--out must name a file');
  const workspace = values['workspace-name'] ?? DEFAULT_IMPORT_WORKSPACE;
  if (!/^\S{1,255}$/.test(workspace)) throw new UsageError(`--workspace-name must be 1 to 255 characters without spaces, not "${workspace}"`);
  return {
    baseUrl,
    apiKey,
    out: resolve(cwd, values.out ?? DEFAULT_IMPORT_FILE),
    force: values.force === true,
    workspace,
    pageSize: intFlag(values['page-size'], '--page-size', 1, 1000, DEFAULT_PAGE_SIZE),
    perRoutePerSecond: intFlag(values['max-rate'], '--max-rate', 1, 100, DEFAULT_PER_ROUTE_PER_SECOND),
  };
}

function intFlag(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not "${value}"`);
  return n;
}

export interface ImportIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The wall clock, for the file's header. */
  clock?: Clock;
  /** Passed to fetchWorkspace (tests: a short wait). */
  fetchOptions?: Partial<FetchWorkspaceOptions>;
}

/** The command; resolves with its exit status. */
export async function importMain(argv: string[], io: ImportIo): Promise<number> {
  let args: ImportArgs | 'help';
  try {
    args = parseImportCli(argv, io.env ?? process.env, io.cwd ?? process.cwd());
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`frontier-gateway-mock import: ${e.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (args === 'help') {
    io.stdout(IMPORT_HELP);
    return 0;
  }
  const fail = (message: string) => {
    io.stderr(`frontier-gateway-mock import: ${message}\n`);
    return 1;
  };
  if (!args.force && existsSync(args.out)) return fail(`${args.out} exists; pass --force to overwrite it (nothing was read)`);
  const source = displayUrl(args.baseUrl);
  try {
    const fetched = await fetchWorkspace({ baseUrl: args.baseUrl, apiKey: args.apiKey, pageSize: args.pageSize, perRoutePerSecond: args.perRoutePerSecond, ...io.fetchOptions });
    const result = scenarioFromWorkspace(fetched.workspace, { workspace: args.workspace, description: `Workspace imported from ${source}.` });
    const text = scenarioYaml(result, { source, at: (io.clock ?? systemClock).now() });
    try {
      // wx: a file that appeared meanwhile is still not overwritten.
      writeFileSync(args.out, text, { flag: args.force ? 'w' : 'wx' });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return fail(err.code === 'EEXIST' ? `${args.out} exists; pass --force to overwrite it` : `cannot write ${args.out}: ${err.message}`);
    }
    const s = result.scenario;
    const lines = [
      `Imported from ${source}: ${count(s.groups?.length ?? 0, 'group')}, ${count(s.endpoints?.length ?? 0, 'endpoint')}, ${count(result.secrets.length, 'key')} (${count(fetched.requests, 'request')}${fetched.waits ? `, ${count(fetched.waits, 'wait')} after a 429` : ''}).`,
      `Wrote ${args.out} (workspace ${args.workspace}).`,
      '',
      `Warnings (${result.warnings.length}):`,
      ...result.warnings.map((w) => `  - ${w}`),
      '',
      'Fresh secrets, shown once here and kept in the file (they work only on a mock loaded with it):',
      `  management key (workspace ${args.workspace}): ${result.managementKey}`,
      ...result.secrets.map((k) => `  ${k.key}   group ${k.group}${k.name === null ? '' : `, key ${JSON.stringify(k.name)}`}`),
      '',
      `Start a mock with it:  npx frontier-gateway-mock --scenario ${args.out}`,
      '',
    ];
    io.stdout(lines.join('\n'));
    return 0;
  } catch (e) {
    if (e instanceof ImportError) return fail(e.message);
    if (e instanceof ScenarioError) return fail(`what was read does not make a valid scenario (nothing written):\n${e.problems.map((p) => `  - ${p}`).join('\n')}`);
    throw e;
  }
}
