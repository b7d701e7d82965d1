import type { ServerResponse } from 'node:http';
import { drainedOrClosed } from './backpressure.js';

/**
 * Large admin views (GET /_mock/state, /_mock/webhooks, /_mock/inspector.json) written as
 * JSON piece by piece instead of one string: a view of a few hundred MB would otherwise
 * exceed V8's longest string (500, `Invalid string length`) or take its size several
 * times in memory, and block the server while it is built. A `lazyArray` is produced one
 * item at a time as the socket takes them (waiting for 'drain' when it is full, yielding
 * to other requests every ITEMS_PER_YIELD items), so memory holds one item, not the view.
 * The text is the same as JSON.stringify(value, null, 2) of the view built whole.
 */

const LAZY = Symbol('lazyArray');

export interface LazyArray {
  readonly [LAZY]: Iterable<unknown>;
}

/** An array whose items are made as they are written. */
export const lazyArray = <T>(items: Iterable<T>): LazyArray => ({ [LAZY]: items });

export function* mapped<T, U>(items: Iterable<T>, fn: (item: T) => U): Iterable<U> {
  for (const item of items) yield fn(item);
}

export const ITEMS_PER_YIELD = 64;

type Sink = Pick<ServerResponse, 'write' | 'destroyed' | 'once' | 'off'>;

/** Writes `value` (plain JSON values, objects and lazy arrays) indented by 2, as JSON.stringify would; false when the client left first. */
export async function writeJson(sink: Sink, value: unknown): Promise<boolean> {
  let count = 0;
  const put = async (text: string): Promise<boolean> => {
    if (sink.destroyed) return false;
    if (!sink.write(text)) await drainedOrClosed(sink);
    return !sink.destroyed;
  };
  const write = async (v: unknown, pad: string): Promise<boolean> => {
    if (v !== null && typeof v === 'object' && LAZY in v) {
      const inner = `${pad}  `;
      let first = true;
      if (!(await put('['))) return false;
      for (const item of (v as LazyArray)[LAZY]) {
        if (!(await put(`${first ? '' : ','}\n${inner}`))) return false;
        first = false;
        if (!(await write(item, inner))) return false;
        if (++count % ITEMS_PER_YIELD === 0) await new Promise((r) => setImmediate(r));
      }
      return put(first ? ']' : `\n${pad}]`);
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).some(holdsLazy)) {
      const inner = `${pad}  `;
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (!(await put('{'))) return false;
      for (const [i, [k, x]] of entries.entries()) {
        if (!(await put(`${i === 0 ? '' : ','}\n${inner}${JSON.stringify(k)}: `))) return false;
        if (!(await write(x, inner))) return false;
      }
      return put(entries.length === 0 ? '}' : `\n${pad}}`);
    }
    const text = JSON.stringify(v, null, 2) ?? 'null';
    return put(pad === '' ? text : text.replace(/\n/g, `\n${pad}`));
  };
  return write(value, '');
}

function holdsLazy(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  return LAZY in v || (!Array.isArray(v) && Object.values(v).some(holdsLazy));
}

/** Answers 200 with `body` streamed as indented JSON (the admin routes' formatting); the handler's result says it streamed. */
export async function streamJson(res: ServerResponse, body: unknown): Promise<{ streamed: true }> {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  if (await writeJson(res, body)) res.end();
  return { streamed: true };
}
