import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { DEFAULT_CONFIG, DEFAULT_WEBHOOK_SECRET, withImplicitWorkspaces, type MockConfig } from './config.js';
import type { Clock } from './domain/clock.js';
import { Gateway } from './domain/gateway.js';
import type { TokenLimitPolicy } from './domain/meter.js';
import type { RetryPolicy } from './domain/webhooks.js';
import { credentialOf, requiredScope, type ViewScopeReading } from './http/auth.js';
import { errorBody, sendError } from './http/errors.js';
import { adminHandlers } from './http/handlers/admin.js';
import { groupHandlers } from './http/handlers/groups.js';
import { inferenceHandlers } from './http/handlers/inference.js';
import { bindHandlers, type Ctx, type Handler, type HandlerMap } from './http/registry.js';
import { loadSpecs, type Operation } from './http/spec.js';
import { compileRequestValidators, type RequestValidator } from './http/validation.js';
import type { MockServices } from './services.js';
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
  };
  inference?: {
    /** Accept `Authorization: Bearer` for federated keys (default true: the OpenAI SDK sends Bearer). */
    allowBearer?: boolean;
    /** Added delay before each completion responds, in ms (default 0). */
    latencyMs?: number;
    /** How TOKEN limits treat a request that would cross the threshold (default strict). */
    tokenLimitPolicy?: TokenLimitPolicy;
  };
  /** How the "view scope" wording is read (default `reads`). */
  viewScope?: ViewScopeReading;
  /** One line per request (default: nothing). Never includes headers, so never a key. */
  log?: (line: string) => void;
  /** Internal errors, which are bugs of the mock (default: standard error). */
  logError?: (line: string) => void;
}

export interface Mock extends MockServices {
  app: Express;
  operations: Operation[];
  config: MockConfig;
  close(): void;
}

interface CompiledSpecs {
  operations: Operation[];
  validators: Map<string, RequestValidator>;
}

const specCache = new Map<boolean, Promise<CompiledSpecs>>();

/** The specs are parsed and their validators compiled once per process, shared by every mock in it. */
function compiledSpecs(withAdmin: boolean): Promise<CompiledSpecs> {
  let p = specCache.get(withAdmin);
  if (!p) {
    p = loadSpecs(withAdmin).then(({ operations }) => ({ operations, validators: compileRequestValidators(operations) }));
    specCache.set(withAdmin, p);
  }
  return p;
}

export async function createMock(options: MockOptions = {}): Promise<Mock> {
  const withAdmin = options.admin !== false;
  const { operations, validators } = await compiledSpecs(withAdmin);
  const handlerMap: HandlerMap = { ...groupHandlers, ...inferenceHandlers, ...(withAdmin ? adminHandlers : {}) };
  const handlers = bindHandlers(operations, handlerMap);

  const config = withImplicitWorkspaces(options.config ?? DEFAULT_CONFIG);
  const seed = (): StoreSeed => ({
    workspaces: config.workspaces.map((w) => ({
      id: w.id,
      onboarded: w.onboarded,
      webhookUrl: w.webhook_url ?? options.webhook?.url ?? null,
      webhookSecret: w.webhook_secret ?? options.webhook?.secret ?? DEFAULT_WEBHOOK_SECRET,
    })),
    managementKeys: config.management_keys,
  });
  const store = new Store({
    seed,
    ...(options.baseClock ? { baseClock: options.baseClock } : {}),
    ...(options.idSeed !== undefined ? { idSeed: options.idSeed } : {}),
    tokenLimitPolicy: options.inference?.tokenLimitPolicy ?? 'strict',
    ...(options.webhook?.maxLog ? { maxWebhookLog: options.webhook.maxLog } : {}),
  });
  const gateway = new Gateway(store);
  const deliverer = new WebhookDeliverer(store, options.webhook?.policy ? { policy: options.webhook.policy } : {});
  const services: MockServices = {
    gateway,
    store,
    clock: store.clock,
    meter: store.meter,
    deliverer,
    inference: { latencyMs: options.inference?.latencyMs ?? 0 },
    reset: () => store.reset(),
    snapshot: () => store.snapshot(),
    restore: (snapshot) => store.restore(snapshot),
  };
  const log = options.log ?? (() => {});
  const logError = options.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const viewScope = options.viewScope ?? 'reads';
  const allowBearer = options.inference?.allowBearer !== false;

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('json spaces', 2);
  app.use((req, res, next) => {
    const id = store.ids.uuid();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    const started = process.hrtime.bigint();
    res.on('finish', () => log(`${req.method} ${req.originalUrl} ${res.statusCode} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`));
    next();
  });
  // A whole-state snapshot can be far bigger than any API body.
  if (withAdmin) app.use('/_mock/snapshot', express.json({ limit: '512mb', type: ['application/json', 'application/*+json'] }));
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));

  for (const op of operations) {
    const handler = handlers.get(op.id) as Handler;
    const validate = validators.get(op.id) as RequestValidator;
    app[op.method](op.expressPath, async (req: Request, res: Response) => {
      try {
        const ctx: Ctx = {
          op,
          params: {},
          query: {},
          body: undefined,
          requestId: res.locals.requestId as string,
          mock: services,
          req,
          res,
        };
        if (op.auth === 'workspace') {
          ctx.workspace = gateway.authenticateWorkspace(credentialOf(req.headers.authorization), requiredScope(op, viewScope)).workspace;
        } else if (op.auth === 'federated') {
          ctx.caller = gateway.authenticateFederated(credentialOf(req.headers.authorization, allowBearer));
        }
        const valid = validate({
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          body: req.body,
          hasBody: hasBody(req),
          isJson: req.is(['application/json', 'application/*+json']) !== false,
        });
        Object.assign(ctx, valid);
        const result = await handler(ctx);
        if ('streamed' in result) return;
        if (result.headers) res.set(result.headers);
        res.status(result.status ?? 200).json(result.body);
      } catch (err) {
        if (res.headersSent) {
          logError(`error after the response started: ${(err as Error).message}`);
          res.end();
          return;
        }
        sendError(res, err, logError);
      }
    });
  }

  // Known path, unknown method: 405 with Allow. Anything else: 404. Both JSON.
  app.use((req: Request, res: Response) => {
    const allowed = operations.filter((o) => o.pathPattern.test(req.path)).map((o) => o.method.toUpperCase());
    if (allowed.length > 0) {
      res.setHeader('Allow', allowed.join(', '));
      res
        .status(405)
        .json(errorBody('method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${allowed.join(', ')}.`, 'method_not_allowed'));
      return;
    }
    res.status(404).json(errorBody('not_found_error', `No route for ${req.method} ${req.path}.`, 'route_not_found'));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, err, logError));

  return {
    app,
    operations,
    config,
    ...services,
    close() {
      deliverer.cancel();
    },
  };
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
