/** The part of a response a wait needs (an http.ServerResponse in production). */
export interface Closable {
  readonly destroyed: boolean;
  once(event: 'close', fn: () => void): unknown;
  on(event: 'timeout', fn: () => void): unknown;
  off(event: 'close' | 'timeout', fn: () => void): unknown;
}

/**
 * Waits `ms`, or less when the client goes away first (the response closes). A wait on
 * the request path (injected latency, `--latency-ms`) thus ends as soon as nobody waits
 * for its answer: the exchange stops there and is journaled as `aborted`, with the time
 * the client left. The `close` listener exists only while waiting.
 *
 * The mock is the one keeping the socket quiet meanwhile, so the server's idle timeout
 * (Node's `server.timeout`, which destroys a socket without traffic unless a `timeout`
 * listener handles it) must not end the exchange: a `timeout` listener on the response,
 * also only while waiting, keeps the socket (its timer starts again with the answer).
 */
export function waitWhileConnected(res: Closable, ms: number): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      res.off('timeout', keepSocket);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
    res.on('timeout', keepSocket);
  });
}

/** Handles a socket's idle timeout by keeping it (see waitWhileConnected). */
function keepSocket(): void {}
