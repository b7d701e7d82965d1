/** The mock server's timeouts for slow and idle clients: Node's own http server knobs (see startMock). */

/** Node's http server timeouts, in ms (DEFAULT_TIMEOUTS when not given). */
export interface ServerTimeouts {
  /** server.headersTimeout: a request's headers must arrive within this. */
  headersMs?: number;
  /** server.requestTimeout: a whole request (headers and body) must arrive within this. */
  requestMs?: number;
  /** server.keepAliveTimeout: an idle keep-alive connection is closed after this, once a response was sent. */
  keepAliveMs?: number;
  /**
   * server.timeout: a socket without traffic for this long is closed, such as a connection
   * that never sends a request. A wait of the mock's own (injected latency, --latency-ms)
   * does not count.
   */
  idleMs?: number;
}

export const DEFAULT_TIMEOUTS: Required<ServerTimeouts> = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, idleMs: 30_000 };
