import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/**
 * A webhook receiver on 127.0.0.1 for the tests of a file (or describe block): started
 * before them, closed after them; it answers 200 and keeps every body it was sent, in
 * order, in `bodies`. Read `url` and `bodies` inside the tests, once beforeAll has run.
 */
export function receiverPerFile(): { readonly url: string; readonly bodies: string[] } {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      res.end();
    });
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  });
  afterAll(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return {
    get url() {
      if (!url) throw new Error('receiverPerFile: used before its beforeAll ran');
      return url;
    },
    bodies,
  };
}
