import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { buildReport, gatewayOperationIds, renderJunit, type ConformanceReport, type RuleRecord } from '../conformance-report.js';
import { ContractChecker } from '../contract.js';
import { Journal, type JournalEntry, type NewJournalEntry } from '../http/journal.js';
import { redactedJson, redactHeaders, redactQuery } from '../http/redact.js';
import { PACKAGE_ROOT } from '../paths.js';
import { TrafficChecker, type ObservedWorkspace, type Verdict } from './checker.js';
import { JUDGED_OPERATIONS, PROXY_RULES, RULES, type RuleKey } from './rules.js';

/**
 * The validating proxy's server: forwards every request to the upstream unchanged
 * (hop-by-hop headers aside, and Host, which names the upstream) and every response back
 * unchanged, byte for byte, streamed as it arrives; meanwhile a copy of each body (up to
 * a bound) goes to the TrafficChecker once the exchange has ended. Its own routes live
 * under /_proxy/ and are never forwarded (docs/reference.md).
 */

export interface ProxyOptions {
  /** The management API (and, without `inferenceUpstream`, inference too). */
  upstream: string;
  inferenceUpstream?: string;
  /** Default 0: any free port. */
  port?: number;
  host?: string;
  /** Journal bounds (entries kept for the inspector). Default 1000 entries. */
  journalEntries?: number;
  /** A body bigger than this is passed through but not judged. Default 8 MiB. */
  maxJudgedBodyBytes?: number;
}

export interface ProxyTotals {
  exchanges: number;
  violations: number;
  observations: number;
}

export interface RunningProxy {
  url: string;
  port: number;
  upstream: string;
  inferenceUpstream: string;
  totals(): ProxyTotals;
  report(): Promise<ConformanceReport>;
  junit(): Promise<string>;
  inspectorData(tail?: number): Record<string, unknown>;
  learned(): ObservedWorkspace;
  /** Every verdict so far, oldest first (redacted), up to a bound. */
  verdicts(): (Verdict & { request_id: string; method: string; path: string })[];
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 section 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Inference routes go to the inference upstream; everything else to the management one. */
export function isInferencePath(path: string): boolean {
  return path === '/v1/chat/completions' || path === '/v1/models' || path.startsWith('/v1/models/');
}

/** A raw header list without hop-by-hop headers (and those the Connection header names), Host replaced when given. */
function forwardable(raw: string[], host?: string): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection') for (const n of (raw[i + 1] as string).split(',')) named.add(n.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || (host !== undefined && name === 'host')) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  if (host !== undefined) out.push('Host', host);
  return out;
}

function decoded(body: Buffer, encoding: string | undefined): Buffer | undefined {
  try {
    switch ((encoding ?? 'identity').trim().toLowerCase()) {
      case 'identity':
      case '':
        return body;
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(body);
      case 'deflate':
        return zlib.inflateSync(body);
      case 'br':
        return zlib.brotliDecompressSync(body);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function jsonOf(body: Buffer | undefined, contentType: string | undefined): unknown {
  if (!body || body.length === 0 || !/json/i.test(contentType ?? '')) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A copy of a stream's chunks up to `max` bytes; `over` once it went past. */
class Tap {
  chunks: Buffer[] = [];
  bytes = 0;
  over = false;
  constructor(private readonly max: number) {}
  push(c: Buffer): void {
    this.bytes += c.length;
    if (this.bytes > this.max) {
      this.over = true;
      this.chunks = [];
    } else if (!this.over) this.chunks.push(c);
  }
  get body(): Buffer | undefined {
    return this.over ? undefined : Buffer.concat(this.chunks);
  }
}

const INSPECTOR_PAGE = new URL('inspector/index.html', PACKAGE_ROOT);
const MAX_VERDICTS_KEPT = 10_000;

/** Whether a URL carries a user name or password: refused, as the proxy shows its upstreams in its banner and reports. */
export function hasUserinfo(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const upstream = new URL(options.upstream);
  const inferenceUpstream = new URL(options.inferenceUpstream ?? options.upstream);
  if (hasUserinfo(upstream.href) || hasUserinfo(inferenceUpstream.href)) {
    throw new Error('an upstream URL must not carry a user name or password (the gateway authenticates with the Api-Key header the client sends)');
  }
  const contract = await ContractChecker.load(false, 'documented');
  const checker = new TrafficChecker(contract);
  const journal = new Journal({ maxEntries: options.journalEntries ?? 1000 });
  const maxJudged = options.maxJudgedBodyBytes ?? 8 * 1024 * 1024;
  const verdictsByRequest = new Map<string, Verdict[]>();
  const kept: (Verdict & { request_id: string; method: string; path: string })[] = [];
  const ruleCounts = new Map<string, { violations: string[]; observations: Set<string>; violationCount: number }>();
  const seenOperations = new Set<string>();
  const totals: ProxyTotals = { exchanges: 0, violations: 0, observations: 0 };
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  const startedAt = new Date();

  const record = (id: string, method: string, path: string, verdicts: Verdict[]) => {
    if (verdicts.length === 0) return;
    verdictsByRequest.set(id, verdicts);
    // The journal drops its oldest entries; the verdicts kept beside it follow.
    while (verdictsByRequest.size > journal.maxEntries) verdictsByRequest.delete(verdictsByRequest.keys().next().value as string);
    for (const v of verdicts) {
      const c = ruleCounts.get(v.rule) ?? { violations: [], observations: new Set<string>(), violationCount: 0 };
      ruleCounts.set(v.rule, c);
      if (v.kind === 'violation') {
        totals.violations++;
        c.violationCount++;
        if (c.violations.length < 20) c.violations.push(`${method} ${path}: ${v.message}`);
      } else {
        totals.observations++;
        if (c.observations.size < 20) c.observations.add(v.message);
      }
      if (kept.length < MAX_VERDICTS_KEPT) kept.push({ ...v, request_id: id, method, path });
    }
  };

  const own = (req: IncomingMessage, res: ServerResponse, path: string, query: string | null) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'application/json', JSON.stringify({ error: `${req.method} is not allowed on ${path}; the proxy's own routes are read with GET.` }));
    if (path === '/_proxy') {
      res.writeHead(308, { location: '/_proxy/' });
      return res.end();
    }
    if (path === '/_proxy/') return send(200, 'text/html; charset=utf-8', readFileSync(INSPECTOR_PAGE, 'utf8'));
    if (path === '/_proxy/inspector.json') {
      const tail = Number(new URLSearchParams(query ?? '').get('tail') ?? 25);
      if (!Number.isInteger(tail) || tail < 0 || tail > 1000) return send(400, 'application/json', JSON.stringify({ error: 'tail must be an integer from 0 to 1000.' }));
      return send(200, 'application/json', JSON.stringify(running.inspectorData(tail), null, 2));
    }
    if (path === '/_proxy/report.json') return void running.report().then((r) => send(200, 'application/json', `${JSON.stringify(r, null, 2)}\n`));
    if (path === '/_proxy/report.xml') return void running.junit().then((x) => send(200, 'application/xml; charset=utf-8', x));
    if (path === '/_proxy/learned.json') return send(200, 'application/json', `${JSON.stringify(checker.learned(), null, 2)}\n`);
    return send(404, 'application/json', JSON.stringify({ error: `No such proxy route ${path}; see /_proxy/ (the inspector), /_proxy/inspector.json, /_proxy/report.json, /_proxy/report.xml, /_proxy/learned.json.` }));
  };

  const forward = (req: IncomingMessage, res: ServerResponse, path: string, query: string | null) => {
    const started = performance.now();
    const at = new Date().toISOString();
    const id = randomUUID();
    const base = isInferencePath(path) ? inferenceUpstream : upstream;
    const method = req.method ?? 'GET';
    const lowerHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) lowerHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    const pending = checker.begin({ method, path, query, headers: lowerHeaders, body: undefined });
    const reqTap = new Tap(maxJudged);
    const resTap = new Tap(maxJudged);
    const target = `${base.pathname.replace(/\/+$/, '')}${req.url ?? '/'}`;
    const out = (base.protocol === 'https:' ? https : http).request({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port || undefined,
      method,
      path: target,
      headers: forwardable(req.rawHeaders, base.host),
      agent: agents[base.protocol as 'http:' | 'https:'],
    });
    let status: number | null = null;
    let resHeaders: Record<string, string> = {};
    let outcome: JournalEntry['outcome'] = 'aborted';
    let done = false;
    // The exchange's journal entry: what the proxy knows of every exchange, plus what differs.
    const journalEntry = (fields: Pick<NewJournalEntry, 'status' | 'request' | 'response' | 'key_prefix' | 'group_id'>) =>
      journal.add({
        request_id: id,
        at,
        method,
        path,
        query: query === null ? null : redactQuery(query),
        operation: contract.operationFor(method, path)?.id ?? null,
        duration_ms: Math.round((performance.now() - started) * 10) / 10,
        outcome,
        fault: null,
        workspace_id: null,
        refusal: null,
        ...fields,
      });
    const finish = () => {
      if (done) return;
      done = true;
      totals.exchanges++;
      const reqBody = jsonOf(reqTap.body, lowerHeaders['content-type']);
      pending.req.body = reqBody;
      // A body sent but not read (over the bound, compressed, not JSON) is not "no body".
      pending.req.bodyUnread = reqTap.bytes > 0 && reqBody === undefined;
      const streamed = /text\/event-stream/i.test(resHeaders['content-type'] ?? '');
      const resBody = status === null || streamed ? undefined : jsonOf(decoded(resTap.body ?? Buffer.alloc(0), resHeaders['content-encoding']), resHeaders['content-type']);
      let verdicts: Verdict[] = [];
      if (status !== null && outcome !== 'aborted' && !resTap.over) {
        const op = contract.operationFor(method, path);
        if (op) seenOperations.add(op.id);
        verdicts = checker.end(pending, { status, headers: resHeaders, body: resBody, streamed });
      } else {
        // Not judged (no whole response), but the checker's count of writes in flight must close.
        checker.end(pending, { status: 0, headers: {}, body: undefined, streamed: true });
      }
      record(id, method, path, verdicts);
      journalEntry({
        status,
        request: { headers: redactHeaders(req.headers), body: reqTap.over ? JSON.stringify({ truncated: true, bytes: reqTap.bytes }) : redactedJson(checker.scrub(reqBody)) },
        response: {
          headers: redactHeaders(resHeaders),
          body: streamed ? JSON.stringify({ streamed: true }) : resTap.over ? JSON.stringify({ truncated: true, bytes: resTap.bytes }) : redactedJson(checker.scrub(resBody)),
        },
        ...checker.callerOf(pending),
      });
    };
    out.on('response', (upstreamRes) => {
      status = upstreamRes.statusCode ?? 502;
      resHeaders = {};
      for (const [k, v] of Object.entries(upstreamRes.headers)) if (v !== undefined) resHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      res.writeHead(status, upstreamRes.statusMessage, forwardable(upstreamRes.rawHeaders));
      // Each chunk goes on as it arrives (an event stream is never held back).
      res.flushHeaders();
      upstreamRes.on('data', (c: Buffer) => {
        resTap.push(c);
        // A slow client holds the upstream back rather than the proxy's memory.
        if (!res.write(c)) {
          upstreamRes.pause();
          res.once('drain', () => upstreamRes.resume());
        }
      });
      upstreamRes.on('end', () => {
        outcome = /text\/event-stream/i.test(resHeaders['content-type'] ?? '') ? 'streamed' : 'answered';
        res.end(finish);
      });
      upstreamRes.on('error', () => {
        res.destroy();
        finish();
      });
    });
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (done) return;
      if (res.destroyed) return finish();
      if (!res.headersSent) {
        status = 502;
        const message = `proxy: cannot reach the upstream ${base.origin}: ${e.code ?? e.message}`;
        resHeaders = { 'content-type': 'application/json' };
        res.writeHead(502, { 'content-type': 'application/json', 'x-fgw-proxy-error': 'upstream' });
        res.end(JSON.stringify({ error: message }));
        outcome = 'answered';
        // Not the upstream's answer: journaled, never judged.
        done = true;
        totals.exchanges++;
        checker.end(pending, { status: 0, headers: {}, body: undefined, streamed: true });
        journalEntry({
          status: 502,
          request: { headers: redactHeaders(req.headers), body: 'null' },
          response: { headers: resHeaders, body: JSON.stringify({ error: message }) },
          key_prefix: null,
          group_id: null,
        });
      } else {
        res.destroy();
        finish();
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        out.destroy();
        finish();
      }
    });
    req.on('data', (c: Buffer) => reqTap.push(c));
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? null : url.slice(q + 1);
    if (path === '/_proxy' || path.startsWith('/_proxy/')) return own(req, res, path, query);
    forward(req, res, path, query);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';

  const report = async (): Promise<ConformanceReport> => {
    // Passed only when the traffic reached the rule's condition (the checker evaluated it), not merely an operation it judges.
    const evaluated = checker.evaluatedRules();
    const rules: RuleRecord[] = PROXY_RULES.map((r) => {
      const key = (Object.keys(RULES) as RuleKey[]).find((k) => RULES[k].id === r.id) as RuleKey;
      const judged = JUDGED_OPERATIONS[key];
      const ops = judged === '*' ? [...seenOperations] : judged.filter((o) => seenOperations.has(o));
      const c = ruleCounts.get(r.id);
      const status = c && c.violationCount > 0 ? 'failed' : evaluated.has(r.id) ? 'passed' : 'not-exercised';
      return {
        id: r.id,
        name: r.name,
        area: r.area,
        file: r.file,
        kind: r.kind,
        source: 'the conformance suite rule of the same id, judged passively by frontier-gateway-mock proxy',
        status,
        ...(c && c.violationCount > 0 ? { error: `${c.violationCount} violation${c.violationCount === 1 ? '' : 's'}:\n${c.violations.join('\n')}` } : {}),
        observations: c ? [...c.observations] : [],
        operations: ops.sort(),
      };
    });
    return buildReport(
      { kind: 'validating proxy', baseUrl: upstream.href.replace(/\/$/, ''), inferenceBaseUrl: inferenceUpstream.href.replace(/\/$/, ''), runId: `proxy-${startedAt.toISOString()}`, dryRun: false, capabilities: [] },
      rules,
      await gatewayOperationIds(),
    );
  };

  const running: RunningProxy = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    upstream: upstream.href.replace(/\/$/, ''),
    inferenceUpstream: inferenceUpstream.href.replace(/\/$/, ''),
    totals: () => ({ ...totals }),
    report,
    junit: async () => renderJunit(await report(), 'frontier-gateway-mock proxy'),
    inspectorData(tail = 25) {
      const now = new Date().toISOString();
      return {
        now,
        offset_seconds: 0,
        workspaces: [],
        journal: journal.list({ limit: tail }).map((e) => ({ ...e, verdicts: (verdictsByRequest.get(e.request_id) ?? []).map(({ rule, kind, message }) => ({ rule, kind, message })) })),
        webhooks: { deliveries: [], dead_letter: [], total: 0 },
        events: { retained: 0, oldest: null, newest: null, holdback_seconds: 0, queryable_until: now, held_back: 0 },
        faults: [],
        proxy: { upstream: running.upstream, inference_upstream: running.inferenceUpstream, ...totals },
      };
    },
    learned: () => checker.learned(),
    verdicts: () => kept.slice(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
  return running;
}
