import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, DEFAULT_WEBHOOK_SECRET, environmentsOf, orgPrefixesOf, withImplicitWorkspaces, type MockConfig } from './config.js';
import { EndpointBook } from './domain/endpoint-book.js';
import { parsePublicKey } from './domain/register.js';
import type { Clock } from './domain/clock.js';
import { Gateway } from './domain/gateway.js';
import type { TokenLimitPolicy } from './domain/meter.js';
import type { RetryPolicy } from './domain/webhooks.js';
import type { ViewScopeReading } from './http/auth.js';
import { drainBodyStep, jsonBoundsStep } from './http/drain.js';
import { FaultBook, faultStep } from './http/faults.js';
import { adminHandlers } from './http/handlers/admin.js';
import { endpointHandlers } from './http/handlers/endpoints.js';
import { groupHandlers } from './http/handlers/groups.js';
import { inferenceHandlers } from './http/handlers/inference.js';
import { compiledSpecs } from './http/compiled-spec.js';
import { observeHandlers } from './http/handlers/observe.js';
import { Journal, journalStep, type JournalLimits } from './http/journal.js';
import { Pipeline, type Exchange } from './http/pipeline.js';
import { compileRouter } from './http/router.js';
import { rawJsonParser } from './http/raw-body.js';
import { bindHandlers, type HandlerMap } from './http/registry.js';
import type { Operation } from './http/spec.js';
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
import type { ScenarioSummary } from './scenarios/apply.js';
import type { Scenario } from './scenarios/scenario.js';
import { loadScenario, startState } from './scenarios/startup.js';
import type { MockServices } from './services.js';
import type { StateFileHealth, StateFileOptions } from './store/state-file.js';
import { Store, type StoreSeed } from './store/store.js';
import { WebhookDeliverer } from './webhooks/deliverer.js';

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
  };
  /**
   * Body fields the spec does not list: `ignore` (default) drops them and names them in
   * the X-Fgw-Ignored-Fields header and the log; `reject` refuses them with 400.
   */
  unknownFields?: UnknownFields;
  endpoints?: {
    /** Inference for a slug without an endpoint is 404, as on the live gateway (default false: served). */
    require?: boolean;
    /** PATCH may not rename a slug, as the live generated schema says (default false: renames allowed). */
    immutableSlugs?: boolean;
  };
  register?: {
    /** Raw 32-byte Ed25519 public key, base64, for workspaces whose config names none. */
    publicKey?: string;
  };
  /** Bounds of the request journal (GET /_mock/requests). */
  journal?: JournalLimits;
  /** How the "view scope" wording is read (default `reads`). */
  viewScope?: ViewScopeReading;
  /**
   * Scenario files (YAML or JSON paths) or scenario objects, applied in order at start-up
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
  const handlerMap: HandlerMap = { ...groupHandlers, ...endpointHandlers, ...inferenceHandlers, ...(withAdmin ? { ...adminHandlers, ...observeHandlers } : {}) };
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
  const gateway = new Gateway(store);
  const endpoints = new EndpointBook(store, {
    requireEndpoints: options.endpoints?.require === true,
    immutableSlugs: options.endpoints?.immutableSlugs === true,
  });
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
    endpoints,
    store,
    clock: store.clock,
    meter: store.meter,
    deliverer,
    inference: { latencyMs: options.inference?.latencyMs ?? 0 },
    journal: new Journal(options.journal),
    faults: new FaultBook(operations.filter((o) => o.document === 'gateway').map((o) => o.id)),
    reset: () => {
      store.reset();
      // Faults are set per test; a reset between tests clears them (a restore or scenario load does not).
      services.faults.clear();
    },
    snapshot: () => store.snapshot(),
    restore: (snapshot) => store.restore(snapshot),
    loadScenario: (raw, source = 'scenario') => loadScenario(store, raw, source, defaults),
  };
  const viewScope = options.viewScope ?? 'reads';
  const allowBearer = options.inference?.allowBearer !== false;

  const parse1mb = jsonParser('1mb');
  // A whole-state snapshot can be far bigger than any API body.
  const parseSnapshot = jsonParser('512mb');
  // Key registration verifies a signature over the exact body bytes.
  const parseKeepingBytes = rawJsonParser('1mb');
  const router = compileRouter(operations);
  const pipeline = new Pipeline([
    requestIdStep(store.ids),
    accessLogStep(options.log, options.logFormat ?? 'pretty', store.clock),
    serialiseStep(logError, { prettyJson: options.prettyJson === true }),
    parseStep((op) => (op?.id === 'restoreMockSnapshot' ? parseSnapshot : op?.id === 'registerApiKey' ? parseKeepingBytes : parse1mb)),
    drainBodyStep(),
    authenticateStep(gateway, viewScope, allowBearer),
    jsonBoundsStep(),
    validateStep(validators, options.unknownFields ?? 'ignore'),
    handlerStep(handlers, router),
  ]);
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
      result: undefined,
      failure,
      sent: undefined,
      fault: undefined,
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
