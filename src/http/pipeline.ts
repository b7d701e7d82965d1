import type { Request, Response } from 'express';
import type { Workspace } from '../domain/records.js';
import type { Refusal } from '../domain/refusal.js';
import type { FederatedCaller } from '../service/access.js';
import type { Operation } from './spec.js';

/**
 * The request path as a pipe of named steps, in the spirit of Prism's pipeline and
 * koa's middleware: each step gets the exchange and `next`, does its part before and/or
 * after the steps inside it, and may answer without calling `next`. A feature (a
 * journal, fault injection, ...) joins by adding a step before or after a named one,
 * without editing the others. The chain is composed once, not per request.
 */

/**
 * A JSON response; a text one (`text` with its content type, e.g. the inspector's HTML);
 * or `streamed` when the handler wrote the response itself.
 */
export type HandlerResult =
  | { status?: number; body: unknown; headers?: Record<string, string> }
  | { status?: number; text: string; contentType: string; headers?: Record<string, string> }
  | { streamed: true };

/** What the journal records of an injected fault that shaped an exchange (src/http/faults.ts). */
export interface AppliedFault {
  id: string;
  status: number | null;
  latency_ms: number;
  drop: boolean;
}

/**
 * One request on its way through the steps. `M` is what handlers can reach (the mock's
 * services, src/http/context.ts); the steps themselves need none of it.
 */
export interface Exchange<M = unknown> {
  req: Request;
  res: Response;
  /** The operation the route belongs to; undefined for an unknown route or method. */
  op: Operation | undefined;
  requestId: string;
  /** When the exchange began (performance.now()). */
  startedAt: number;
  params: Record<string, string>;
  query: Record<string, unknown>;
  /** The validated body (typed per operation in a handler's Ctx, src/http/registry.ts). */
  body: unknown;
  /** Set by authentication for `x-fgw-auth: workspace` operations. */
  workspace?: Workspace;
  /** Set by authentication for `x-fgw-auth: federated` operations. */
  caller?: FederatedCaller;
  mock: M;
  /** Unknown body fields validation dropped, as one header-safe line (see validateStep). */
  ignoredFields?: string;
  /** A remark for the log (and, as the X-Fgw-Note header, the journal and inspector): where the live gateway would answer otherwise. */
  note?: string;
  /** What the handler (or a step answering in its place) answered. */
  result?: HandlerResult;
  /** An error raised before the pipeline (Express could not route the request); the handler step throws it. */
  failure?: unknown;
  /**
   * What serialisation sent, for the steps outside it: the status and the JSON body
   * (undefined for a stream), with the body's text when it was written compact.
   */
  sent?: { status: number; body: unknown; text?: string };
  /** Set by the fault step when an injected fault shaped this exchange. */
  fault?: AppliedFault;
  /** Set by serialisation when a limit refused the request (a 429): which one (src/domain/refusal.ts). */
  refusal?: Refusal;
}

export type Next = () => Promise<void>;

export interface Step {
  name: string;
  run(x: Exchange, next: Next): Promise<void> | void;
}

export type Placement = { before: string } | { after: string };

const DONE: Promise<void> = Promise.resolve();

export class Pipeline {
  private steps: Step[];
  private chain: ((x: Exchange) => Promise<void>) | undefined;

  constructor(steps: Step[]) {
    this.steps = [...steps];
    this.assertUnique();
  }

  /** The steps' names, outermost first. */
  names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Adds `step` just before (outside) or after (inside) the step named in `where`. */
  add(step: Step, where: Placement): this {
    const anchor = 'before' in where ? where.before : where.after;
    const i = this.steps.findIndex((s) => s.name === anchor);
    if (i < 0) throw new Error(`pipeline: no step named "${anchor}" (steps: ${this.names().join(', ')})`);
    this.steps.splice('before' in where ? i : i + 1, 0, step);
    this.assertUnique();
    this.chain = undefined;
    return this;
  }

  /** Runs the exchange through every step. */
  run(x: Exchange): Promise<void> {
    this.chain ??= this.compose();
    return this.chain(x);
  }

  private compose(): (x: Exchange) => Promise<void> {
    let inner: (x: Exchange) => Promise<void> = () => DONE;
    for (const step of [...this.steps].reverse()) {
      const next = inner;
      // Not an async function: a step that passes on synchronously (most do) costs no
      // promise and no microtask of its own. A throw still becomes a rejection and a
      // step's result is always a promise, so `next()` keeps its contract.
      inner = (x) => {
        try {
          const r = step.run(x, () => next(x));
          return r instanceof Promise ? r : DONE;
        } catch (err) {
          return Promise.reject(err);
        }
      };
    }
    return inner;
  }

  private assertUnique(): void {
    const names = this.names();
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new Error(`pipeline: two steps named "${dup}"`);
  }
}
