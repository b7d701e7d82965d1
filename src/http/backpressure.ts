/** What a writer waits on when the socket's buffer is full: `drain`, or the client leaving (`close`). */
export interface Drainable {
  once(event: 'drain' | 'close', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
}

/** Resolves on 'drain' or 'close', whichever comes first (streams with backpressure: sse.ts, json-stream.ts). */
export function drainedOrClosed(sink: Drainable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.once('drain', done);
    sink.once('close', done);
  });
}
