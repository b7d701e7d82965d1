import type { operations as GatewayOperations } from '../generated/frontier-gateway.js';
import type { operations as AdminOperations } from '../generated/mock-admin.js';
import type { MockServices } from './context.js';
import type { Exchange, HandlerResult } from './pipeline.js';
import type { Operation } from './spec.js';

export type { HandlerResult };

/**
 * One registry of operationId -> handler for every route the server has, gateway and
 * admin alike. Start-up checks it against the spec both ways: an operation without a
 * handler, or a handler without an operation, stops the server with a clear message.
 */

/** Every operation of both documents by operationId, as openapi-typescript generates them from the spec. */
export type Operations = GatewayOperations & AdminOperations;
export type OperationId = keyof Operations & string;

type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type Part<P, K extends 'path' | 'query'> = K extends keyof P ? ([NonNullable<P[K]>] extends [never] ? Record<string, never> : NonNullable<P[K]>) : Record<string, never>;

/** The validated JSON body of operation `Id`: undefined when it takes none, possibly undefined when it is optional. */
export type BodyOf<Id extends OperationId> = Operations[Id] extends { requestBody?: infer R }
  ? [NonNullable<R>] extends [never]
    ? undefined
    : Operations[Id] extends { requestBody: object }
      ? Json<R>
      : Json<NonNullable<R>> | undefined
  : undefined;
/** Its path parameters (all strings) and its query, coerced and with the spec's defaults, by the validation step. */
export type PathOf<Id extends OperationId> = Part<Operations[Id]['parameters'], 'path'>;
export type QueryOf<Id extends OperationId> = Part<Operations[Id]['parameters'], 'query'>;

/** What a handler sees: the exchange of a request that matched an operation; `Id` types what validation let through. */
export type Ctx<Id extends OperationId | undefined = undefined> = Exchange<MockServices> & { op: Operation } & (Id extends OperationId
    ? { body: BodyOf<Id>; params: PathOf<Id>; query: QueryOf<Id> }
    : unknown);

export type Handler<Id extends OperationId | undefined = undefined> = (ctx: Ctx<Id>) => HandlerResult | Promise<HandlerResult>;

/** Handlers keyed by operationId, each typed by its operation's body, path and query. */
export type HandlerMap = { [Id in OperationId]?: Handler<Id> };

export class RegistryMismatchError extends Error {
  override name = 'RegistryMismatchError';
}

/** Pairs every operation with its handler; throws listing every mismatch in both directions. */
export function bindHandlers(operations: readonly Operation[], handlers: HandlerMap): Map<string, Handler> {
  const ids = new Set(operations.map((o) => o.id));
  const missing = [...ids].filter((id) => !(id in handlers));
  const orphans = Object.keys(handlers).filter((id) => !ids.has(id));
  if (missing.length || orphans.length) {
    const lines = [
      ...missing.map((id) => `  operation "${id}" in the spec has no handler`),
      ...orphans.map((id) => `  handler "${id}" has no operation in the spec`),
    ];
    throw new RegistryMismatchError(`The spec and the handler registry disagree:\n${lines.join('\n')}`);
  }
  return new Map(operations.map((o) => [o.id, handlers[o.id as OperationId] as unknown as Handler]));
}
