/** The part of a response a wait needs (an http.ServerResponse in production). */
export interface Closable {
  readonly destroyed: boolean;
  once(event: 'close', fn: () => void): unknown;
  off(event: 'close', fn: () => void): unknown;
}

/**
 * Waits `ms`, or less when the client goes away first (the response closes). A wait on
 * the request path (injected latency, `--latency-ms`) thus ends as soon as nobody waits
 * for its answer: the exchange stops there and is journaled as `aborted`, with the time
 * the client left. The `close` listener exists only while waiting.
 */
export function waitWhileConnected(res: Closable, ms: number): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}
