import request from 'supertest';
import { afterAll, expect, it, type TestContext } from 'vitest';
import { startMock, type RunningMock } from 'frontier-gateway-mock';
import { ContractChecker } from 'frontier-gateway-mock/testing';
import { errorMessage } from '../../support/errors.js';
import { CAPABILITY_HELP, target, type Capability, type TargetDescription } from './target.js';

/**
 * The suite's plumbing: one lazily opened target per test file, clients that check
 * every response against the spec, helpers that create run-prefixed resources and
 * delete them all when the file ends (pass or fail), and the three ways to declare a
 * rule, by what backs it.
 *
 * Declaring rules (every rule names the capabilities it `needs`; it is skipped with the
 * missing one named when the target lacks it):
 * - `rule(name, needs, fn, options?)`: the documentation guarantees it. Asserted on every
 *   target.
 * - `mockRule(name, ambiguity, needs, fn, options?)`: the mock's own choice where the
 *   docs are silent or disagree (`ambiguity`: its number in AMBIGUITIES.md). Asserted only
 *   when the target is this mock (in-process, or FGW_CAPABILITIES=mock-admin); skipped
 *   with that reason elsewhere.
 * - `observationRule(name, needs, fn, options?)`: useful to know, not promised. Its
 *   checks go through `h.expectOrObserve`: asserted on the mock (they are its choices),
 *   reported as observations elsewhere, never a failure there.
 * The kind is stored in the test's `meta.kind`, so every report shows it. Every rule
 * also has a stable id, `<file>/<its name, slugified>`, and a source: its file's page in
 * ./sources.ts, its own `{ source }` option, or a mock choice's AMBIGUITIES.md entry
 * (./rules.ts). The operations its requests reach through `h.api` / `h.inference` are
 * recorded in `meta.operations`, for the per-operation tables of the reports.
 *
 * Inside `fn(h, ctx)`, besides `h.api` / `h.inference` (spec-checking clients: the strict
 * spec on the mock, the documented view on other targets, see src/contract.ts):
 * - `h.isMock`: the mock's own choices are asserted on this target.
 * - `h.group(spec)` always sends the documented `hierarchy` block (a root by default);
 *   `h.key(groupId, name)`, `h.track(id)`, `h.extId()`, `h.slug(n)`.
 * - `h.expectRefused(res, mockStatus, label?)`: for a refusal whose status the docs do
 *   not name: any 4xx passes; the mock must answer exactly `mockStatus`; any other 4xx
 *   from another target is an observation. Where the docs name the status, assert it
 *   with a plain `expect(res.status).toBe(n)`.
 * - `h.expectMessage(res, text)`: a documented message anywhere in the body (on the
 *   mock, exactly the message of its error body, in either of its forms).
 * - `h.expectBody(actual, expected, label?)`: exact on the mock; on other targets extra
 *   fields are allowed (`toMatchObject`).
 * - `h.sameSet(actual, expected, label?)`: equal up to order, for lists whose order the
 *   docs do not fix.
 * - `h.observe(message)` / `h.expectOrObserve(ok, message)`: record an observation
 *   (in the terminal summary, the JSON report's `meta.observations` and the JUnit
 *   report's properties, through vitest's `ctx.annotate`).
 */

export interface Res {
  status: number;
  body: any;
  text: string;
  headers: Record<string, string>;
}

export interface CallOptions {
  /** The key to send; null sends no Authorization header. Default: the management key. */
  key?: string | null;
  scheme?: string;
  body?: unknown;
  /** A raw body string sent as application/json (for malformed JSON). */
  raw?: string;
  query?: Record<string, string | number>;
  /** More request headers (e.g. a signature). */
  headers?: Record<string, string>;
  /**
   * Send at once, unpaced, and hand back a management 429 as it is rather than waiting
   * `retry_after` and sending again (for the rule that provokes the management rate limit).
   */
  unpaced?: boolean;
}

export interface Seen {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
}

/** The kind of a rule: what backs it. */
export type RuleKind = 'documented' | 'mock-choice' | 'observation';

declare module 'vitest' {
  interface TaskMeta {
    /** What backs the rule; shown in every report. */
    kind?: RuleKind;
    /** The AMBIGUITIES.md entry a mock-choice rule pins. */
    ambiguity?: string;
    /** What the target did that is worth knowing but is no failure. */
    observations?: string[];
    /** The page behind the rule, where the file's default (./sources.ts) does not fit. */
    source?: string;
    /** The spec's operationIds this rule's requests reached (through `h.api` / `h.inference`). */
    operations?: string[];
  }
}

/**
 * Keeps the suite under the management API's own rate limit (100 requests per second per
 * API key, per route; facts file): at most `perSecond` requests (default 50, half the
 * limit, so clock skew and the service's fixed windows leave room; FGW_PACE_PER_SECOND,
 * 0 turns pacing off) on one management route with one key in any second. A call waits
 * for its slot. Inference routes are not paced (they are not under that limit, and rules
 * that provoke a group's limit need their bursts).
 */
export class Pacer {
  private readonly slots = new Map<string, number[]>();

  constructor(readonly perSecond = Number(process.env.FGW_PACE_PER_SECOND ?? 50)) {}

  /** Resolves when a request on `route` with `key` may be sent. */
  async wait(route: string, key: string): Promise<void> {
    if (!(this.perSecond > 0)) return;
    const id = `${route} ${key}`;
    const now = Date.now();
    const list = (this.slots.get(id) ?? []).filter((t) => t > now - 1000);
    const at = list.length < this.perSecond ? now : Math.max(now, (list[list.length - this.perSecond] as number) + 1000);
    list.push(at);
    this.slots.set(id, list);
    if (at > now) await sleep(at - now);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One pacer per test file: on a shared live target files run one at a time. */
export const pacer = new Pacer();

/**
 * Seconds a management 429 asks to wait: the documented body's `retry_after`, else
 * `Retry-After`; undefined when it is no rate-limit answer.
 */
export function retryAfterOf(res: { status: number; body: any; headers: Record<string, string> }): number | undefined {
  if (res.status !== 429) return undefined;
  const n = Number(Number.isInteger(res.body?.retry_after) ? res.body.retry_after : res.headers['retry-after']);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** An HTTP client that fails the test on any response the spec does not allow. */
export class Api {
  /** Management 429s the pacing did not avoid, each waited out and sent again. */
  rateLimitedRetries = 0;

  /** Every response this client received, for the rules that look across all of them. */
  readonly seen: Seen[] = [];

  constructor(
    readonly baseUrl: string,
    private readonly checker: ContractChecker,
    private readonly defaultKey: string,
    /** Told the operationId of every request that reached a documented operation. */
    private readonly reached: (operationId: string) => void = () => {},
  ) {}

  async call(method: 'get' | 'post' | 'patch' | 'delete' | 'put', path: string, o: CallOptions = {}): Promise<Res> {
    const key = o.key === undefined ? this.defaultKey : o.key;
    const op = this.checker.operationFor(method, path.split('?')[0] as string);
    const managed = op?.auth === 'workspace' && key !== null;
    for (let attempt = 0; ; attempt++) {
      if (managed && !o.unpaced) await pacer.wait(op.id, key);
      const res = await this.send(method, path, key, o);
      // Honour the management API's rate limit: wait what it asks (at most 60 s), then send again.
      const wait = managed && !o.unpaced && attempt < 3 ? retryAfterOf(res) : undefined;
      if (wait === undefined) return res;
      this.rateLimitedRetries += 1;
      await sleep(Math.min(60, Math.max(1, wait)) * 1000);
    }
  }

  private async send(method: 'get' | 'post' | 'patch' | 'delete' | 'put', path: string, key: string | null, o: CallOptions): Promise<Res> {
    let req = request(this.baseUrl)[method](path);
    if (key !== null) req = req.set('Authorization', `${o.scheme ?? 'Api-Key'} ${key}`);
    if (o.query) req = req.query(o.query);
    if (o.headers) req = req.set(o.headers);
    if (o.raw !== undefined) req = req.set('Content-Type', 'application/json').send(o.raw);
    else if (o.body !== undefined) req = req.send(o.body as object);
    const res = await req;
    const out: Res = { status: res.status, body: res.body, text: res.text, headers: res.headers as Record<string, string> };
    this.seen.push({ method, path, status: res.status, headers: out.headers });
    const op = this.checker.operationFor(method, path.split('?')[0] as string);
    if (op?.document === 'gateway') this.reached(op.id);
    const problems = this.checker.check({
      method,
      path: path.split('?')[0] as string,
      status: res.status,
      contentType: res.headers['content-type'],
      body: res.body,
    });
    if (problems.length) {
      throw new Error(`Response departs from the spec [${problems.map((p) => p.rule).join(', ')}]:\n${problems.map((p) => p.message).join('\n')}`);
    }
    return out;
  }

  get(path: string, o?: CallOptions) {
    return this.call('get', path, o);
  }
  post(path: string, body?: unknown, o: CallOptions = {}) {
    return this.call('post', path, { ...o, ...(body !== undefined ? { body } : {}) });
  }
  patch(path: string, body?: unknown, o: CallOptions = {}) {
    return this.call('patch', path, { ...o, ...(body !== undefined ? { body } : {}) });
  }
  del(path: string, o?: CallOptions) {
    return this.call('delete', path, o);
  }
}

export interface GroupSpec {
  name?: string | null;
  external_entity_id?: string;
  models?: unknown[];
  hierarchy?: Record<string, unknown>;
}

export interface Harness {
  t: TargetDescription;
  api: Api;
  /** Same checks, on the inference base URL. */
  inference: Api;
  /** Base URL for the OpenAI SDK (ends in /v1). */
  openaiBaseUrl: string;
  /** The in-process mock, when that is the target. */
  mock?: RunningMock;
  /** The mock's own choices are asserted on this target (in-process, or mock-admin). */
  isMock: boolean;
  /** A fresh run-prefixed external id. */
  extId(label?: string): string;
  /** The first slug, or the n-th. */
  slug(n?: number): string;
  /** Creates a group (200 expected), remembered for deletion at the end. */
  group(spec?: GroupSpec): Promise<any>;
  /** Mints a key under a group (200 expected); returns the mint response. */
  key(groupId: string, name?: string): Promise<{ api_key: string; prefix: string; name: string | null }>;
  /** Moves the target's test clock (needs the clock capability). */
  advanceClock(seconds: number): Promise<void>;
  /** Remembers a group created by hand for deletion at the end. */
  track(groupId: string): void;
  /** Records an observation: reported, never a failure. */
  observe(message: string): void;
  /** Asserts `ok` on the mock; elsewhere records `message` as an observation when it is false. */
  expectOrObserve(ok: boolean, message: string): void;
  /** A refusal whose status the docs do not name: any 4xx; exactly `mockStatus` on the mock. */
  expectRefused(res: Res, mockStatus: number, label?: string): void;
  /** A documented message anywhere in the body (exactly the error body's message on the mock). */
  expectMessage(res: Res, text: string): void;
  /** Exact on the mock; extra fields allowed elsewhere. */
  expectBody(actual: unknown, expected: unknown, label?: string): void;
  /** Equal up to order. */
  sameSet(actual: unknown[], expected: unknown[], label?: string): void;
}

/** What a test file shares across its tests. */
interface Opened {
  checker: ContractChecker;
  mock: RunningMock | undefined;
  baseUrl: string;
  inferenceUrl: string;
}

let opened: Promise<Opened> | undefined;
const created: string[] = [];
let counter = 0;
const isMock = target.capabilities.has('mock');

async function open(): Promise<Opened> {
  // The mock is held to its own strict spec; any other target to what the docs guarantee.
  const checker = await ContractChecker.load(true, isMock ? 'strict' : 'documented');
  let mock: RunningMock | undefined;
  let baseUrl = target.baseUrl;
  let inferenceUrl = target.inferenceBaseUrl;
  if (!baseUrl) {
    mock = await startMock(target.register ? { register: { publicKey: target.register.publicKey } } : {});
    // Start at the next noon UTC so no daily-window rule can straddle a real midnight.
    const now = mock.mock.clock.now();
    const noon = Math.floor(now / 86_400_000) * 86_400_000 + 43_200_000;
    mock.mock.clock.setNow(noon > now ? noon : noon + 86_400_000);
    baseUrl = mock.url;
    inferenceUrl = mock.url;
  }
  return { checker, mock, baseUrl, inferenceUrl: inferenceUrl as string };
}

const canon = (v: unknown) => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));

/** Every string anywhere in a JSON value (for documented messages, wherever a target puts them). */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

/** The harness one test sees: the file's target, with clients and observations of its own. */
function harnessFor(o: Opened, ctx: TestContext, pending: Promise<unknown>[]): Harness {
  const reached = (id: string) => {
    const list = (ctx.task.meta.operations ??= []);
    if (!list.includes(id)) list.push(id);
  };
  const api = new Api(o.baseUrl, o.checker, target.keys.management, reached);
  const inference = new Api(o.inferenceUrl, o.checker, target.keys.management, reached);
  const h: Harness = {
    t: target,
    api,
    inference,
    openaiBaseUrl: `${o.inferenceUrl}/v1`,
    ...(o.mock ? { mock: o.mock } : {}),
    isMock,
    extId: (label = 'g') => `${target.runId}-${label}-${++counter}-${Math.random().toString(36).slice(2, 8)}`,
    slug: (n = 0) => target.slugs[n] ?? (target.slugs[0] as string),
    async group(spec = {}) {
      const body = {
        metadata: { name: spec.name === undefined ? 'conformance' : spec.name, external_entity_id: spec.external_entity_id ?? h.extId() },
        models: spec.models ?? [{ slug: h.slug(), rate_limits: [], usage_limits: [] }],
        // The published schema requires the block; a root says so explicitly.
        hierarchy: spec.hierarchy ?? { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
      };
      const res = await api.post('/v1/gateway/groups', body);
      if (res.status !== 200) throw new Error(`creating a group failed: ${res.status} ${res.text}`);
      h.track(res.body.id);
      return res.body;
    },
    async key(groupId, name) {
      const res = await api.post(`/v1/gateway/groups/${groupId}/api_keys`, name === undefined ? {} : { name });
      if (res.status !== 200) throw new Error(`minting a key failed: ${res.status} ${res.text}`);
      return res.body;
    },
    async advanceClock(seconds) {
      const res = await request(o.baseUrl).post('/_mock/clock').send({ advance_seconds: seconds });
      if (res.status !== 200) throw new Error(`moving the clock failed: ${res.status} ${res.text}`);
    },
    track(groupId) {
      created.push(groupId);
    },
    observe(message) {
      const list = (ctx.task.meta.observations ??= []);
      if (list.includes(message)) return;
      list.push(message);
      pending.push(ctx.annotate(message, 'observation'));
    },
    expectOrObserve(ok, message) {
      if (isMock) expect(ok, message).toBe(true);
      else if (!ok) h.observe(message);
    },
    expectRefused(res, mockStatus, label = '') {
      const where = label ? `${label}: ` : '';
      if (isMock) {
        expect(res.status, `${where}${res.text}`).toBe(mockStatus);
        return;
      }
      expect(res.status >= 400 && res.status < 500, `${where}expected a 4xx refusal, got ${res.status} ${res.text.slice(0, 300)}`).toBe(true);
      if (res.status !== mockStatus) h.observe(`${where}the target answered ${res.status} where the mock answers ${mockStatus}`);
    },
    expectMessage(res, text) {
      if (isMock) expect(errorMessage(res.body), res.text).toBe(text);
      else expect(strings(res.body).some((s) => s.includes(text)) || res.text.includes(text), `"${text}" anywhere in ${res.text.slice(0, 300)}`).toBe(true);
    },
    expectBody(actual, expected, label) {
      if (isMock) expect(actual, label).toEqual(expected);
      else expect(actual, label).toMatchObject(expected as object);
    },
    sameSet(actual, expected, label) {
      if (!isMock) {
        expect(actual, label).toHaveLength(expected.length);
        const rest = [...actual];
        for (const e of expected) {
          const i = rest.findIndex((a) => {
            try {
              expect(a).toMatchObject(e as object);
              return true;
            } catch {
              return false;
            }
          });
          expect(i, `${label ?? ''} missing ${JSON.stringify(e)} in ${JSON.stringify(actual)}`).toBeGreaterThanOrEqual(0);
          rest.splice(i, 1);
        }
        return;
      }
      expect(actual.map(canon).sort(), label).toEqual(expected.map(canon).sort());
    },
  };
  return h;
}

/** Deletes everything this file created (children first is not needed: delete is recursive). */
async function cleanup(): Promise<void> {
  if (!opened) return;
  const o = await opened;
  // Paced like every management call, so a live target's rate limit does not leave groups behind.
  await Promise.all(
    created.splice(0).map(async (id) => {
      await pacer.wait('deleteGroup', target.keys.management);
      await request(o.baseUrl).delete(`/v1/gateway/groups/${id}`).set('Authorization', `Api-Key ${target.keys.management}`).then(
        () => undefined,
        () => undefined,
      );
    }),
  );
  await o.mock?.close();
}

afterAll(cleanup, 120_000);

export interface RuleOptions {
  timeout?: number;
  /**
   * The documentation page behind this rule, where the file's default in ./sources.ts
   * does not fit (a mock choice's source is always its AMBIGUITIES.md entry).
   */
  source?: string;
}

const KIND_REASON: Record<RuleKind, string> = {
  documented: '',
  'mock-choice': "the mock's own choice where the docs are silent or disagree",
  observation: '',
};

function declare(kind: RuleKind, name: string, needs: Capability[], fn: (h: Harness, ctx: TestContext) => Promise<void>, options: number | RuleOptions = {}, ambiguity?: string): void {
  const timeout = typeof options === 'number' ? options : options.timeout;
  const source = typeof options === 'number' ? undefined : options.source;
  it(
    name,
    { meta: { kind, ...(ambiguity ? { ambiguity } : {}), ...(source ? { source } : {}) }, ...(timeout ? { timeout } : {}) },
    async (ctx) => {
      const missing = needs.filter((c) => !target.capabilities.has(c));
      const reasons = missing.map((c) => CAPABILITY_HELP[c]);
      let reason = reasons.length ? `needs ${reasons.join(' and ')}` : undefined;
      if (kind === 'mock-choice' && !isMock) reason = `${KIND_REASON[kind]} (AMBIGUITIES.md #${ambiguity}): asserted only against this mock`;
      if (target.dryRun) ctx.skip(reason ? `would skip: ${reason}` : 'would run');
      if (reason) ctx.skip(reason);
      opened ??= open();
      const pending: Promise<unknown>[] = [];
      try {
        await fn(harnessFor(await opened, ctx, pending), ctx);
      } finally {
        await Promise.all(pending);
      }
    },
  );
}

/** A documented rule: asserted on every target. */
export function rule(name: string, needs: Capability[], fn: (h: Harness, ctx: TestContext) => Promise<void>, options?: number | RuleOptions): void {
  declare('documented', name, needs, fn, options);
}

/**
 * The mock's own choice where the docs are silent or disagree, pinned by AMBIGUITIES.md
 * entry `ambiguity` (a number, or several joined by commas): asserted only against this mock.
 */
export function mockRule(name: string, ambiguity: number | string, needs: Capability[], fn: (h: Harness, ctx: TestContext) => Promise<void>, options?: number | RuleOptions): void {
  declare('mock-choice', name, needs, fn, options, String(ambiguity));
}

/** Useful to know, not promised: `h.expectOrObserve` asserts on the mock and only reports elsewhere. */
export function observationRule(name: string, needs: Capability[], fn: (h: Harness, ctx: TestContext) => Promise<void>, options?: number | RuleOptions): void {
  declare('observation', name, needs, fn, options);
}

/** The model config of one slug with the given limits. */
export function model(slug: string, rate: [string, string, number][] = [], usage: [string, number][] = []) {
  return {
    slug,
    rate_limits: rate.map(([type, unit, threshold]) => ({ type, unit, threshold })),
    usage_limits: usage.map(([type, threshold]) => ({ type, unit: 'DAY', threshold })),
  };
}
