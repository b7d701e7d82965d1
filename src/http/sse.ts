import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { drainedOrClosed } from './backpressure.js';

/**
 * Writes server-sent events so that a long stream neither blocks the event loop nor
 * buffers without bound: it waits for 'drain' whenever the socket is full, yields to
 * other requests every few events, and stops as soon as the client goes away.
 */

/** The part of a response the writer needs (an http.ServerResponse in production). */
export interface EventSink {
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  once(event: 'drain' | 'close', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

/** Events written between two yields to the event loop. */
export const EVENTS_PER_YIELD = 32;

/** Sends each value as `data: <json>`, then `data: [DONE]`; returns false when the client left first. */
export async function writeEvents(sink: EventSink, events: Iterable<unknown>): Promise<boolean> {
  let closed = sink.destroyed;
  const onClose = () => {
    closed = true;
  };
  sink.once('close', onClose);
  try {
    let n = 0;
    for (const event of events) {
      if (closed || sink.destroyed) return false;
      if (!sink.write(`data: ${JSON.stringify(event)}\n\n`)) await drainedOrClosed(sink);
      n += 1;
      if (n % EVENTS_PER_YIELD === 0) await yieldToLoop();
    }
    if (closed || sink.destroyed) return false;
    sink.end('data: [DONE]\n\n');
    return true;
  } finally {
    sink.off('close', onClose);
  }
}
