import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_CONFIG, isHttpUrl, loadConfigFile, parseKeyFlag, type MockConfig } from './config.js';
import { parsePublicKey } from './domain/register.js';
import type { StartOptions } from './index.js';
import type { ScenarioSummary } from './service/scenarios/apply.js';
import { DEFAULT_TIMEOUTS } from './timeouts.js';

/** Flags and environment -> StartOptions; pure, so it is unit-tested without a process. */

export const HELP = `frontier-gateway-mock: a local stand-in for Baseten Frontier Gateway

Usage: frontier-gateway-mock [options]        (or: npm start -- [options])
       frontier-gateway-mock wait --port-file PATH | --url URL   (see wait --help)
       frontier-gateway-mock conformance [options]   check a deployment or this mock against the
                                                     documented rules (see conformance --help)
       frontier-gateway-mock import --base-url URL --api-key KEY   a live workspace's groups,
                                                     endpoints and keys as a scenario file
                                                     (see import --help)
       frontier-gateway-mock proxy --upstream URL [-- command]
                                                     forward traffic to a deployment and check it
                                                     against the documented rules (see proxy --help)

Server
  --port N                 port to listen on (env PORT; default 4010; 0 = any free port)
  --port-file PATH         once listening, write the port to PATH (one line), so a
                           script that started the mock with --port 0 can find it;
                           then poll GET /_mock/health until it answers 200
  --host ADDR              address to bind (env HOST; default 127.0.0.1)
  --no-admin               do not serve the /_mock/ admin routes (nor the inspector
                           at /_mock/, the request journal or fault injection)
  --quiet                  no request log
  --pretty-json            indent the JSON of the gateway routes (env FGW_PRETTY_JSON=1;
                           default compact, like the real API; /_mock/ is always indented)
  --log-format F           pretty (default): one readable line per request;
                           json: one JSON object per line (time, level, method, path,
                           operation, status, ms, request_id), the banner included

Slow and idle clients (Node's server timeouts, in ms; 0 turns one off)
  --headers-timeout-ms N   a request's headers must arrive within N (default ${DEFAULT_TIMEOUTS.headersMs})
  --request-timeout-ms N   a whole request, body included, must arrive within N
                           (default ${DEFAULT_TIMEOUTS.requestMs}); at least --headers-timeout-ms
  --keep-alive-timeout-ms N
                           close a keep-alive connection idle for N after a response
                           (default ${DEFAULT_TIMEOUTS.keepAliveMs})
  --idle-timeout-ms N      close a socket without traffic for N, e.g. one that never sends
                           a request (default ${DEFAULT_TIMEOUTS.idleMs}); the mock's own waits
                           (injected latency, --latency-ms) do not count

Who may call it
  --config FILE            JSON file with "workspaces" and "management_keys"
                           (see scenarios/example-config.json); replaces the defaults
  --management-key K[:WS[:SCOPE]]
                           a management key (repeatable); replaces the default keys.
                           WS defaults to workspace-a, SCOPE to management (or view)
  --view-scope MODE        reads (default): view-scope keys may call every read;
                           list-only: they may only list groups

Request rules
  --error-format F         the form of every error body (env FGW_ERROR_FORMAT):
                           baseten (default), as Baseten documents it:
                           {"error": "<message>"} (a management 429 adds "retry_after");
                           openai: {"error": {"message", "type", "code", "param"}}.
                           Either way the code is in the X-Fgw-Error-Code header and the
                           offending field in X-Fgw-Error-Param
  --management-rate-limit N|off
                           the management API's own rate limit: N requests per second
                           per API key per route (env FGW_MANAGEMENT_RATE_LIMIT; default
                           100, as on the service); above it 429 with retry_after and
                           Retry-After. off: no limit (load tests)
  --reject-unknown-fields  refuse body fields the spec does not list with 400 (env
                           FGW_REJECT_UNKNOWN_FIELDS=1). Default: ignore them and name
                           them in the X-Fgw-Ignored-Fields header and the log

Endpoints and key registration
  --require-endpoints      a chat completion for a slug without an endpoint is 404, as
                           on the live gateway (env FGW_REQUIRE_ENDPOINTS=1). Default:
                           served, with X-Fgw-Endpoint-Target: none
  --allow-endpoint-renames PATCH may rename an endpoint's slug, as the older prose page
                           said (env FGW_ALLOW_ENDPOINT_RENAMES=1). Default: the slug is
                           immutable after creation, as the published schema says: a
                           different slug is 400
  --endpoint-sync-seconds N
                           an endpoint create, re-point or delete reaches inference N
                           seconds of mock time after it is made, as the live gateway
                           syncs every 60 (env FGW_ENDPOINT_SYNC_SECONDS). Default 0: at
                           once; management reads see changes at once either way
  --register-public-key B64
                           raw 32-byte Ed25519 public key, base64, that signs key
                           registrations (env FGW_REGISTER_PUBLIC_KEY), for workspaces
                           whose --config names no register_public_key

State
  --scenario FILE|NAME     load a scenario (YAML or JSON, see scenarios/) at start-up, by
                           path or by the name of one shipped in the package
                           (saas-tiers, enterprise-cascading, churned-customer):
                           workspaces, groups, keys with fixed secrets, usage already
                           counted, the clock. Repeatable, applied in order; a bad file
                           stops the start-up. POST /_mock/reset goes back to the
                           state they leave
  --state-file PATH        keep the whole state in PATH across restarts: restored at
                           start-up when it exists (time that passed while stopped
                           counts). Every change is appended to PATH.log.N before it is
                           answered, so a crash or kill -9 loses nothing acknowledged;
                           PATH is rewritten in the background and on exit. A corrupt
                           or newer-version file stops the start-up untouched; a second
                           mock on the same PATH is refused
  --state-file-fsync       also flush every change to the disk before answering it
                           (survives a power cut too; slower: a disk flush per change)

Inference
  --reject-bearer          federated keys must use "Authorization: Api-Key"; Bearer is 401
                           (env FGW_REJECT_BEARER=1). Default: both accepted, as the
                           OpenAI SDK sends Bearer
  --latency-ms N           delay each completion by N ms (env FGW_LATENCY_MS; default 0)
  --no-reply-header        ignore the X-Fgw-Mock-Reply request header, as the live service
                           does (env FGW_NO_REPLY_HEADER=1). Default: a chat completion
                           carrying it gets the reply it describes (docs/guide.md,
                           "Scripted replies"; rules: /_mock/replies or a scenario's replies:)
  --token-limit-policy P   strict (default): a request that would take a TOKEN bucket
                           past its threshold is refused; overshoot: admitted while the
                           bucket is below its threshold
  --prompt-cache-min-tokens N
                           a prompt prefix the group sent within the window counts as
                           cached from N prompt tokens on (env
                           FGW_PROMPT_CACHE_MIN_TOKENS; default 1024, OpenAI's)
  --prompt-cache-window-seconds N
                           how long, in mock seconds, a sent prefix stays cached (env
                           FGW_PROMPT_CACHE_WINDOW_SECONDS; default 300)
  --cached-token-weight W  full (default): cached prompt tokens count toward TOKEN
                           limits like any other; none: they do not

Billing webhooks
  --webhook-url URL        receiver of API_BILLING_USAGE events (env FGW_WEBHOOK_URL)
  --webhook-secret S       HMAC signing secret (env FGW_WEBHOOK_SECRET;
                           default mock-webhook-secret)
  --events-holdback-seconds N
                           GET /v1/gateway/events holds back events younger than N
                           seconds on the mock's clock (env FGW_EVENTS_HOLDBACK_SECONDS;
                           default 60, the documented "about a minute"; 0: none)

  -h, --help               this help
  -v, --version            the version

Embedded defaults (replaced by --config or --management-key):
${DEFAULT_CONFIG.management_keys.map((k) => `  ${k.key.padEnd(26)} ${k.workspace}, ${k.scope} scope`).join('\n')}
  (workspace-c is not onboarded: every /v1/gateway/ route answers 403)

Examples
  npm start
  npm start -- --port 8080 --webhook-url http://127.0.0.1:9000/hooks
  npm start -- --scenario scenarios/saas-tiers.yaml --state-file .fgw-state.json
  curl -s http://127.0.0.1:4010/v1/gateway/groups -H "Authorization: Api-Key mock-management-key"
`;

export class UsageError extends Error {}

/**
 * A subcommand's parsed options, or the exit status when there is nothing to run: 0 after
 * printing `help`, 2 after saying what is wrong with the options.
 */
export function subcommandArgs<T>(parse: () => T | 'help', help: string, say: (line: string) => void): T | number {
  let args: T | 'help';
  try {
    args = parse();
  } catch (e) {
    if (e instanceof UsageError) {
      say(`${e.message}\nRun with --help for the options.`);
      return 2;
    }
    throw e;
  }
  if (args === 'help') {
    process.stdout.write(help);
    return 0;
  }
  return args;
}

/**
 * The values of strict flags (no positionals); a flag that is unknown or misused throws
 * `error(message)` (a UsageError by default), for the command to print with its name.
 */
type StrictConfig<O> = { args: string[]; strict: true; allowPositionals: false; options: O };

export function strictFlags<const O extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: O,
  error: (message: string) => Error = (m) => new UsageError(m),
): ReturnType<typeof parseArgs<StrictConfig<O>>>['values'] {
  try {
    return parseArgs<StrictConfig<O>>({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (e) {
    throw error((e as Error).message);
  }
}

export function parseCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { options: StartOptions & { port: number; host: string }; quiet: boolean; portFile?: string } | 'help' | 'version' {
  const values = strictFlags(withNegativeValues(argv), {
    port: { type: 'string' },
    'port-file': { type: 'string' },
    host: { type: 'string' },
    'no-admin': { type: 'boolean' },
    quiet: { type: 'boolean' },
    'pretty-json': { type: 'boolean' },
    'log-format': { type: 'string' },
    'error-format': { type: 'string' },
    'management-rate-limit': { type: 'string' },
    config: { type: 'string' },
    'management-key': { type: 'string', multiple: true },
    'view-scope': { type: 'string' },
    'reject-bearer': { type: 'boolean' },
    'reject-unknown-fields': { type: 'boolean' },
    'require-endpoints': { type: 'boolean' },
    'allow-endpoint-renames': { type: 'boolean' },
    'endpoint-sync-seconds': { type: 'string' },
    'register-public-key': { type: 'string' },
    'latency-ms': { type: 'string' },
    'no-reply-header': { type: 'boolean' },
    'token-limit-policy': { type: 'string' },
    'prompt-cache-min-tokens': { type: 'string' },
    'prompt-cache-window-seconds': { type: 'string' },
    'cached-token-weight': { type: 'string' },
    'webhook-url': { type: 'string' },
    'webhook-secret': { type: 'string' },
    'events-holdback-seconds': { type: 'string' },
    scenario: { type: 'string', multiple: true },
    'state-file': { type: 'string' },
    'headers-timeout-ms': { type: 'string' },
    'request-timeout-ms': { type: 'string' },
    'keep-alive-timeout-ms': { type: 'string' },
    'idle-timeout-ms': { type: 'string' },
    'state-file-fsync': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  });
  if (values.help) return 'help';
  if (values.version) return 'version';

  const port = intOf(values.port ?? env.PORT ?? '4010', '--port', 0, 65535);
  const host = values.host ?? env.HOST ?? '127.0.0.1';
  let config: MockConfig | undefined = values.config ? loadConfigFile(values.config) : undefined;
  if (values['management-key']?.length) {
    config = { workspaces: config?.workspaces ?? DEFAULT_CONFIG.workspaces, management_keys: values['management-key'].map(parseKeyFlag) };
  }
  const viewScope = values['view-scope'] ?? 'reads';
  if (viewScope !== 'reads' && viewScope !== 'list-only') throw new UsageError(`--view-scope must be reads or list-only, not "${viewScope}"`);
  const policy = values['token-limit-policy'] ?? 'strict';
  if (policy !== 'strict' && policy !== 'overshoot') throw new UsageError(`--token-limit-policy must be strict or overshoot, not "${policy}"`);
  const cachedWeight = values['cached-token-weight'] ?? 'full';
  if (cachedWeight !== 'full' && cachedWeight !== 'none') throw new UsageError(`--cached-token-weight must be full or none, not "${cachedWeight}"`);
  const logFormat = values['log-format'] ?? 'pretty';
  if (logFormat !== 'pretty' && logFormat !== 'json') throw new UsageError(`--log-format must be pretty or json, not "${logFormat}"`);
  const errorFormat = values['error-format'] ?? env.FGW_ERROR_FORMAT ?? 'baseten';
  if (errorFormat !== 'baseten' && errorFormat !== 'openai') throw new UsageError(`--error-format must be baseten or openai, not "${errorFormat}"`);
  const rateFlag = values['management-rate-limit'] ?? env.FGW_MANAGEMENT_RATE_LIMIT;
  const managementRateLimit = rateFlag === undefined ? undefined : /^off$/i.test(rateFlag.trim()) ? false : intOf(rateFlag, '--management-rate-limit', 1, 1_000_000_000);
  const webhookUrl = values['webhook-url'] ?? env.FGW_WEBHOOK_URL;
  if (webhookUrl !== undefined && !isHttpUrl(webhookUrl)) throw new UsageError(`--webhook-url must be an http(s) URL, not "${webhookUrl}"`);
  const webhookSecret = values['webhook-secret'] ?? env.FGW_WEBHOOK_SECRET;
  if (webhookSecret === '') throw new UsageError('--webhook-secret must not be empty');
  const holdback = values['events-holdback-seconds'] ?? env.FGW_EVENTS_HOLDBACK_SECONDS;
  const holdbackSeconds = holdback === undefined ? undefined : intOf(holdback, '--events-holdback-seconds', 0, 86_400);
  const stateFile = values['state-file'];
  if (stateFile === '') throw new UsageError('--state-file must name a file');
  const portFile = values['port-file'];
  if (portFile === '') throw new UsageError('--port-file must name a file');

  const timeoutOf = (flag: 'headers-timeout-ms' | 'request-timeout-ms' | 'keep-alive-timeout-ms' | 'idle-timeout-ms', fallback: number) => {
    const v = values[flag];
    return v === undefined ? fallback : intOf(v, `--${flag}`, 0, 3_600_000);
  };
  const timeouts = {
    headersMs: timeoutOf('headers-timeout-ms', DEFAULT_TIMEOUTS.headersMs),
    requestMs: timeoutOf('request-timeout-ms', DEFAULT_TIMEOUTS.requestMs),
    keepAliveMs: timeoutOf('keep-alive-timeout-ms', DEFAULT_TIMEOUTS.keepAliveMs),
    idleMs: timeoutOf('idle-timeout-ms', DEFAULT_TIMEOUTS.idleMs),
  };
  if (timeouts.requestMs > 0 && timeouts.headersMs > timeouts.requestMs) {
    throw new UsageError(`--headers-timeout-ms (${timeouts.headersMs}) must not exceed --request-timeout-ms (${timeouts.requestMs}): the headers are part of the request`);
  }
  const stateFsync = values['state-file-fsync'] === true;
  if (stateFsync && stateFile === undefined) throw new UsageError('--state-file-fsync needs --state-file');

  const publicKey = values['register-public-key'] ?? env.FGW_REGISTER_PUBLIC_KEY;
  if (publicKey !== undefined) {
    try {
      parsePublicKey(publicKey);
    } catch (e) {
      throw new UsageError(`--register-public-key ${(e as Error).message}`);
    }
  }

  return {
    quiet: values.quiet === true,
    ...(portFile !== undefined ? { portFile } : {}),
    options: {
      port,
      host,
      timeouts,
      admin: values['no-admin'] !== true,
      prettyJson: values['pretty-json'] === true || truthy(env.FGW_PRETTY_JSON),
      logFormat,
      errorFormat,
      ...(managementRateLimit !== undefined ? { managementRateLimit } : {}),
      viewScope,
      unknownFields: values['reject-unknown-fields'] === true || truthy(env.FGW_REJECT_UNKNOWN_FIELDS) ? 'reject' : 'ignore',
      endpoints: {
        require: values['require-endpoints'] === true || truthy(env.FGW_REQUIRE_ENDPOINTS),
        immutableSlugs: !(values['allow-endpoint-renames'] === true || truthy(env.FGW_ALLOW_ENDPOINT_RENAMES)),
        syncSeconds: intOf(values['endpoint-sync-seconds'] ?? env.FGW_ENDPOINT_SYNC_SECONDS ?? '0', '--endpoint-sync-seconds', 0, 86_400),
      },
      ...(publicKey !== undefined ? { register: { publicKey } } : {}),
      ...(holdbackSeconds !== undefined ? { events: { holdbackSeconds } } : {}),
      ...(config ? { config } : {}),
      ...(values.scenario?.length ? { scenarios: values.scenario } : {}),
      ...(stateFile !== undefined ? { stateFile: stateFsync ? { path: stateFile, fsync: true } : stateFile } : {}),
      webhook: {
        ...(webhookUrl !== undefined ? { url: webhookUrl } : {}),
        ...(webhookSecret !== undefined ? { secret: webhookSecret } : {}),
      },
      inference: {
        allowBearer: !(values['reject-bearer'] === true || truthy(env.FGW_REJECT_BEARER)),
        latencyMs: intOf(values['latency-ms'] ?? env.FGW_LATENCY_MS ?? '0', '--latency-ms', 0, 600_000),
        tokenLimitPolicy: policy,
        replyHeader: !(values['no-reply-header'] === true || truthy(env.FGW_NO_REPLY_HEADER)),
        promptCache: {
          minTokens: intOf(values['prompt-cache-min-tokens'] ?? env.FGW_PROMPT_CACHE_MIN_TOKENS ?? '1024', '--prompt-cache-min-tokens', 0, 10_000_000),
          windowSeconds: intOf(values['prompt-cache-window-seconds'] ?? env.FGW_PROMPT_CACHE_WINDOW_SECONDS ?? '300', '--prompt-cache-window-seconds', 0, 86_400),
        },
        cachedTokenWeight: cachedWeight,
      },
    },
  };
}

/**
 * `--port -1` would make parseArgs stop with "argument is ambiguous"; a flag that takes a
 * value followed by something negative-number-like gets it as its value, so the range
 * check can say what is wrong in plain words.
 */
function withNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (VALUE_FLAGS.has(arg) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else out.push(arg);
  }
  return out;
}

const VALUE_FLAGS = new Set(['--port', '--latency-ms', '--prompt-cache-min-tokens', '--prompt-cache-window-seconds', '--events-holdback-seconds', '--management-rate-limit', '--headers-timeout-ms', '--request-timeout-ms', '--keep-alive-timeout-ms', '--idle-timeout-ms']);

function intOf(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not "${value}"`);
  return n;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);

/** What the banner says about the start-up state: scenarios loaded and the state file. */
export interface StartupFacts {
  scenarios: ScenarioSummary[];
  restoredFromStateFile: boolean;
}

/**
 * The start-up banner. Keys the user supplied (--config, --management-key) are masked
 * under --quiet, whose output often lands in CI logs; the embedded defaults are public.
 */
export function banner(url: string, options: StartOptions, config: MockConfig, quiet = false, startup?: StartupFacts): string {
  const mask = quiet && options.config !== undefined;
  const keys = config.management_keys.map((k) => {
    const ws = config.workspaces.find((w) => w.id === k.workspace);
    const note = ws && !ws.onboarded ? ', not onboarded' : '';
    return `    ${(mask ? maskKey(k.key) : k.key).padEnd(28)} ${k.workspace} (${k.scope} scope${note})`;
  });
  return [
    `frontier-gateway-mock listening on ${url}`,
    `  management API:  ${url}/v1/gateway/groups, ${url}/v1/gateway/endpoints`,
    `  inference (OpenAI baseURL): ${url}/v1`,
    ...(options.admin === false
      ? ['  admin routes:    off (--no-admin)']
      : [
          `  inspector:       ${url}/_mock/  (groups, usage, requests, webhooks, faults, clock)`,
          `  admin routes:    ${url}/_mock/requests, /_mock/faults, /_mock/replies, /_mock/state, /_mock/reset, /_mock/clock, /_mock/webhooks, /_mock/snapshot, /_mock/scenarios`,
        ]),
    `  webhooks:        ${options.webhook?.url ?? (options.admin === false ? 'no receiver (events are not delivered anywhere)' : 'no receiver (events are still listed at /_mock/webhooks)')}`,
    `  errors:          ${options.errorFormat === 'openai' ? 'OpenAI form {"error": {"message", "type", "code", "param"}} (--error-format openai)' : 'Baseten form {"error": "<message>"} (--error-format openai for the nested form)'}`,
    `  management rate limit: ${options.managementRateLimit === false ? 'off (--management-rate-limit off)' : `${options.managementRateLimit ?? 100} requests per second per key per route`}`,
    `  key registration: ${config.workspaces.some((w) => w.register_public_key) || options.register?.publicKey ? 'public key configured' : 'no public key (--register-public-key)'}`,
    '  management keys (Authorization: Api-Key <key>):',
    ...keys,
    ...(startup?.scenarios ?? []).flatMap((sc) => [
      `  scenario ${sc.source}: workspaces ${sc.workspaces.join(', ') || '(none)'}; ${sc.api_keys.length} federated keys with fixed secrets`,
      // A scenario's keys are the user's own: masked under --quiet, like --config's.
      ...sc.management_keys.map((k) => `    management key ${(quiet ? maskKey(k.key) : k.key).padEnd(28)} ${k.workspace} (${k.scope} scope)`),
      ...sc.groups.map((g) => `    group ${g.name.padEnd(24)} ${g.id} (${g.workspace_id}, external_entity_id ${g.external_entity_id})`),
      // Federated keys by prefix only: their secrets are in the scenario file, never in a log.
      ...sc.api_keys.map((k) => `    federated key ${k.prefix}… (group ${k.group}${k.name ? `, ${k.name}` : ''})`),
    ]),
    ...(options.stateFile === undefined
      ? []
      : [`  state file:      ${typeof options.stateFile === 'string' ? options.stateFile : options.stateFile.path} (${startup?.restoredFromStateFile ? 'state restored from it' : 'new'}; rewritten after changes)`]),
  ].join('\n');
}

/** `acme…` : enough to tell keys apart, not enough to use one. */
export function maskKey(key: string): string {
  return key.length > 8 ? `${key.slice(0, 4)}…(${key.length} chars)` : '****';
}

/** The banner as one JSON line, for `--log-format json`: the same facts, machine-readable. */
export function bannerJson(url: string, options: StartOptions, config: MockConfig, time: string, quiet = false, startup?: StartupFacts): string {
  const admin = options.admin !== false;
  const mask = quiet && options.config !== undefined;
  return JSON.stringify({
    time,
    level: 'info',
    message: 'frontier-gateway-mock listening',
    url,
    management_api: `${url}/v1/gateway/groups`,
    inference_base_url: `${url}/v1`,
    inspector: admin ? `${url}/_mock/` : null,
    admin_routes: admin,
    webhook_url: options.webhook?.url ?? null,
    error_format: options.errorFormat ?? 'baseten',
    management_rate_limit: options.managementRateLimit === false ? null : (options.managementRateLimit ?? 100),
    management_keys: config.management_keys.map((k) => ({ key: mask ? maskKey(k.key) : k.key, workspace: k.workspace, scope: k.scope })),
    scenarios: (startup?.scenarios ?? []).map((sc) => ({
      source: sc.source,
      workspaces: sc.workspaces,
      federated_keys: sc.api_keys.length,
      management_keys: sc.management_keys.map((k) => ({ key: quiet ? maskKey(k.key) : k.key, workspace: k.workspace, scope: k.scope })),
      federated_key_prefixes: sc.api_keys.map((k) => ({ prefix: k.prefix, group: k.group, name: k.name })),
      groups: sc.groups.map((g) => ({ name: g.name, id: g.id, workspace_id: g.workspace_id, external_entity_id: g.external_entity_id })),
    })),
    state_file:
      options.stateFile === undefined
        ? null
        : { path: typeof options.stateFile === 'string' ? options.stateFile : options.stateFile.path, restored: startup?.restoredFromStateFile === true },
  });
}
