import request from 'supertest';
import { afterAll, it, type TestContext } from 'vitest';
import { ContractChecker } from '../../../src/contract.js';
import { startMock, type RunningMock } from '../../../src/index.js';
import { CAPABILITY_HELP, target, type Capability, type TargetDescription } from './target.js';

/**
 * The suite's plumbing: one lazily opened target per test file, a client that checks
 * every response against the spec, helpers that create run-prefixed resources and
 * delete them all when the file ends (pass or fail), and `rule()`, which declares a
 * test with the capabilities it needs and skips it with the reason when the target
 * lacks them.
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
}

export interface Seen {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
}

/** An HTTP client that fails the test on any response the spec does not allow. */
export class Api {
  /** Every response this client received, for the rules that look across all of them. */
  readonly seen: Seen[] = [];

  constructor(
    readonly baseUrl: string,
    private readonly checker: ContractChecker,
    private readonly defaultKey: string,
  ) {}

  async call(method: 'get' | 'post' | 'patch' | 'delete' | 'put', path: string, o: CallOptions = {}): Promise<Res> {
    let req = request(this.baseUrl)[method](path);
    const key = o.key === undefined ? this.defaultKey : o.key;
    if (key !== null) req = req.set('Authorization', `${o.scheme ?? 'Api-Key'} ${key}`);
    if (o.query) req = req.query(o.query);
    if (o.headers) req = req.set(o.headers);
    if (o.raw !== undefined) req = req.set('Content-Type', 'application/json').send(o.raw);
    else if (o.body !== undefined) req = req.send(o.body as object);
    const res = await req;
    const out: Res = { status: res.status, body: res.body, text: res.text, headers: res.headers as Record<string, string> };
    this.seen.push({ method, path, status: res.status, headers: out.headers });
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
}

let opened: Promise<Harness> | undefined;
const created: string[] = [];
let counter = 0;

async function open(): Promise<Harness> {
  const checker = await ContractChecker.load(true);
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
  const api = new Api(baseUrl, checker, target.keys.management);
  const inference = new Api(inferenceUrl as string, checker, target.keys.management);
  const h: Harness = {
    t: target,
    api,
    inference,
    openaiBaseUrl: `${inferenceUrl}/v1`,
    ...(mock ? { mock } : {}),
    extId: (label = 'g') => `${target.runId}-${label}-${++counter}-${Math.random().toString(36).slice(2, 8)}`,
    slug: (n = 0) => target.slugs[n] ?? (target.slugs[0] as string),
    async group(spec = {}) {
      const body = {
        metadata: { name: spec.name === undefined ? 'conformance' : spec.name, external_entity_id: spec.external_entity_id ?? h.extId() },
        models: spec.models ?? [{ slug: h.slug(), rate_limits: [], usage_limits: [] }],
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
      const res = await request(baseUrl as string).post('/_mock/clock').send({ advance_seconds: seconds });
      if (res.status !== 200) throw new Error(`moving the clock failed: ${res.status} ${res.text}`);
    },
    track(groupId) {
      created.push(groupId);
    },
  };
  return h;
}

/** Deletes everything this file created (children first is not needed: delete is recursive). */
async function cleanup(): Promise<void> {
  if (!opened) return;
  const h = await opened;
  for (const id of created.splice(0).reverse()) {
    await request(h.api.baseUrl).delete(`/v1/gateway/groups/${id}`).set('Authorization', `Api-Key ${target.keys.management}`);
  }
  await h.mock?.close();
}

afterAll(cleanup, 60_000);

/**
 * A conformance test: `name` says the rule, `needs` the capabilities. Skipped with the
 * missing capability named when the target lacks it; in a dry run (FGW_DRY_RUN=1)
 * every test is skipped with "would run" or its reason, and nothing is contacted.
 */
export function rule(name: string, needs: Capability[], fn: (h: Harness, ctx: TestContext) => Promise<void>, timeout?: number): void {
  it(
    name,
    async (ctx) => {
      const missing = needs.filter((c) => !target.capabilities.has(c));
      const reason = missing.length ? `needs ${missing.map((c) => CAPABILITY_HELP[c]).join(' and ')}` : undefined;
      if (target.dryRun) ctx.skip(reason ? `would skip: ${reason}` : 'would run');
      if (reason) ctx.skip(reason);
      opened ??= open();
      await fn(await opened, ctx);
    },
    timeout,
  );
}

/** The model config of one slug with the given limits. */
export function model(slug: string, rate: [string, string, number][] = [], usage: [string, number][] = []) {
  return {
    slug,
    rate_limits: rate.map(([type, unit, threshold]) => ({ type, unit, threshold })),
    usage_limits: usage.map(([type, threshold]) => ({ type, unit: 'DAY', threshold })),
  };
}
