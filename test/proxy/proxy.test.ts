import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type RunningMock } from '../../src/index.js';
import { RULES } from '../../src/proxy/rules.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';

/**
 * The validating proxy in front of the mock: the README walk goes through it with no
 * violation, every byte comes back as the upstream sent it, an event stream is passed on
 * chunk by chunk, and nothing it keeps or reports holds a secret.
 */

const KEY = 'mock-management-key';
let mock: RunningMock;
let proxy: RunningProxy;

beforeAll(async () => {
  mock = await startMock();
  proxy = await startProxy({ upstream: mock.url });
});
afterAll(async () => {
  await proxy?.close();
  await mock?.close();
});

const api = async (method: string, path: string, body?: unknown, key = KEY) => {
  const res = await fetch(`${proxy.url}${path}`, {
    method,
    headers: { Authorization: `Api-Key ${key}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
};

/** Waits until the proxy has judged `n` exchanges (it judges once a response has ended). */
async function judged(n: number) {
  for (let i = 0; i < 100 && proxy.totals().exchanges < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(proxy.totals().exchanges).toBeGreaterThanOrEqual(n);
}

const minted: string[] = [];

describe('the README walk through the proxy', () => {
  it('endpoint, group, key, an OpenAI SDK call and a streamed one, list, update: no violation', async () => {
    const endpoint = await api('POST', '/v1/gateway/endpoints', { slug: 'your-org/your-model', targets: [{ provider: 'BASETEN', model_id: 'abc123' }] });
    expect(endpoint.status, endpoint.text).toBe(200);
    const group = await api('POST', '/v1/gateway/groups', {
      metadata: { name: 'Acme prod', external_entity_id: 'cust_42' },
      models: [
        {
          slug: 'your-org/your-model',
          rate_limits: [
            { type: 'TOKEN', unit: 'MINUTE', threshold: 1000000 },
            { type: 'REQUEST', unit: 'MINUTE', threshold: 100 },
          ],
          usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 10000000 }],
        },
      ],
      hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
    });
    expect(group.status, group.text).toBe(200);
    const child = await api('POST', '/v1/gateway/groups', {
      metadata: { name: 'Acme team', external_entity_id: 'cust_42_team' },
      models: [{ slug: 'your-org/your-model', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 50 }] }],
      hierarchy: { parent_group_id: group.body.id },
    });
    expect(child.status, child.text).toBe(200);
    const key = await api('POST', `/v1/gateway/groups/${group.body.id}/api_keys`, { name: 'prod-key-1' });
    expect(key.status).toBe(200);
    minted.push(key.body.api_key);
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: key.body.api_key, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'your-org/your-model', messages: [{ role: 'user', content: 'Hello, world!' }] });
    expect(completion.choices[0]?.message.content).toContain('Hello, world!');
    const stream = await client.chat.completions.create({ model: 'your-org/your-model', messages: [{ role: 'user', content: 'Hello, stream!' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toContain('Hello, stream!');
    expect((await api('GET', '/v1/gateway/groups')).status).toBe(200);
    expect((await api('GET', '/v1/gateway/groups?external_entity_id=cust_42')).body.items).toHaveLength(1);
    const patched = await api('PATCH', `/v1/gateway/groups/${group.body.id}`, { models: [{ slug: 'your-org/your-model', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1500000 }] }] });
    expect(patched.status, patched.text).toBe(200);
    expect((await api('GET', `/v1/gateway/groups/${child.body.id}`)).status).toBe(200);
    expect((await api('GET', `/v1/gateway/groups/${group.body.id}/api_keys`)).status).toBe(200);
    expect((await api('GET', `/v1/gateway/groups/${group.body.id}/usage`)).status).toBe(200);
    await judged(12);
    expect(proxy.verdicts().filter((v) => v.kind === 'violation')).toEqual([]);
    const report = await proxy.report();
    expect(report.totals.failed).toBe(0);
    expect(report.rules.find((r) => r.id === 'hierarchy/effective-models-of-every-descendant-follows-a-change-anywhere-above-it')?.status).toBe('passed');
    // What it learned, for --record: the groups, the endpoint, the key by prefix only.
    const learned = proxy.learned();
    expect(learned.groups.map((g: any) => g.id).sort()).toEqual([group.body.id, child.body.id].sort());
    expect(learned.endpoints.map((e: any) => e.slug)).toEqual(['your-org/your-model']);
    expect(learned.keys).toEqual([{ group_id: group.body.id, prefix: key.body.prefix, name: 'prod-key-1' }]);
  });

  it('a revoked key used for inference, a deleted group read back: the honest mock refuses both, so the report has those rules passed (none violated), and the report and inspector data keep no secret', async () => {
    // The honest mock refuses both: no violation, and the verdict-free exchanges are journaled.
    const g = await api('POST', '/v1/gateway/groups', { metadata: { external_entity_id: 'doomed' }, models: [{ slug: 'your-org/your-model' }], hierarchy: {} });
    const k = await api('POST', `/v1/gateway/groups/${g.body.id}/api_keys`, {});
    minted.push(k.body.api_key);
    expect((await api('DELETE', `/v1/gateway/groups/${g.body.id}/api_keys/${k.body.prefix}`)).status).toBe(200);
    const refused = await api('POST', '/v1/chat/completions', { model: 'your-org/your-model', messages: [{ role: 'user', content: 'hi' }] }, k.body.api_key);
    expect(refused.status).toBe(401);
    expect((await api('DELETE', `/v1/gateway/groups/${g.body.id}`)).status).toBe(200);
    expect((await api('GET', `/v1/gateway/groups/${g.body.id}`)).status).toBe(404);
    await judged(18);
    expect(proxy.verdicts().filter((v) => v.kind === 'violation')).toEqual([]);
    const statusOf = async (id: string) => (await proxy.report()).rules.find((r) => r.id === id)?.status;
    expect(await statusOf(RULES.revokedRefused.id)).toBe('passed');
    expect(await statusOf(RULES.subtree404.id)).toBe('passed');
    const kept = JSON.stringify([await proxy.report(), proxy.inspectorData(1000), proxy.verdicts(), proxy.learned(), await proxy.junit()]);
    expect(minted).toHaveLength(2);
    for (const key of minted) {
      expect(kept).not.toContain(key);
      expect(kept).not.toContain(key.slice(key.indexOf('.') + 1));
    }
    expect(kept).not.toContain(KEY);
    expect(kept).toContain('[redacted]');
  });

  it('a rule is passed only once the traffic reached its condition: a lone revoke leaves "a revoked key is refused by inference" not exercised', async () => {
    const own = await startProxy({ upstream: mock.url });
    try {
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${own.url}${path}`, { method, headers: { Authorization: `Api-Key ${KEY}`, 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      const g = await call('POST', '/v1/gateway/groups', { metadata: { external_entity_id: 'lone-revoke' }, models: [{ slug: 'your-org/your-model' }], hierarchy: {} });
      const k = await call('POST', `/v1/gateway/groups/${g.body.id}/api_keys`, {});
      expect((await call('DELETE', `/v1/gateway/groups/${g.body.id}/api_keys/${k.body.prefix}`)).status).toBe(200);
      for (let i = 0; i < 100 && own.totals().exchanges < 3; i++) await new Promise((r) => setTimeout(r, 10));
      const status = new Map((await own.report()).rules.map((r) => [r.id, r.status]));
      expect(status.get(RULES.revokedRefused.id)).toBe('not-exercised');
      // A create with its metadata does not exercise "create: metadata is required"; its read-back rule is.
      expect(status.get(RULES.metadataRequired.id)).toBe('not-exercised');
      expect(status.get(RULES.readsBackAsCreated.id)).toBe('passed');
    } finally {
      await own.close();
    }
  });

  it('serves the inspector page and its data under /_proxy/, never forwarding them', async () => {
    const page = await fetch(`${proxy.url}/_proxy/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<html');
    const data = (await (await fetch(`${proxy.url}/_proxy/inspector.json?tail=5`)).json()) as any;
    expect(Object.keys(data)).toEqual(expect.arrayContaining(['now', 'offset_seconds', 'workspaces', 'journal', 'webhooks', 'events', 'faults', 'proxy']));
    expect(data.journal).toHaveLength(5);
    expect(data.journal[0]).toMatchObject({ method: expect.any(String), path: expect.any(String), status: expect.any(Number), verdicts: expect.any(Array) });
    expect(data.proxy).toMatchObject({ upstream: mock.url, inference_upstream: mock.url, violations: 0 });
    expect(data.proxy.exchanges).toBeGreaterThanOrEqual(18);
    const report = (await (await fetch(`${proxy.url}/_proxy/report.json`)).json()) as any;
    expect(report.format).toBe('frontier-gateway-mock/conformance-report');
    const xml = await (await fetch(`${proxy.url}/_proxy/report.xml`)).text();
    expect(xml).toMatch(/^<\?xml/);
    expect(xml).toContain('classname="keys"');
    expect((await fetch(`${proxy.url}/_proxy/nothing`)).status).toBe(404);
    expect((await fetch(`${proxy.url}/_proxy/report.json`, { method: 'POST' })).status).toBe(405);
    expect(mock.mock.journal.list({ path: '/_proxy' })).toEqual([]);
  });
});

describe('forwarding', () => {
  let upstream: Server;
  let upstreamUrl = '';
  let through: RunningProxy;
  /** Resolves the SSE upstream's second chunk when the test says so. */
  let release: () => void = () => {};
  let seenHeaders: Record<string, string | string[] | undefined> = {};
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seenHeaders = req.headers;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/gateway/groups?gz=1') {
          // A compressed answer whose body breaks the schema: passed on compressed, judged decoded.
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'X-Request-Id': 'gz-1' });
          res.end(gzipSync('{"items":"not a list","pagination":{"has_more":false}}'));
          return;
        }
        if (req.url === '/v1/chat/completions') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'X-Request-Id': 'sse-1' });
          res.write('data: {"first":true}\n\n');
          release = () => {
            res.write('data: {"second":true}\n\n');
            res.end('data: [DONE]\n\n');
          };
          return;
        }
        // Odd bytes and headers a proxy might be tempted to touch.
        const body = Buffer.concat([Buffer.from('{"echo":'), Buffer.from(JSON.stringify(Buffer.concat(chunks).toString('base64'))), Buffer.from(',"x":"\u00e9"}  \n')]);
        res.writeHead(418, 'Odd Status', [
          'Content-Type', 'application/json; charset=utf-8',
          'X-Weird-Case', 'Kept',
          'Set-Cookie', 'a=1',
          'Set-Cookie', 'b=2',
          'X-Request-Id', 'odd-1',
          'Content-Length', String(body.length),
        ]);
        res.end(body);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    through = await startProxy({ upstream: upstreamUrl });
  });
  afterAll(async () => {
    await through?.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('forwards method, path, query, headers and body as they came, and answers status, headers and body byte for byte', async () => {
    const sent = Buffer.from([0, 1, 2, 250, 255, 10]);
    const res = await new Promise<{ status: number; message: string; raw: string[]; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${through.url}/v1/something/else?b=2&a=1&a=0`, { method: 'PUT', headers: { 'X-Custom': 'yes', 'Content-Type': 'application/octet-stream', Connection: 'keep-alive, X-Drop', 'X-Drop': 'hop' } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode as number, message: r.statusMessage as string, raw: r.rawHeaders, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(sent);
    });
    expect(res.status).toBe(418);
    expect(res.message).toBe('Odd Status');
    expect(res.body.toString('utf8')).toBe(`{"echo":${JSON.stringify(sent.toString('base64'))},"x":"\u00e9"}  \n`);
    const pairs = [];
    for (let i = 0; i < res.raw.length; i += 2) pairs.push(`${res.raw[i]}: ${res.raw[i + 1]}`);
    expect(pairs).toEqual(expect.arrayContaining(['X-Weird-Case: Kept', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'Content-Type: application/json; charset=utf-8']));
    expect(seenHeaders['x-custom']).toBe('yes');
    expect(seenHeaders['x-drop'], 'a header the Connection header names is hop-by-hop').toBeUndefined();
    expect(seenHeaders.host).toBe(new URL(upstreamUrl).host);
  });

  it('passes a compressed body on as it came, and judges it decoded', async () => {
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${through.url}/v1/gateway/groups?gz=1`, { headers: { 'Accept-Encoding': 'gzip' } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ encoding: r.headers['content-encoding'], body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(raw.encoding).toBe('gzip');
    expect(raw.body.equals(gzipSync('{"items":"not a list","pagination":{"has_more":false}}'))).toBe(true);
    for (let i = 0; i < 100 && !through.verdicts().some((v) => v.path === '/v1/gateway/groups'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(through.verdicts().filter((v) => v.path === '/v1/gateway/groups').map((v) => [v.rule, v.kind])).toEqual([['responses/every-response-has-a-documented-status-and-content-type-and-a-body-the-published-schema-allows', 'violation']]);
  });

  it('does not judge a request body it could not read (compressed here) as no body', async () => {
    const before = through.totals().exchanges;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${through.url}/v1/gateway/groups/g-unread`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode as number));
      });
      req.on('error', reject);
      req.end(gzipSync('{"models":[]}'));
    });
    expect(status).toBe(418);
    for (let i = 0; i < 100 && through.totals().exchanges <= before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(through.totals().exchanges).toBeGreaterThan(before);
    // An upstream that accepts it (here: anything but 400) is not answering an "empty" PATCH.
    expect(through.verdicts().filter((v) => v.path === '/v1/gateway/groups/g-unread').map((v) => v.rule)).not.toContain(RULES.patchEmpty.id);
  });

  it('passes an event stream on chunk by chunk, before the upstream has finished it', async () => {
    const before = through.totals().exchanges;
    const res = await fetch(`${through.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    // The first chunk arrives while the upstream still holds the second.
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe('data: {"first":true}\n\n');
    release();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
    expect(rest).toBe('data: {"second":true}\n\ndata: [DONE]\n\n');
    for (let i = 0; i < 100 && through.totals().exchanges <= before; i++) await new Promise((r) => setTimeout(r, 10));
    const entry = (through.inspectorData(1).journal as any[])[0];
    expect(entry).toMatchObject({ path: '/v1/chat/completions', outcome: 'streamed', response: { body: { streamed: true } } });
  });

  it('sends inference routes to --inference-upstream and the rest to --upstream', async () => {
    const hits: string[] = [];
    const inference = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"object":"list","data":[]}');
    });
    await new Promise<void>((r) => inference.listen(0, '127.0.0.1', r));
    const split = await startProxy({ upstream: upstreamUrl, inferenceUpstream: `http://127.0.0.1:${(inference.address() as AddressInfo).port}/` });
    try {
      expect((await fetch(`${split.url}/v1/models`)).status).toBe(200);
      expect((await fetch(`${split.url}/v1/gateway/groups?limit=1`)).status).toBe(418);
      expect(hits).toEqual(['GET /v1/models']);
      expect(split.inspectorData().proxy).toMatchObject({ upstream: upstreamUrl, inference_upstream: `http://127.0.0.1:${(inference.address() as AddressInfo).port}` });
    } finally {
      await split.close();
      inference.closeAllConnections();
      await new Promise<void>((r) => inference.close(() => r()));
    }
  });

  it('answers 502 with a JSON error when the upstream cannot be reached, and judges nothing of it', async () => {
    const nowhere = await startProxy({ upstream: 'http://127.0.0.1:1' });
    try {
      const res = await fetch(`${nowhere.url}/v1/gateway/groups`);
      expect(res.status).toBe(502);
      expect(((await res.json()) as any).error).toMatch(/cannot reach the upstream/);
      expect(nowhere.totals()).toMatchObject({ exchanges: 1, violations: 0 });
    } finally {
      await nowhere.close();
    }
  });
});
