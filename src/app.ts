import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, DEFAULT_WEBHOOK_SECRET, environmentsOf, orgPrefixesOf, withImplicitWorkspaces, type MockConfig } from './config.js';
import { parsePublicKey } from './domain/register.js';
import type { Clock } from './domain/clock.js';
import { FixedWindowLimiter } from './domain/management-rate.js';
import type { TokenLimitPolicy } from './domain/meter.js';
import { DEFAULT_PROMPT_CACHE } from './domain/prompt-cache.js';
import type { RetryPolicy } from './domain/webhooks.js';
import type { ViewScopeReading } from './http/auth.js';
import { drainBodyStep, jsonBoundsStep } from './http/drain.js';
import type { ErrorFormat } from './http/errors.js';
import { FaultBook, faultStep } from './http/faults.js';
import { adminHandlers } from './http/handlers/admin.js';
import { endpointHandlers } from './http/handlers/endpoints.js';
import { eventHandlers } from './http/handlers/events.js';
import { groupHandlers } from './http/handlers/groups.js';
import { healthHandlers } from './http/handlers/health.js';
import { inferenceHandlers } from './http/handlers/inference.js';
import { compiledSpecs } from './http/compiled-spec.js';
import type { MockServices } from './http/context.js';
import { observeHandlers } from './http/handlers/observe.js';
import { Journal, journalStep, type JournalLimits } from './http/journal.js';
import { Pipeline, type Exchange } from './http/pipeline.js';
import { managementRateLimitStep } from './http/rate-limit.js';
import { compileRouter } from './http/router.js';
import { rawJsonParser } from './http/raw-body.js';
import { bindHandlers, type HandlerMap } from './http/registry.js';
import type { BodyKind, Operation } from './http/spec.js';
import {
  accessLogStep,
  authenticateStep,
  handlerStep,
  jsonParser,
  type LogFormat,
  parseStep,
  requestIdStep,
  serialiseStep,
  validateStep,
} from './http/steps.js';
import type { UnknownFields } from './http/validation.js';
import { Gateway } from './service/gateway.js';
import type { CachedTokenWeight } from './service/inference.js';
import type { ScenarioSummary } from './service/scenarios/apply.js';
import type { Scenario } from './service/scenarios/scenario.js';
import { loadScenario, startState } from './service/scenarios/startup.js';
import { WebhookDeliverer } from './service/webhook-deliverer.js';
import { PACKAGE_VERSION } from './paths.js';
import type { StateFileHealth, StateFileOptions } from './store/state-file.js';
import { MAX_SNAPSHOT_BYTES } from './store/snapshot.js';
import { Store, type StoreSeed } from './store/store.js';

/**
 * createMock(options) builds the Express app and everything behind it, without
 * listening. The CLI and startMock() listen; tests may use the app directly.
 */

export interface MockOptions {
  /** Workspaces and management keys; the embedded defaults when omitted. */
  config?: MockConfig;
  /** Serve /_mock/ routes (default true). */
  admin?: boolean;
  /** The base clock; the mock's clock is this plus the offset POST /_mock/clock adds. */
  baseClock?: Clock;
  /**
   * Draw ids, key secrets and the cursor key from a deterministic stream seeded with this
   * string instead of the OS's random source (for reproducible tests; never for real keys).
   */
  idSeed?: string;
  webhook?: {
    /** Receiver for workspaces whose config names none. */
    url?: string | null;
    /** Signing secret for workspaces whose config names none (default mock-webhook-secret). */
    secret?: string;
    /** Override the documented retry policy (tests shrink it). */
    policy?: Partial<RetryPolicy>;
    maxLog?: number;
    /** Payload bytes the delivery log retains (default 32 MiB; the dead-letter queue likewise). */
    maxLogBytes?: number;
    /** Outgoing delivery attempts in flight at once (default 8); the rest queue. */
    maxConcurrent?: number;
  };
  inference?: {
    /** Accept `Authorization: Bearer` for federated keys (default true: the OpenAI SDK sends Bearer). */
    allowBearer?: boolean;
    /** Added delay before each completion responds, in ms (default 0). */
    latencyMs?: number;
    /** How TOKEN limits treat a request that would cross the threshold (default strict). */
    tokenLimitPolicy?: TokenLimitPolicy;
    /**
     * Cached tokens (docs/guide.md, "Cached tokens"): a prompt prefix the same group sent
     * within `windowSeconds` (default 300) of mock time counts as cached from `minTokens`
     * prompt tokens on (default 1024).
     */
    promptCache?: { minTokens?: number; windowSeconds?: number };
    /** How cached prompt tokens weigh on TOKEN limits: `full` (default) or `none` (AMBIGUITIES.md #94). */
    cachedTokenWeight?: CachedTokenWeight;
  };
  /**
   * Body fields the spec does not list: `ignore` (default) drops them and names them in
   * the X-Fgw-Ignored-Fields header and the log; `reject` refuses them with 400.
   */
  unknownFields?: UnknownFields;
  endpoints?: {
    /** Inference for a slug without an endpoint is 404, as on the live gateway (default false: served). */
    require?: boolean;
    /**
     * PATCH may not change a slug, as the published schema says since 2026-06-25 (default
     * true; false, or --allow-endpoint-renames, allows renames as the older prose page did).
     */
    immutableSlugs?: boolean;
    /**
     * Seconds of mock time before an endpoint create, re-point or delete reaches inference,
     * as the live gateway syncs endpoints every 60 s (default 0: at once, see AMBIGUITIES.md).
     */
    syncSeconds?: number;
  };
  register?: {
    /** Raw 32-byte Ed25519 public key, base64, for workspaces whose config names none. */
    publicKey?: string;
  };
  events?: {
    /**
     * GET /v1/gateway/events holds back events younger than this many seconds, on the
     * mock's clock (default 60, the documented "about a minute"; 0 makes every event
     * queryable at once). A test moves the clock (POST /_mock/clock) instead of sleeping.
     */
    holdbackSeconds?: number;
  };
  /** Bounds of the request journal (GET /_mock/requests). */
  journal?: JournalLimits;
  /**
   * The form of every error body (AMBIGUITIES.md #9): `baseten` (default), as Baseten
   * documents it, `{"error": "<message>"}`; `openai`, the nested
   * `{"error": {"message", "type", "code", "param"}}`. Either way the code and the field
   * are in the X-Fgw-Error-Code and X-Fgw-Error-Param headers.
   */
  errorFormat?: ErrorFormat;
  /**
   * The management API's own rate limit: requests per second per API key per route on
   * every management (`/v1/gateway/`) operation, as on the service (default 100); `false`
   * turns it off (load tests). Over it: 429 with `retry_after` (AMBIGUITIES.md #88).
   */
  managementRateLimit?: number | false;
  /** How the "view scope" wording is read (default `reads`). */
  viewScope?: ViewScopeReading;
  /**
   * Scenario files (YAML or JSON paths), names of the scenarios shipped in the package
   * (`saas-tiers`, see shippedScenarioNames()), or scenario objects, applied in order at start-up
   * on top of the config; POST /_mock/reset goes back to the state they leave.
   */
  scenarios?: (string | Scenario)[];
  /** Keep the whole state in this file across restarts (see src/store/state-file.ts). */
  stateFile?: string | StateFileOptions;
  /** One line per request (default: nothing). Never includes headers, so never a key. */
  log?: (line: string) => void;
  /** Indent the JSON of the gateway routes (default false: compact, like the real API; admin routes are always indented). */
  prettyJson?: boolean;
  /** How request lines are written: `pretty` (default) for people, `json` (one object per line) for machines. */
  logFormat?: LogFormat;
  /** Internal errors, which are bugs of the mock (default: standard error). */
  logError?: (line: string) => void;
}

/** Requests per second per API key per route the management API allows (facts file). */
export const DEFAULT_MANAGEMENT_RATE_LIMIT = 100;

export interface Mock extends MockServices {
  app: Express;
  /** The request path's named steps; a feature joins with pipeline.add(step, { before | after: name }). */
  pipeline: Pipeline;
  operations: Operation[];
  config: MockConfig;
  /** What the start-up scenarios created, local group names with their ids. */
  scenarios: ScenarioSummary[];
  /** Whether the state came from an existing --state-file. */
  restoredFromStateFile: boolean;
  /** Whether the state file keeps up (false from a disk error until a save succeeds); null without a state file. */
  stateFileHealth(): StateFileHealth | null;
  /** Stops webhook deliveries and writes the state file one last time. */
  close(): void;
}

export async function createMock(options: MockOptions = {}): Promise<Mock> {
  const withAdmin = options.admin !== false;
  const { operations, validators } = await compiledSpecs(withAdmin);
  const handlerMap: HandlerMap = { ...groupHandlers, ...endpointHandlers, ...eventHandlers, ...inferenceHandlers, ...healthHandlers, ...(withAdmin ? { ...adminHandlers, ...observeHandlers } : {}) };
  const handlers = bindHandlers(operations, handlerMap);

  const config = withImplicitWorkspaces(options.config ?? DEFAULT_CONFIG);
  const publicKeys = new Map(
    config.workspaces.map((w) => {
      const base64 = w.register_public_key ?? options.register?.publicKey;
      try {
        return [w.id, base64 === undefined ? null : parsePublicKey(base64)] as const;
      } catch (e) {
        throw new Error(`register public key of ${w.id} ${(e as Error).message}`);
      }
    }),
  );
  const seed = (): StoreSeed => ({
    workspaces: config.workspaces.map((w) => ({
      id: w.id,
      onboarded: w.onboarded,
      webhookUrl: w.webhook_url ?? options.webhook?.url ?? null,
      webhookSecret: w.webhook_secret ?? options.webhook?.secret ?? DEFAULT_WEBHOOK_SECRET,
      orgPrefixes: [...orgPrefixesOf(w)],
      environments: [...environmentsOf(w)],
      registerPublicKey: publicKeys.get(w.id) ?? null,
    })),
    managementKeys: config.management_keys,
  });
  const store = new Store({
    seed,
    ...(options.baseClock ? { baseClock: options.baseClock } : {}),
    ...(options.idSeed !== undefined ? { idSeed: options.idSeed } : {}),
    tokenLimitPolicy: options.inference?.tokenLimitPolicy ?? 'strict',
    ...(options.webhook?.maxLog ? { maxWebhookLog: options.webhook.maxLog } : {}),
    ...(options.webhook?.maxLogBytes ? { maxWebhookLogBytes: options.webhook.maxLogBytes } : {}),
  });
  const gateway = new Gateway(
    store,
    {
      requireEndpoints: options.endpoints?.require === true,
      immutableSlugs: options.endpoints?.immutableSlugs !== false,
      syncSeconds: options.endpoints?.syncSeconds ?? 0,
    },
    options.events?.holdbackSeconds !== undefined ? { holdbackSeconds: options.events.holdbackSeconds } : {},
  );
  const deliverer = new WebhookDeliverer(store, {
    ...(options.webhook?.policy ? { policy: options.webhook.policy } : {}),
    ...(options.webhook?.maxConcurrent ? { maxConcurrent: options.webhook.maxConcurrent } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const defaults = {
    webhookUrl: options.webhook?.url ?? null,
    webhookSecret: options.webhook?.secret ?? DEFAULT_WEBHOOK_SECRET,
    registerPublicKey: options.register?.publicKey === undefined ? null : parsePublicKey(options.register.publicKey),
  };
  const logError = options.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startup = await startState(store, { scenarios: options.scenarios ?? [], stateFile: options.stateFile, defaults, onError: logError });
  const services: MockServices = {
    gateway,
    store,
    clock: store.clock,
    meter: store.meter,
    deliverer,
    inference: {
      latencyMs: options.inference?.latencyMs ?? 0,
      deps: {
        usage: gateway.usage,
        clock: store.clock,
        billing: deliverer,
        prompts: {
          cache: store.promptCache,
          rule: {
            minTokens: options.inference?.promptCache?.minTokens ?? DEFAULT_PROMPT_CACHE.minTokens,
            windowMs: (options.inference?.promptCache?.windowSeconds ?? DEFAULT_PROMPT_CACHE.windowMs / 1000) * 1000,
          },
          weight: options.inference?.cachedTokenWeight ?? 'full',
        },
      },
    },
    journal: new Journal(options.journal),
    faults: new FaultBook(operations.filter((o) => o.document === 'gateway').map((o) => o.id)),
    reset: () => {
      store.reset();
      limiter?.clear();
      // Faults are set per test; a reset between tests clears them (a restore or scenario load does not).
      services.faults.clear();
    },
    snapshot: () => store.snapshot(),
    restore: (snapshot) => store.restore(snapshot),
    loadScenario: (raw, source = 'scenario') => loadScenario(store, raw, source, defaults),
    health: () => ({
      version: PACKAGE_VERSION,
      admin: withAdmin,
      state_file: (() => {
        const h = startup.stateFile?.health();
        return h ? { path: h.path, ok: h.ok, error: h.ok ? null : (h.error ?? 'failing') } : null;
      })(),
    }),
  };
  const viewScope = options.viewScope ?? 'reads';
  const allowBearer = options.inference?.allowBearer !== false;
  const rateLimit = options.managementRateLimit ?? DEFAULT_MANAGEMENT_RATE_LIMIT;
  const limiter = rateLimit === false ? undefined : new FixedWindowLimiter(rateLimit);

  // How each operation's body is read, as its `x-fgw-body` declares.
  const parsers: Record<BodyKind, ReturnType<typeof jsonParser>> = {
    json: jsonParser('1mb'),
    // Key registration verifies a signature over the exact body bytes.
    'json-with-bytes': rawJsonParser('1mb'),
    // A whole-state snapshot can be far bigger than any API body, but not without bound:
    // parsing costs several times the text (MAX_SNAPSHOT_BYTES: 413 above it).
    'json-large': jsonParser(MAX_SNAPSHOT_BYTES),
  };
  const router = compileRouter(operations);
  const pipeline = new Pipeline([
    requestIdStep(store.ids),
    accessLogStep(options.log, options.logFormat ?? 'pretty', store.clock),
    serialiseStep(logError, { prettyJson: options.prettyJson === true, errorFormat: options.errorFormat ?? 'baseten' }),
    parseStep((op) => parsers[op?.body ?? 'json']),
    drainBodyStep(),
    authenticateStep(gateway.access, viewScope, allowBearer),
    jsonBoundsStep(),
    validateStep(validators, options.unknownFields ?? 'ignore'),
    handlerStep(handlers, router),
  ]);
  // Counted only once the caller is known (per API key), before the body is judged.
  if (limiter) pipeline.add(managementRateLimitStep(limiter, store.clock), { after: 'authenticate' });
  if (withAdmin) {
    // Observation joins the request path as steps of its own (src/http/journal.ts, faults.ts).
    pipeline.add(journalStep(services.journal, store.clock), { after: 'access-log' });
    pipeline.add(faultStep(services.faults), { before: 'authenticate' });
  }
  // Every field of every exchange from the start, set or not, so all exchanges share one
  // hidden class and the steps' property reads stay monomorphic (fields added on the way
  // gave each route's exchanges shapes of their own).
  const run = (op: Operation | undefined, req: Request, res: Response, failure?: unknown) =>
    pipeline.run({
      req,
      res,
      op,
      requestId: '',
      startedAt: performance.now(),
      params: {},
      query: {},
      body: undefined,
      workspace: undefined,
      caller: undefined,
      mock: services,
      ignoredFields: undefined,
      note: undefined,
      result: undefined,
      failure,
      sent: undefined,
      fault: undefined,
      refusal: undefined,
    } satisfies Record<keyof Exchange, unknown>);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Every request goes through the same steps: an operation's, or (unknown route or method,
  // a path parameter that is not valid percent-encoding) a JSON 404, 405 or 400 with a request id.
  app.use((req: Request, res: Response) => {
    let found;
    try {
      found = router.match(req.method, req.path);
    } catch (err) {
      return run(undefined, req, res, err);
    }
    if (!found) return run(undefined, req, res);
    req.params = found.params;
    return run(found.op, req, res);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => run(undefined, req, res, err));

  return {
    app,
    operations,
    config,
    scenarios: startup.scenarios,
    restoredFromStateFile: startup.restored,
    stateFileHealth: () => startup.stateFile?.health() ?? null,
    ...services,
    pipeline,
    close() {
      deliverer.cancel();
      startup.stateFile?.close();
    },
  };
}
