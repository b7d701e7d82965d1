import type { MockServices } from './context.js';
import type { Exchange, HandlerResult } from './pipeline.js';
import type { Operation } from './spec.js';

export type { HandlerResult };

/**
 * One registry of operationId -> handler for every route the server has, gateway and
 * admin alike. Start-up checks it against the spec both ways: an operation without a
 * handler, or a handler without an operation, stops the server with a clear message.
 */

/** What a handler sees: the exchange of a request that matched an operation. */
export type Ctx = Exchange<MockServices> & { op: Operation };

export type Handler = (ctx: Ctx) => HandlerResult | Promise<HandlerResult>;

export type HandlerMap = Record<string, Handler>;

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
  return new Map(operations.map((o) => [o.id, handlers[o.id] as Handler]));
}
