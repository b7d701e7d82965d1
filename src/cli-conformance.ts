import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, isHttpUrl, type MockConfig } from './config.js';
import { compareReports, renderComparisonText, renderHtml, type ConformanceReport } from './conformance-report.js';
import { subcommandArgs, UsageError } from './cli-options.js';
import { systemClock } from './domain/clock.js';
import { PACKAGE_ROOT } from './paths.js';

/**
 * `frontier-gateway-mock conformance`: the conformance suite (test/conformance/, shipped
 * in the package) run by vitest from the installed package, against a live deployment, a
 * separately started mock, or an in-process mock when no target is given. Flags map onto
 * the suite's FGW_* variables. A preflight checks the target before anything runs;
 * --min-coverage fails a run that exercised too few documented rules; --compare-with-mock
 * runs the suite a second time against an in-process mock with the same options and lists
 * every rule that came out differently.
 */

export const CONFORMANCE_HELP = `frontier-gateway-mock conformance: check a Frontier Gateway deployment (or this mock)
against every documented rule and the OpenAPI document

Usage: frontier-gateway-mock conformance [options] [file filter...]
       npx frontier-gateway-mock conformance --base-url https://api.baseten.co --api-key "$BASETEN_API_KEY"

Without --base-url (or FGW_BASE_URL) the suite runs against an in-process mock.
A file filter runs only the matching files of the suite (e.g. auth inference).

Target (each flag sets the variable in brackets, which may be set instead)
  --base-url URL               the management API [FGW_BASE_URL]
  --api-key KEY                a management-scope workspace key [FGW_API_KEY]
  --inference-base-url URL     inference base URL, with or without /v1 (default: --base-url)
                               [FGW_INFERENCE_BASE_URL]
  --model-slug SLUG[,SLUG]     a slug the workspace serves, or two: enables the inference
                               rules [FGW_MODEL_SLUG]
  --view-key KEY               a view-scope key [FGW_VIEW_KEY]
  --other-workspace-key KEY    a key of another workspace [FGW_OTHER_WORKSPACE_KEY]
  --not-onboarded-key KEY      a key of a workspace not onboarded [FGW_NOT_ONBOARDED_KEY]
  --capabilities LIST          mock-admin: the target is a frontier-gateway-mock with its
                               /_mock/ routes (clock, webhook inbox; its own choices are
                               asserted too) [FGW_CAPABILITIES]
  --webhook-secret S           the webhook signing secret [FGW_WEBHOOK_SECRET]
  --endpoint-prefix P          an org prefix the workspace owns [FGW_ENDPOINT_PREFIX]
  --endpoint-target JSON       one endpoint target, e.g. {"provider":"BASETEN","model_id":"abc123"}
                               (with --endpoint-prefix: enables the endpoint rules) [FGW_ENDPOINT_TARGET]
  --register-private-key PEM   the workspace's Ed25519 registration key, PEM text or a file
                               [FGW_REGISTER_PRIVATE_KEY]

Run and reports
  --dry-run                    print the plan (what would run, what would be skipped and
                               why), contacting nothing [FGW_DRY_RUN=1]
  --reports DIR                where the reports go (default ./reports): conformance.junit.xml,
                               conformance.json (with the coverage figure), conformance.html
  --min-coverage N             fail (exit 1) when fewer than N % of the documented rules were
                               exercised on this target (skipped ones do not count)
  --compare-with-mock          run the suite against the target, then against an in-process
                               mock with the same options, and list every rule whose status
                               or observations differ (conformance-compare.json, and a
                               section of conformance.html)
  -h, --help                   this help

Before running, a preflight lists groups once with the key: a target that cannot be
reached, a refused key or a workspace not onboarded stops the run with one line (exit 2).
Exit status: 0 every rule passed, 1 a rule failed or coverage is below --min-coverage,
2 a usage error or a failed preflight.

Examples
  npx frontier-gateway-mock conformance                         # against an in-process mock
  npx frontier-gateway-mock conformance --base-url http://127.0.0.1:4010 --api-key mock-management-key \\
      --view-key mock-view-key --capabilities mock-admin         # against npm start
  npx frontier-gateway-mock conformance --base-url https://api.baseten.co --api-key "$BASETEN_API_KEY" \\
      --inference-base-url https://inference.baseten.co --model-slug your-org/your-model \\
      --min-coverage 60 --compare-with-mock
`;

/** Flag -> the suite's variable. */
const TARGET_FLAGS = {
  'base-url': 'FGW_BASE_URL',
  'api-key': 'FGW_API_KEY',
  'inference-base-url': 'FGW_INFERENCE_BASE_URL',
  'model-slug': 'FGW_MODEL_SLUG',
  'view-key': 'FGW_VIEW_KEY',
  'other-workspace-key': 'FGW_OTHER_WORKSPACE_KEY',
  'not-onboarded-key': 'FGW_NOT_ONBOARDED_KEY',
  capabilities: 'FGW_CAPABILITIES',
  'webhook-secret': 'FGW_WEBHOOK_SECRET',
  'endpoint-prefix': 'FGW_ENDPOINT_PREFIX',
  'endpoint-target': 'FGW_ENDPOINT_TARGET',
  'register-private-key': 'FGW_REGISTER_PRIVATE_KEY',
} as const;

export interface ConformanceArgs {
  /** The suite's variables for the target: the environment's FGW_* overridden by flags. */
  env: Record<string, string>;
  /** Absolute. */
  reportsDir: string;
  minCoverage?: number;
  compareWithMock: boolean;
  dryRun: boolean;
  filters: string[];
}

/** Flags and environment -> what to run; pure, so it is unit-tested without a process. */
export function parseConformanceCli(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ConformanceArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        ...(Object.fromEntries(Object.keys(TARGET_FLAGS).map((k) => [k, { type: 'string' }])) as Record<keyof typeof TARGET_FLAGS, { type: 'string' }>),
        'dry-run': { type: 'boolean' },
        reports: { type: 'string' },
        'min-coverage': { type: 'string' },
        'compare-with-mock': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (name.startsWith('FGW_') && value !== undefined && value !== '') out[name] = value;
  for (const [flag, name] of Object.entries(TARGET_FLAGS)) {
    const v = values[flag as keyof typeof TARGET_FLAGS];
    if (v === '') throw new UsageError(`--${flag} must not be empty`);
    if (v !== undefined) out[name] = v;
  }
  const dryRun = values['dry-run'] === true || /^(1|true|yes)$/i.test(out.FGW_DRY_RUN ?? '');
  if (dryRun) out.FGW_DRY_RUN = '1';
  else delete out.FGW_DRY_RUN;
  for (const name of ['FGW_BASE_URL', 'FGW_INFERENCE_BASE_URL'] as const) {
    const v = out[name];
    if (v !== undefined && !isHttpUrl(v)) throw new UsageError(`${name === 'FGW_BASE_URL' ? '--base-url' : '--inference-base-url'} must be an http(s) URL, not "${v}"`);
  }
  if (out.FGW_BASE_URL && !out.FGW_API_KEY) throw new UsageError('--base-url needs --api-key (a management-scope workspace key), or FGW_API_KEY');
  if (!out.FGW_BASE_URL && out.FGW_API_KEY && values['api-key'] !== undefined) throw new UsageError('--api-key needs --base-url: without one the suite runs against an in-process mock with its own keys');
  for (const c of (out.FGW_CAPABILITIES ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (c !== 'mock-admin') throw new UsageError(`--capabilities: unknown capability "${c}" (known: mock-admin)`);
  }
  if (out.FGW_ENDPOINT_TARGET !== undefined) {
    try {
      JSON.parse(out.FGW_ENDPOINT_TARGET);
    } catch (e) {
      throw new UsageError(`--endpoint-target must be one target as JSON: ${(e as Error).message}`);
    }
  }
  let minCoverage: number | undefined;
  if (values['min-coverage'] !== undefined) {
    const n = Number(values['min-coverage'].replace(/%$/, ''));
    if (!/^\d+(\.\d+)?%?$/.test(values['min-coverage']) || n > 100) throw new UsageError(`--min-coverage must be a percentage from 0 to 100, not "${values['min-coverage']}"`);
    minCoverage = n;
  }
  const compareWithMock = values['compare-with-mock'] === true;
  if (compareWithMock && !out.FGW_BASE_URL) throw new UsageError('--compare-with-mock compares a target with the mock: give the target with --base-url and --api-key');
  if (compareWithMock && dryRun) throw new UsageError('--compare-with-mock and --dry-run do not go together: a plan contacts nothing to compare');
  const reports = values.reports ?? 'reports';
  if (reports === '') throw new UsageError('--reports must name a directory');
  return {
    env: out,
    reportsDir: isAbsolute(reports) ? reports : resolve(cwd, reports),
    ...(minCoverage !== undefined ? { minCoverage } : {}),
    compareWithMock,
    dryRun,
    filters: positionals,
  };
}

export type Fetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ status: number; text(): Promise<string> }>;

/**
 * One request before the run: list groups with the key. Returns the one line that says
 * what is wrong with the target, or undefined when it looks like an onboarded Frontier
 * Gateway workspace that accepts the key.
 */
export async function preflight(baseUrl: string, apiKey: string, options: { fetch?: Fetch; timeoutMs?: number } = {}): Promise<string | undefined> {
  const doFetch: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/gateway/groups?limit=1`;
  const timeoutMs = options.timeoutMs ?? 15_000;
  let res;
  try {
    res = await doFetch(url, { headers: { Authorization: `Api-Key ${apiKey}`, Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const code = err.cause?.code ?? (err as NodeJS.ErrnoException).code;
    const host = new URL(baseUrl).host;
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return `${baseUrl} did not answer within ${timeoutMs / 1000} s: check --base-url and that the target is up`;
    if (code === 'ECONNREFUSED') return `cannot reach ${baseUrl}: connection refused (nothing listens at ${host}); check --base-url, or start the mock first`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach ${baseUrl}: the host ${new URL(baseUrl).hostname} was not found (${code}); check --base-url`;
    if (/bad port/i.test(err.cause?.message ?? '')) return `cannot reach ${baseUrl}: port ${new URL(baseUrl).port} is one fetch refuses to contact; check --base-url`;
    if (code === 'ECONNRESET' || code === 'EPIPE') return `cannot reach ${baseUrl}: the connection was reset (${code}); is it an http:// server behind an https:// URL, or the reverse?`;
    return `cannot reach ${baseUrl}: ${code ?? err.cause?.message ?? err.message}; check --base-url`;
  }
  const body = await res.text().catch(() => '');
  const said = body ? `: ${body.replace(/\s+/g, ' ').slice(0, 160)}` : '';
  if (res.status === 200) {
    try {
      const json = JSON.parse(body) as { items?: unknown };
      if (Array.isArray(json.items)) return undefined;
    } catch {
      // not JSON: said below
    }
    return `${url} answered 200 but not with a list of groups: is --base-url the management API (e.g. https://api.baseten.co)?`;
  }
  if (res.status === 429) return undefined; // reachable, key accepted, and rate-limited: the suite waits such limits out
  if (res.status === 401) return `the target refused the API key (401${said}); check --api-key: a workspace API key with management scope`;
  if (res.status === 403) return `the target answered 403 to listing groups${said}: the key's workspace is not onboarded to Frontier Gateway, or the key lacks view scope; check --api-key`;
  if (res.status === 404) return `${url} answered 404: no Frontier Gateway management API there; check --base-url (e.g. https://api.baseten.co)`;
  return `${url} answered ${res.status}${said}; check --base-url and the target's health`;
}

/** The raw 32-byte Ed25519 public key, base64, of a PEM private key (text or file). */
function publicKeyOf(pemOrPath: string): string {
  const pem = existsSync(pemOrPath) ? readFileSync(pemOrPath, 'utf8') : pemOrPath;
  return createPublicKey(createPrivateKey(pem)).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
}

const say = (line: string) => process.stderr.write(`frontier-gateway-mock conformance: ${line}\n`);

interface SuiteOutcome {
  failed: boolean;
  report: ConformanceReport | undefined;
}

/** Runs the packaged suite once with `env` as its only FGW_* variables; reports go to `reportsDir`. */
async function runOnce(root: string, env: Record<string, string>, reportsDir: string, filters: string[]): Promise<SuiteOutcome> {
  let vitestNode: typeof import('vitest/node');
  try {
    vitestNode = await import('vitest/node');
  } catch (e) {
    throw new SetupError(`cannot load vitest, which runs the suite (${(e as Error).message.split('\n')[0]}); install it next to frontier-gateway-mock: npm install --save-dev vitest`);
  }
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('FGW_')) delete process.env[name];
  Object.assign(process.env, env, { FGW_REPORTS_DIR: reportsDir });
  process.exitCode = 0;
  mkdirSync(reportsDir, { recursive: true });
  const jsonFile = join(reportsDir, 'conformance.json');
  const startedAt = systemClock.now();
  try {
    const vitest = await vitestNode.startVitest('test', filters, { config: join(root, 'vitest.conformance.config.ts'), root, run: true, watch: false });
    await vitest.close();
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
  const failed = process.exitCode !== 0 && process.exitCode !== undefined;
  process.exitCode = 0;
  let report: ConformanceReport | undefined;
  try {
    const parsed = JSON.parse(readFileSync(jsonFile, 'utf8')) as ConformanceReport & { startTime?: number };
    // A report left by an earlier run is not this run's.
    if (parsed.rules && (parsed.startTime ?? 0) >= startedAt - 1000) report = parsed;
  } catch {
    report = undefined;
  }
  return { failed, report };
}

class SetupError extends Error {}

/** The same options against an in-process mock: its keys where the target had keys, the same slugs and capabilities. */
function mockEnvFor(target: Record<string, string>, url: string): Record<string, string> {
  const env: Record<string, string> = { FGW_BASE_URL: url, FGW_API_KEY: 'mock-management-key' };
  if (target.FGW_VIEW_KEY) env.FGW_VIEW_KEY = 'mock-view-key';
  if (target.FGW_OTHER_WORKSPACE_KEY) env.FGW_OTHER_WORKSPACE_KEY = 'mock-other-workspace-key';
  if (target.FGW_NOT_ONBOARDED_KEY) env.FGW_NOT_ONBOARDED_KEY = 'mock-not-onboarded-key';
  for (const name of ['FGW_MODEL_SLUG', 'FGW_CAPABILITIES', 'FGW_ENDPOINT_PREFIX', 'FGW_ENDPOINT_TARGET', 'FGW_REGISTER_PRIVATE_KEY', 'FGW_PACE_PER_SECOND']) {
    if (target[name]) env[name] = target[name] as string;
  }
  return env;
}

export async function conformanceMain(argv: string[]): Promise<number> {
  const args = subcommandArgs(() => parseConformanceCli(argv, process.env, process.cwd()), CONFORMANCE_HELP, say);
  if (typeof args === 'number') return args;
  const root = fileURLToPath(PACKAGE_ROOT);
  if (!existsSync(join(root, 'vitest.conformance.config.ts')) || !existsSync(join(root, 'test/conformance'))) {
    say(`this installation of frontier-gateway-mock at ${root} does not include the conformance suite (test/conformance/)`);
    return 2;
  }
  const baseUrl = args.env.FGW_BASE_URL;
  if (baseUrl && !args.dryRun) {
    const problem = await preflight(baseUrl, args.env.FGW_API_KEY as string);
    if (problem) {
      say(problem);
      return 2;
    }
  }
  try {
    const target = await runOnce(root, args.env, args.reportsDir, args.filters);
    if (!target.report) {
      say(`the run wrote no report to ${join(args.reportsDir, 'conformance.json')}`);
      return 1;
    }
    let failed = target.failed;
    const { coverage } = target.report;
    if (args.minCoverage !== undefined && !args.dryRun && coverage.percent < args.minCoverage) {
      say(`coverage ${coverage.percent}% is below --min-coverage ${args.minCoverage}% (${coverage.exercised} of ${coverage.documented} documented rules exercised; give the target more keys and capabilities, see --help)`);
      failed = true;
    }
    if (args.compareWithMock) {
      const { startMock } = await import('./index.js');
      const prefix = args.env.FGW_ENDPOINT_PREFIX;
      const config: MockConfig | undefined = prefix
        ? { ...DEFAULT_CONFIG, workspaces: DEFAULT_CONFIG.workspaces.map((w) => (w.id === 'workspace-a' ? { ...w, org_prefixes: [...(w.org_prefixes ?? []), prefix] } : w)) }
        : undefined;
      const registerKey = args.env.FGW_REGISTER_PRIVATE_KEY;
      const mock = await startMock({
        ...(config ? { config } : {}),
        ...(registerKey ? { register: { publicKey: publicKeyOf(registerKey) } } : {}),
      });
      let mockRun: SuiteOutcome;
      try {
        process.stdout.write(`\nThe same suite against an in-process mock (${mock.url}), for comparison:\n`);
        mockRun = await runOnce(root, mockEnvFor(args.env, mock.url), join(args.reportsDir, 'mock'), args.filters);
      } finally {
        await mock.close();
      }
      if (!mockRun.report) {
        say('the run against the mock wrote no report; nothing to compare');
        return 1;
      }
      const comparison = compareReports(target.report, mockRun.report);
      writeFileSync(join(args.reportsDir, 'conformance-compare.json'), `${JSON.stringify(comparison, null, 2)}\n`);
      writeFileSync(join(args.reportsDir, 'conformance.html'), renderHtml(target.report, comparison));
      process.stdout.write(`\n${renderComparisonText(comparison)}`);
      process.stdout.write(`Side by side in ${join(args.reportsDir, 'conformance.html')}#compare and ${join(args.reportsDir, 'conformance-compare.json')}\n`);
    }
    process.stdout.write(`Reports: ${args.reportsDir}/conformance.{junit.xml,json,html}\n`);
    return failed ? 1 : 0;
  } catch (e) {
    if (e instanceof SetupError) {
      say(e.message);
      return 2;
    }
    throw e;
  }
}
