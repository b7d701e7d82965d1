import express, { type RequestHandler, type Response } from 'express';
import { performance } from 'node:perf_hooks';
import { rfc3339Millis, systemClock, type Clock } from '../domain/clock.js';
import { GatewayError } from '../domain/errors.js';
import type { IdSource } from '../domain/ids.js';
import { LimitRefused } from '../domain/refusal.js';
import type { AccessService } from '../service/access.js';
import { credentialOf, requiredScope, type ViewScopeReading } from './auth.js';
import { hasBody } from './drain.js';
import { errorResponse, HttpError, type ErrorFormat } from './errors.js';
import { redactUrl } from './redact.js';
import type { Step } from './pipeline.js';
import type { Router } from './router.js';
import type { Ctx, Handler } from './registry.js';
import type { Operation } from './spec.js';
import type { RequestValidator, UnknownFields } from './validation.js';

/**
 * The standard steps of the request path, outermost first, as src/app.ts composes them:
 *   request-id -> access-log -> serialise -> parse -> drain-body -> authenticate
 *     -> json-bounds -> validate -> handler
 * With the admin routes served, two observation steps join: `journal` just inside
 * `access-log` (src/http/journal.ts) and `faults` just outside `authenticate`
 * (src/http/faults.ts). Unless it is turned off, `management-rate-limit` joins just
 * inside `authenticate` (src/http/rate-limit.ts). `serialise` turns whatever the steps inside it answer or throw
 * into the HTTP response, in one place; steps outside it (request id, log, the journal)
 * see the exchange whole. `drain-body` and `json-bounds` are in src/http/drain.ts.
 */

export const STEP = {
  requestId: 'request-id',
  accessLog: 'access-log',
  serialise: 'serialise',
  parse: 'parse',
  authenticate: 'authenticate',
  validate: 'validate',
  handler: 'handler',
} as const;

/** Gives every exchange a unique id, sent back as `X-Request-Id`. */
export function requestIdStep(ids: IdSource): Step {
  return {
    name: STEP.requestId,
    run(x, next) {
      x.requestId = ids.uuid();
      x.res.setHeader('X-Request-Id', x.requestId);
      return next();
    },
  };
}

export type LogFormat = 'pretty' | 'json';

/**
 * One line per request when it has been answered (or its connection closed unanswered):
 * `pretty` for people, `json` (one object per line: time by the mock's clock, level,
 * method, path, operation, status, ms, request_id) for machines. Never includes headers
 * or bodies, and the query (pretty only) is redacted like the journal's (redactQuery), so
 * never a key. Without `log` the step only passes on (it stays, so others can be placed
 * around it) and adds no listener.
 */
export function accessLogStep(log?: (line: string) => void, format: LogFormat = 'pretty', clock: Clock = systemClock): Step {
  return {
    name: STEP.accessLog,
    run(x, next) {
      if (!log) return next();
      // Node emits `close` once, after `finish` or when the connection goes first.
      x.res.on('close', () => {
        const ms = Math.round((performance.now() - x.startedAt) * 10) / 10;
        const status = x.res.headersSent ? x.res.statusCode : null;
        if (format === 'json') {
          const q = x.req.originalUrl.indexOf('?');
          log(
            JSON.stringify({
              time: rfc3339Millis(clock.now()),
              level: status === null || status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info',
              method: x.req.method,
              path: q < 0 ? x.req.originalUrl : x.req.originalUrl.slice(0, q),
              operation: x.op?.id ?? null,
              status,
              ms,
              request_id: x.requestId,
              ...(x.ignoredFields ? { ignored_fields: x.ignoredFields } : {}),
              ...(x.note ? { note: x.note } : {}),
            }),
          );
        } else {
          log(`${x.req.method} ${redactUrl(x.req.originalUrl)} ${status ?? 'closed unanswered'} ${ms.toFixed(1)} ms  ${x.op?.id ?? '-'}  ${x.requestId.slice(0, 8)}${x.ignoredFields ? `  ignored fields: ${x.ignoredFields}` : ''}${x.note ? `  note: ${x.note}` : ''}`);
        }
      });
      return next();
    },
  };
}

/**
 * Writes the result of the steps inside it as JSON, or the error they threw in the
 * chosen error form (`errorFormat`, src/http/errors.ts, the only module that knows it). A handler that streamed has answered
 * itself; an error after a response started can only end it. JSON is compact, like the
 * real API's, unless `prettyJson`; the /_mock/ admin routes, read by people, are always
 * indented.
 */
export function serialiseStep(logError: (line: string) => void, options: { prettyJson?: boolean; errorFormat?: ErrorFormat } = {}): Step {
  const pretty = options.prettyJson === true;
  const errorFormat = options.errorFormat ?? 'baseten';
  return {
    name: STEP.serialise,
    async run(x, next) {
      try {
        await next();
      } catch (err) {
        if (x.res.headersSent) {
          logError(`error after the response started: ${(err as Error).message}`);
          x.res.end();
          return;
        }
        // Which limit refused it, for the journal outside this step (only a 429 carries one).
        if (err instanceof LimitRefused) x.refusal = err.refusal;
        const e = errorResponse(err, logError, errorFormat);
        x.result = { status: e.status, body: e.body, headers: e.headers };
      }
      const r = x.result;
      if (!r || 'streamed' in r || x.res.headersSent || x.res.destroyed) return;
      if (r.headers) x.res.set(r.headers);
      const status = r.status ?? 200;
      if ('text' in r) {
        x.sent = { status, body: undefined };
        x.res.status(status).type(r.contentType).send(r.text);
        return;
      }
      const spaces = pretty || x.op?.document === 'admin' ? 2 : undefined;
      const text = sendJson(x.res, status, r.body, spaces);
      // The compact text lets a journal record the body without serialising it again.
      x.sent = spaces === undefined ? { status, body: r.body, text } : { status, body: r.body };
    },
  };
}

/**
 * The body as JSON with its length. Written directly rather than with res.json, whose
 * res.send also hashes every body for an ETag and parses the request's cache headers
 * (docs/performance.md). The mock sends no ETag, as the documentation names none.
 */
function sendJson(res: Response, status: number, body: unknown, spaces: number | undefined): string {
  const text = JSON.stringify(body, null, spaces) ?? '';
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text); // Node drops the body of a HEAD response itself
  return text;
}

/**
 * Parses a JSON body (application/json or application/*+json); other bodies are left
 * unread for validation to refuse. `parsers` picks a parser per operation (a whole-state
 * snapshot may be far bigger than any API body).
 */
export function parseStep(parserFor: (op: Operation | undefined) => RequestHandler): Step {
  return {
    name: STEP.parse,
    run(x, next) {
      // No body (every GET and DELETE): nothing to parse, and no promise to wait on.
      if (!hasBody(x.req)) return next();
      return new Promise<void>((resolve, reject) => {
        parserFor(x.op)(x.req, x.res, (err?: unknown) => (err ? reject(err) : resolve()));
      }).then(next);
    },
  };
}

export const jsonParser = (limit: string | number): RequestHandler => express.json({ limit, type: ['application/json', 'application/*+json'] });

/** Who is calling: a workspace key (with the scope the operation needs) or a federated key. */
export function authenticateStep(access: AccessService, viewScope: ViewScopeReading, allowBearer: boolean): Step {
  return {
    name: STEP.authenticate,
    run(x, next) {
      const op = x.op;
      if (op?.auth === 'workspace') {
        x.workspace = access.workspaceCaller(credentialOf(x.req.headers.authorization), requiredScope(op, viewScope)).workspace;
      } else if (op?.auth === 'federated') {
        x.caller = access.federatedCaller(credentialOf(x.req.headers.authorization, allowBearer));
      }
      return next();
    },
  };
}

/**
 * Path, query and body against the operation's validators, compiled from the spec once.
 * Unknown body fields are dropped and named in `X-Fgw-Ignored-Fields` (and the log), or
 * refused with 400 when `unknownFields` is `reject`; the admin routes always refuse them.
 */
export function validateStep(validators: ReadonlyMap<string, RequestValidator>, unknownFields: UnknownFields = 'ignore'): Step {
  return {
    name: STEP.validate,
    run(x, next) {
      if (x.op) {
        const withBody = hasBody(x.req);
        const valid = (validators.get(x.op.id) as RequestValidator)(
          {
            params: x.req.params as Record<string, string>,
            query: x.req.query as Record<string, unknown>,
            body: x.req.body,
            hasBody: withBody,
            // Parsing Content-Type only matters for a body, and not again when a JSON parser
            // (body-parser, with the same types) took it: it marks the request `_body`.
            isJson: withBody && ((x.req as { _body?: boolean })._body === true || x.req.is(['application/json', 'application/*+json']) !== false),
          },
          // The mock's own admin bodies are described by its own schema, which forbids
          // unlisted fields: a typo there ("statuz") must not silently change what the mock does.
          x.op.document === 'admin' ? 'reject' : unknownFields,
          (ignored) => {
            x.ignoredFields = ignoredList(ignored);
            x.res.setHeader('X-Fgw-Ignored-Fields', x.ignoredFields);
          },
        );
        x.params = valid.params;
        x.query = valid.query;
        x.body = valid.body;
      }
      return next();
    },
  };
}

/**
 * Calls the operation's handler. An exchange without an operation (an unknown route, or
 * a method the path does not have) is a JSON 404, or a 405 with `Allow`.
 */
export function handlerStep(handlers: ReadonlyMap<string, Handler>, router: Router): Step {
  return {
    name: STEP.handler,
    async run(x) {
      if (x.failure !== undefined) throw x.failure;
      if (x.op) {
        x.result = await (handlers.get(x.op.id) as Handler)(x as Ctx);
        return;
      }
      const path = x.req.path;
      const allowed = router.allowed(path);
      if (allowed.length > 0) {
        throw new HttpError(405, `${x.req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}.`, 'method_not_allowed', { Allow: allowed.join(', ') });
      }
      throw new GatewayError('not_found', `No route for ${x.req.method} ${path}.`, 'route_not_found');
    },
  };
}

/** Ignored field paths as one header-safe line: visible ASCII, at most 20 names. */
function ignoredList(paths: string[]): string {
  const shown = paths.slice(0, 20).map((p) => (p.length > 100 ? `${p.slice(0, 100)}...` : p).replace(/[^\x20-\x7e]|,/g, '?'));
  return shown.join(', ') + (paths.length > 20 ? `, ... (${paths.length - 20} more)` : '');
}
