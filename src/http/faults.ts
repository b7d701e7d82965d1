import { badRequest, notFound } from '../domain/errors.js';
import { IdSource } from '../domain/ids.js';
import { HttpError } from './errors.js';
import type { AppliedFault, Exchange, Next, Step } from './pipeline.js';
import { waitWhileConnected } from './wait.js';
import type { Fault, FaultInput } from '../generated/mock-admin.js';

/**
 * Fault injection for testing a client's resilience (POST/GET/DELETE /_mock/faults): make
 * one gateway operation, or all of them, answer with a chosen status and body, wait
 * before answering, or drop the connection, for the next N calls and/or a fraction of
 * calls. The mock's own /_mock/ routes are never faulted.
 *
 * Which calls a `fraction` hits is deterministic: without a `seed`, evenly spaced (call n
 * of the rule's matching calls is hit when floor(n * fraction) grows, so 0.5 hits every
 * second call and 0.25 every fourth); with a `seed`, each call draws from a stream seeded
 * with it (src/domain/ids.ts), so the same seed hits the same calls, run after run.
 * Rules are tried in the order they were added; the first that hits applies.
 */

/** A fault rule as POST /_mock/faults takes it, and as it is listed (generated from the admin spec). */
export type { Fault, FaultInput };
export type { AppliedFault };

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers that frame the response; a fault may not set them. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'content-type']);

/** At most this many active rules: each is kept, and tried on every gateway call. */
export const MAX_FAULTS = 100;
/** A fault's `body`, as JSON, is at most this many bytes (UTF-8). */
export const MAX_FAULT_BODY_BYTES = 64 * 1024;

export class FaultBook {
  private faults: { fault: Fault; draw: IdSource | null }[] = [];
  private counter = 0;

  /** `operations`: the gateway operationIds a fault may name. */
  constructor(private readonly operations: readonly string[]) {}

  /** Adds a rule, or throws a 400 saying what is wrong with it. */
  add(input: FaultInput): Fault {
    const operation = input.operation ?? '*';
    if (operation !== '*' && !this.operations.includes(operation)) {
      throw badRequest(`operation "${operation}" is not a gateway operationId; use "*" or one of: ${this.operations.join(', ')}.`, 'unknown_operation', 'operation');
    }
    const drop = input.drop === true;
    if (input.status === undefined && !drop && !(input.latency_ms !== undefined && input.latency_ms > 0)) {
      throw badRequest('A fault needs at least one of status, latency_ms (> 0) or drop: true.', 'empty_fault', null);
    }
    if (drop && input.status !== undefined) {
      throw badRequest('A fault either answers with a status or drops the connection, not both.', 'conflicting_fault', 'drop');
    }
    for (const [name, value] of Object.entries(input.headers ?? {})) {
      if (!HEADER_NAME.test(name)) throw badRequest(`headers: "${name}" is not a valid HTTP header name.`, 'invalid_header', `headers.${name}`);
      if (!HEADER_VALUE.test(value)) throw badRequest(`headers.${name}: the value holds a control character.`, 'invalid_header', `headers.${name}`);
      if (FRAMING.has(name.toLowerCase())) throw badRequest(`headers.${name}: the mock sets ${name} itself.`, 'invalid_header', `headers.${name}`);
    }
    if (this.faults.length >= MAX_FAULTS) {
      throw badRequest(`At most ${MAX_FAULTS} faults may be active at once; remove some first (DELETE /_mock/faults).`, 'too_many_faults', null);
    }
    if (input.body !== undefined) {
      const bytes = Buffer.byteLength(JSON.stringify(input.body));
      if (bytes > MAX_FAULT_BODY_BYTES) throw badRequest(`body is ${bytes} bytes as JSON; a fault's body may be at most ${MAX_FAULT_BODY_BYTES} bytes.`, 'fault_too_large', 'body');
    }
    const fault: Fault = {
      id: `fault_${++this.counter}`,
      operation,
      status: input.status ?? null,
      body: input.status === undefined ? null : (input.body ?? null),
      headers: input.headers ?? {},
      latency_ms: input.latency_ms ?? 0,
      drop,
      remaining: input.times ?? null,
      fraction: input.fraction ?? 1,
      seed: input.seed ?? null,
      matched: 0,
      applied: 0,
    };
    this.faults.push({ fault, draw: fault.seed === null ? null : new IdSource(fault.seed) });
    return structuredClone(fault);
  }

  list(): Fault[] {
    return this.faults.map((f) => structuredClone(f.fault));
  }

  remove(id: string): Fault {
    const i = this.faults.findIndex((f) => f.fault.id === id);
    if (i < 0) throw notFound(`No active fault ${id}; GET /_mock/faults lists them.`, 'fault_not_found', 'fault_id');
    return (this.faults.splice(i, 1)[0] as { fault: Fault }).fault;
  }

  clear(): void {
    this.faults = [];
  }

  /** The rule that hits this call of `operationId`, if any; counts the call and expires spent rules. */
  pick(operationId: string): Fault | undefined {
    for (const entry of this.faults) {
      const f = entry.fault;
      if (f.operation !== '*' && f.operation !== operationId) continue;
      f.matched += 1;
      if (!hits(f.fraction, f.matched, entry.draw)) continue;
      f.applied += 1;
      if (f.remaining !== null) {
        f.remaining -= 1;
        if (f.remaining <= 0) this.faults.splice(this.faults.indexOf(entry), 1);
      }
      return f;
    }
    return undefined;
  }
}

function hits(fraction: number, n: number, draw: IdSource | null): boolean {
  if (fraction >= 1) return true;
  if (draw) return draw.bytes(4).readUInt32BE(0) / 2 ** 32 < fraction;
  return Math.floor(n * fraction) > Math.floor((n - 1) * fraction);
}

/**
 * Applies injected faults to gateway operations. Joins after `parse` (so the journal has
 * the request body) and before `authenticate` (an outage answers whoever calls).
 */
export function faultStep(book: FaultBook): Step {
  return {
    name: 'faults',
    run(x, next) {
      if (x.op?.document !== 'gateway') return next();
      const f = book.pick(x.op.id);
      // No fault: pass on synchronously (no promise of this step's own).
      if (!f) return next();
      return apply(x, next, f);
    },
  };
}

/** Shapes this exchange by the fault: a wait, a dropped connection, or an answer in the handler's place. */
async function apply(x: Exchange, next: Next, f: Fault): Promise<void> {
  x.fault = { id: f.id, status: f.status, latency_ms: f.latency_ms, drop: f.drop };
  if (f.latency_ms > 0) await waitWhileConnected(x.res, f.latency_ms);
  if (x.res.destroyed) return; // the client gave up while waiting
  if (f.drop) {
    x.res.destroy();
    return;
  }
  if (f.status === null) return next();
  // Without a body of its own, the answer is an error in the mock's error form.
  if (f.body === null) throw new HttpError(f.status, `Injected by the mock (${f.id}): this call answers ${f.status}.`, 'injected_fault', f.headers);
  x.result = { status: f.status, headers: f.headers, body: f.body };
}
