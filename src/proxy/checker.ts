import { createHash } from 'node:crypto';
import type { ContractChecker } from '../contract.js';
import { CASCADE_MESSAGE, MANAGEMENT_RATE_LIMIT_MESSAGE } from '../domain/errors.js';
import { prefixOf, PREFIX_LENGTH } from '../domain/keys.js';
import { checkCascade, effectiveModels, type Enforcement, type LimitNode, type ModelConfig } from '../domain/limits.js';
import { pathToRoot, subtreeOf } from '../domain/groups.js';
import { KEY_SHAPE, REDACTED } from '../http/redact.js';
import { isRfc3339Utc, stringsWithPaths } from '../lib/documented-forms.js';
import { RULES, type ProxyRule } from './rules.js';

/**
 * The validating proxy's judge: pure, no HTTP. It is told each exchange twice, when the
 * request arrives (`begin`) and when the response has ended (`end`), and answers the
 * verdicts on that exchange: the response against the documented view of the spec, the
 * documented error and rate-limit forms, and the stateful rules it can check from the
 * traffic it has seen (set semantics, effective_models, revoked keys, deleted subtrees,
 * drained lists). What it learns is kept as the latest API object of each group, endpoint
 * and key (`learned()`), never a secret: minted keys are remembered only as SHA-256
 * digests, to notice one shown again.
 *
 * It judges what it saw: a write made past the proxy (another client, the console) can
 * make a stateful verdict wrong, so every stateful check is skipped while a write it could
 * depend on is in flight, and only writes it saw answered count (AMBIGUITIES.md #105).
 *
 * Its memory is bounded: every map it keeps holds at most `maxEntries` entries (default
 * MAX_ENTRIES, 100 000), the least recently written dropped first. What is dropped is forgotten, so the
 * checks that would need it are skipped (a group, key or drain it no longer knows is not
 * judged), except that a dropped secret is no longer recognised when shown again (a
 * key-shaped string is still redacted by its shape).
 */

export interface Verdict {
  /** A rule id of the conformance suite (src/proxy/rules.ts). */
  rule: string;
  kind: 'violation' | 'observation';
  message: string;
}

export interface RequestSeen {
  method: string;
  /** Path without the query. */
  path: string;
  /** The query string without `?`, or null. */
  query: string | null;
  /** Lower-case names; the Authorization value is read here and never kept. */
  headers: Record<string, string>;
  /** Parsed JSON, or undefined. */
  body: unknown;
  /**
   * A non-empty body the proxy could not read (over its bound, compressed, not JSON):
   * the rules about the request's body are not judged, it is not "no body".
   */
  bodyUnread?: boolean;
}

export interface ResponseSeen {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, or undefined (a stream, an empty or non-JSON body). */
  body: unknown;
  /** The event stream was passed through (its chunks are not judged one by one). */
  streamed?: boolean;
}

/** What the proxy learned of the upstream's state (for `--record`, src/import/). */
export interface ObservedWorkspace {
  groups: unknown[];
  endpoints: unknown[];
  keys: { group_id: string; prefix: string; name: string | null }[];
}

interface GroupState {
  id: string;
  parentId: string | null | undefined;
  mode: Enforcement | undefined;
  models: ModelConfig[] | undefined;
  externalId: string | undefined;
  /** The management key (as a digest) that created it, for the drained-list check. */
  owner: string | undefined;
  object: unknown;
  /** The last write the proxy saw answered, which later reads must agree with. */
  written?: { models?: ModelConfig[]; name?: string | null; by: 'create' | 'patch' | 'patch-clear' | 'patch-omit' };
  /** Writes to this group started and not yet answered. */
  pending: number;
  /** Bumped by every write to this group (started or answered). */
  version: number;
  /** When its create was answered (the proxy's sequence), if the proxy saw it. */
  createdSeq?: number;
}

interface Drain {
  rule: ProxyRule;
  /** The list: its path and, for groups, the caller's key digest. */
  list: string;
  ids: string[];
  startSeq: number;
}

/** What `begin` noted for `end`. */
export interface Pending {
  seq: number;
  req: RequestSeen;
  actor: string | undefined;
  groupVersion: number;
  groupPending: number;
  /** Per group named by the path: its version and pending writes at the start. */
  target?: { id: string; version: number; pending: number };
  /** The groups this DELETE marked as being deleted, and the key a revoke marked: cleared at `end`. */
  deleting?: string[];
  revoking?: string;
}

/** The default bound of every map the judge keeps (entries; the oldest is dropped first). */
export const MAX_ENTRIES = 100_000;

/** A Map that keeps at most `max` entries, dropping the least recently set beyond. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(k: K, v: V): this {
    super.delete(k);
    super.set(k, v);
    if (this.size > this.max) this.delete(this.keys().next().value as K);
    return this;
  }
}

/** A Set bounded as BoundedMap. */
class BoundedSet<T> extends Set<T> {
  constructor(private readonly max: number) {
    super();
  }
  override add(v: T): this {
    super.delete(v);
    super.add(v);
    if (this.size > this.max) this.delete(this.values().next().value as T);
    return this;
  }
}

type Json = any;

/** A federated key anywhere in a text: a 16-character prefix, a dot, a secret (the shape src/http/redact.ts finds in a query). */
const KEY_SHAPED = new RegExp(KEY_SHAPE, 'g');

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The credential of an Authorization value, without its scheme. */
function credentialOf(headers: Record<string, string>): string | undefined {
  const v = headers.authorization;
  if (!v) return undefined;
  const m = /^[A-Za-z][A-Za-z0-9_-]*[ \t]+(\S+)/.exec(v);
  return m ? m[1] : v.trim();
}

/** A model list as the docs fix it: a set of slugs, each with sets of limits. */
function canonModels(models: unknown): string | undefined {
  if (!Array.isArray(models)) return undefined;
  const limits = (l: unknown) =>
    (Array.isArray(l) ? l : [])
      .map((x: Json) => `${x?.type}/${x?.unit}/${x?.threshold}${x?.source_group !== undefined ? `@${x.source_group}` : ''}`)
      .sort()
      .join(',');
  return models
    .map((m: Json) => `${m?.slug}[${limits(m?.rate_limits)}|${limits(m?.usage_limits)}]`)
    .sort()
    .join(';');
}

function modelsOf(v: unknown): ModelConfig[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const pick = (l: unknown) => (Array.isArray(l) ? l.map((x: Json) => ({ type: x?.type, unit: x?.unit, threshold: x?.threshold })) : []);
  return v.map((m: Json) => ({ slug: m?.slug, rate_limits: pick(m?.rate_limits), usage_limits: pick(m?.usage_limits) }));
}

const thresholdsIn = (models: unknown): number[] =>
  Array.isArray(models) ? models.flatMap((m: Json) => [...(Array.isArray(m?.rate_limits) ? m.rate_limits : []), ...(Array.isArray(m?.usage_limits) ? m.usage_limits : [])].map((l: Json) => l?.threshold)) : [];

export class TrafficChecker {
  private seq = 0;
  private readonly groups: Map<string, GroupState>;
  /** Parent id -> the ids of the children seen (the walks down a subtree read it). */
  private readonly children: Map<string, Set<string>>;
  /** `<owner digest> <external id>` -> the live group that holds it. */
  private readonly byExternalId: Map<string, string>;
  /** Group ids whose DELETE (of them or an ancestor) was answered, with the seq it was answered at. */
  private readonly deleted: Map<string, number>;
  /** Group ids whose deletion is in flight -> how many DELETEs of them are (a refused one clears its mark). */
  private readonly deleting: Map<string, number>;
  private readonly keys: Map<string, { group_id: string; prefix: string; name: string | null; mintedSeq: number }>;
  private readonly revoked: Map<string, number>;
  /** Key prefixes whose revoke is in flight -> how many. */
  private readonly revoking: Map<string, number>;
  /** SHA-256 of every minted key and of its secret part -> its prefix. */
  private readonly secrets: Map<string, string>;
  private readonly endpoints: Map<string, { object: Json; seenAt: number; owner?: string | undefined }>;
  private readonly deletedEndpoints: Set<string>;
  private readonly drains: Map<string, Drain>;
  /** The ids of the rules whose condition was evaluated on a judged exchange (the report's `passed` needs it). */
  private readonly evaluated = new Set<string>();
  private groupVersion = 0;
  private groupPending = 0;
  /** The sequence number of the response being judged (requests and responses share one sequence). */
  private answered = 0;

  constructor(
    private readonly contract: ContractChecker,
    /** Milliseconds, for the one check that needs time to have passed (endpoint updated_at). */
    private readonly now: () => number = () => Date.now(),
    /** The bound of every map kept (entries). */
    private readonly maxEntries: number = MAX_ENTRIES,
  ) {
    const map = <K, V>() => new BoundedMap<K, V>(maxEntries);
    this.groups = map();
    this.children = map();
    this.byExternalId = map();
    this.deleted = map();
    this.deleting = map();
    this.keys = map();
    this.revoked = map();
    this.revoking = map();
    this.secrets = map();
    this.endpoints = map();
    this.deletedEndpoints = new BoundedSet(maxEntries);
    this.drains = map();
  }

  /** How many entries each map holds (its bound is the constructor's `maxEntries`). */
  sizes(): Record<string, number> {
    const { groups, children, byExternalId, deleted, deleting, keys, revoked, revoking, secrets, endpoints, deletedEndpoints, drains } = this;
    return Object.fromEntries(Object.entries({ groups, children, byExternalId, deleted, deleting, keys, revoked, revoking, secrets, endpoints, deletedEndpoints, drains }).map(([k, m]) => [k, m.size]));
  }

  /** The ids of the rules whose condition the traffic reached: only these can be `passed`. */
  evaluatedRules(): ReadonlySet<string> {
    return this.evaluated;
  }

  /** Notes that a rule's condition was evaluated on the exchange being judged. */
  private judged(r: ProxyRule): void {
    this.evaluated.add(r.id);
  }

  /** A value quoted in a verdict: redacted first, then cut (a key cut short would no longer look like one). */
  private quote(v: unknown, max = 200): string {
    return this.redactText(typeof v === 'string' ? v : (JSON.stringify(v) ?? '')).slice(0, max);
  }

  /** The prefix of the key a credential is: before its dot (a minted key the proxy knows), else its first 16 characters. */
  private prefixFor(credential: string): string {
    const dot = credential.indexOf('.');
    const byDot = dot > 0 ? credential.slice(0, dot) : undefined;
    return byDot !== undefined && (this.keys.has(byDot) || this.revoked.has(byDot)) ? byDot : prefixOf(credential);
  }

  /** Notes a request as it arrives; returns what `end` needs. */
  begin(req: RequestSeen): Pending {
    const seq = ++this.seq;
    const credential = credentialOf(req.headers);
    const p: Pending = { seq, req, actor: credential === undefined ? undefined : sha(credential), groupVersion: this.groupVersion, groupPending: this.groupPending };
    const segs = req.path.split('/').map(safeDecode);
    const m = req.method.toUpperCase();
    if (segs[1] === 'v1' && segs[2] === 'gateway' && segs[3] === 'groups') {
      const id = segs[4];
      const isWrite = m === 'POST' ? segs.length === 4 : (m === 'PATCH' || m === 'DELETE') && segs.length === 5;
      if (id) {
        const g = this.groups.get(id);
        p.target = { id, version: g?.version ?? 0, pending: g?.pending ?? 0 };
      }
      if (isWrite) {
        this.groupVersion++;
        this.groupPending++;
        if (id) {
          const g = this.groups.get(id);
          if (g) {
            g.pending++;
            g.version++;
          }
          if (m === 'DELETE') {
            p.deleting = this.subtreeIds(id);
            for (const d of p.deleting) this.deleting.set(d, (this.deleting.get(d) ?? 0) + 1);
          }
        }
      }
      if (m === 'DELETE' && segs[5] === 'api_keys' && segs[6] && segs.length === 7) {
        p.revoking = segs[6];
        this.revoking.set(segs[6], (this.revoking.get(segs[6]) ?? 0) + 1);
      }
    }
    return p;
  }

  /** Judges the exchange once its response has ended; updates what the proxy knows. */
  end(p: Pending, res: ResponseSeen): Verdict[] {
    const out: Verdict[] = [];
    const violation = (r: ProxyRule, message: string) => out.push({ rule: r.id, kind: r.kind === 'observation' ? 'observation' : 'violation', message });
    const observe = (r: ProxyRule, message: string) => out.push({ rule: r.id, kind: 'observation', message });
    const { req } = p;
    this.answered = ++this.seq;
    const m = req.method.toUpperCase();
    const segs = req.path.split('/').map(safeDecode);
    const where = `${m} ${req.path} -> ${res.status}`;
    const b: Json = res.body;
    const groupWrite = segs[1] === 'v1' && segs[2] === 'gateway' && segs[3] === 'groups' && (m === 'POST' ? segs.length === 4 : (m === 'PATCH' || m === 'DELETE') && segs.length === 5);
    try {
      if (segs[1] !== 'v1' || res.status === 0) return out;
      // The response against the documented view of the spec.
      const contentType = res.headers['content-type'];
      // A route the spec does not know (a preflight, a health check) is no broken promise: an observation.
      if (!this.contract.operationFor(m, req.path)) {
        if (res.status < 400) observe(RULES.contract, `${where}: no documented operation answers this`);
      } else if (!res.streamed) {
        this.judged(RULES.contract);
        for (const problem of this.contract.check({ method: m, path: req.path, status: res.status, contentType, body: b })) violation(RULES.contract, problem.message);
      }
      this.judged(RULES.requestId);
      if (!res.headers['x-request-id']) observe(RULES.requestId, `${where}: no X-Request-Id header`);

      if (segs[2] === 'chat' || segs[2] === 'models') this.inference(p, res, where, violation, observe);
      else if (segs[2] === 'gateway' && segs[3] === 'groups') this.groupRoutes(p, res, segs, where, violation);
      else if (segs[2] === 'gateway' && segs[3] === 'endpoints') this.endpointRoutes(p, res, segs, where, violation);
      else if (segs[2] === 'gateway' && segs[3] === 'events') this.eventRoutes(p, res, where, violation);

      if (segs[2] === 'gateway' && res.status === 429) {
        this.judged(RULES.managementRateLimit);
        const text = typeof b?.error === 'string' ? b.error : typeof b?.error?.message === 'string' ? b.error.message : undefined;
        if (text === undefined) violation(RULES.managementRateLimit, `${where}: a management 429 without an "error" message: ${this.quote(b)}`);
        else {
          if (!text.includes(MANAGEMENT_RATE_LIMIT_MESSAGE)) violation(RULES.managementRateLimit, `${where}: the 429 says "${this.quote(text)}", not the documented "${MANAGEMENT_RATE_LIMIT_MESSAGE}"`);
          if (typeof b.error !== 'string') observe(RULES.managementRateLimit, `${where}: the management 429 has a nested error object, not the documented {"error": "<message>"}`);
        }
        if (!(Number.isInteger(b?.retry_after) && b.retry_after >= 0)) violation(RULES.managementRateLimit, `${where}: no integer retry_after in the 429 body: ${this.quote(b)}`);
        else if (res.headers['retry-after'] !== String(b.retry_after)) observe(RULES.managementRateLimit, `${where}: the management 429 has no Retry-After header equal to retry_after (${res.headers['retry-after'] ?? 'none'})`);
      }
      // A minted secret shown again, anywhere.
      if (res.body !== undefined && this.secrets.size > 0) {
        const mint = m === 'POST' && segs[5] === 'api_keys' && segs.length === 6;
        if (!mint) this.judged(RULES.secretOnce);
        for (const [at, s] of stringsWithPaths(res.body)) {
          if (mint && at === '$.api_key') continue;
          const prefix = this.secrets.get(sha(s));
          if (prefix) violation(RULES.secretOnce, `${where}: the secret of key ${prefix} is shown again, at ${at}`);
        }
      }
      // Messages quote bodies: no secret leaves the judge.
      for (const v of out) v.message = this.redactText(v.message);
      return out;
    } finally {
      // In-flight marks end with the exchange, whatever its answer: a refused DELETE or
      // revoke switches nothing off. One whose answer was not judged (status 0: aborted,
      // unreachable) leaves what it names unknown, so the judge forgets it.
      if (p.deleting) {
        for (const d of p.deleting) this.unmark(this.deleting, d);
        if (res.status === 0) for (const d of p.deleting) this.forget(d);
      }
      if (p.revoking) {
        this.unmark(this.revoking, p.revoking);
        if (res.status === 0) this.keys.delete(p.revoking);
      }
      if (groupWrite) {
        this.groupVersion++;
        this.groupPending--;
        const g = segs[4] ? this.groups.get(segs[4]) : undefined;
        if (g) {
          g.pending = Math.max(0, g.pending - 1);
          g.version++;
        }
      }
    }
  }

  private unmark(marks: Map<string, number>, id: string): void {
    const n = (marks.get(id) ?? 1) - 1;
    if (n > 0) marks.set(id, n);
    else marks.delete(id);
  }

  /** A deletion of `id` is in flight, other than the one `p` is. */
  private deletingBesides(p: Pending, id: string): boolean {
    return (this.deleting.get(id) ?? 0) > (p.deleting?.includes(id) ? 1 : 0);
  }

  private inference(p: Pending, res: ResponseSeen, where: string, violation: (r: ProxyRule, m: string) => void, observe: (r: ProxyRule, m: string) => void): void {
    const b: Json = res.body;
    const chat = p.req.path === '/v1/chat/completions';
    if (chat && res.status >= 400 && res.status < 500) {
      this.judged(RULES.inferenceErrorForm);
      if (typeof b?.error === 'string') {
        if (b.error.length === 0) violation(RULES.inferenceErrorForm, `${where}: an empty error message`);
      } else if (typeof b?.error?.message === 'string' && b.error.message.length > 0) {
        observe(RULES.inferenceErrorForm, `${where}: inference errors come in OpenAI's nested form {"error": {"message": ...}}, not the documented {"error": "<message>"}`);
      } else violation(RULES.inferenceErrorForm, `${where}: expected {"error": "<message>"}, got ${b === undefined ? 'no JSON body' : this.quote(b)}`);
    }
    if (chat && res.status === 429) this.judged(RULES.inference429);
    if (chat && res.status === 429 && !(Number(res.headers['retry-after']) >= 1)) {
      observe(RULES.inference429, `${where}: a 429 without a Retry-After of at least 1 s (got ${res.headers['retry-after'] ?? 'none'})`);
    }
    const credential = credentialOf(p.req.headers);
    if (!credential) return;
    const prefix = this.prefixFor(credential);
    const key = this.keys.get(prefix);
    // A limit of 0 on the slug, in the effective limits of the key's group as computed from
    // the whole path to the root the proxy knows now (by the domain's rule, as readGroup
    // does; a group object seen before a write to an ancestor may be stale), admits nothing.
    // Judged only when no group write ran beside the call.
    const slug = isObject(p.req.body) ? p.req.body.model : undefined;
    const group = key ? this.groups.get(key.group_id) : undefined;
    const path = chat && group?.mode && typeof slug === 'string' && this.alone(p, false) ? this.knownPath(group.id) : undefined;
    const effective = path && group?.mode ? effectiveModels(group.mode, path).find((x) => x.slug === slug) : undefined;
    const zero = effective ? [...effective.rate_limits, ...effective.usage_limits].find((l) => l.threshold === 0) : undefined;
    if (zero && group && res.status !== 401 && res.status !== 403) {
      this.judged(RULES.limitZero);
      if (res.status >= 200 && res.status < 300) violation(RULES.limitZero, `${where}: group ${group.id} has a ${zero.type}/${zero.unit} limit of 0 on ${slug} (from group ${zero.source_group}), yet the call was admitted`);
    }
    // No document names the status that refuses a revoked key or a deleted group's key: any
    // 4xx refuses it; one other than the suite's usual 401 is an observation (AMBIGUITIES.md #108).
    const refusedAs = (r: ProxyRule, what: string) => {
      this.judged(r);
      if (res.status === 401) return;
      if (res.status >= 400 && res.status < 500) observe(r, `${where}: ${what}, refused with ${res.status}, not 401`);
      else violation(r, `${where}: ${what}, yet inference answered ${res.status}, not a refusal (4xx)`);
    };
    const revokedAt = this.revoked.get(prefix);
    if (revokedAt !== undefined && revokedAt < p.seq) {
      refusedAs(RULES.revokedRefused, `key ${prefix} was revoked (answered before this request)`);
      return;
    }
    const deletedAt = key ? this.deleted.get(key.group_id) : undefined;
    if (key && deletedAt !== undefined && deletedAt < p.seq) refusedAs(RULES.subtreeKeysRefused, `key ${prefix} belongs to group ${key.group_id}, deleted before this request`);
  }

  private groupRoutes(p: Pending, res: ResponseSeen, segs: string[], where: string, violation: (r: ProxyRule, m: string) => void): void {
    const m = p.req.method.toUpperCase();
    const b: Json = res.body;
    const body: Json = p.req.body;
    const ok = res.status >= 200 && res.status < 300;
    const id = segs[4];
    // Anything naming a deleted group (or one of a deleted subtree) is 404.
    if (id && segs.length >= 5) {
      const at = this.deleted.get(id);
      // 401, 403 and 429 are about the caller, not the group.
      if (at !== undefined && at < p.seq && ![401, 403, 429].includes(res.status)) this.judged(RULES.subtree404);
      if (at !== undefined && at < p.seq && ![401, 403, 404, 429].includes(res.status)) {
        violation(RULES.subtree404, `${where}: group ${id} was deleted (its DELETE, or its ancestor's, answered before this request), yet it answered ${res.status}, not 404`);
        return;
      }
    }
    // A live group the proxy saw created by another key is never 404: 403 for another workspace, or served.
    const live = id ? this.groups.get(id) : undefined;
    const otherWorkspace = live && live.owner && p.actor && live.owner !== p.actor && !this.deletingBesides(p, live.id) && p.groupPending === 0 && segs[5] !== 'api_keys' && ![401, 429].includes(res.status);
    if (otherWorkspace) this.judged(RULES.otherWorkspaceGroup);
    if (otherWorkspace && res.status === 404) {
      violation(RULES.otherWorkspaceGroup, `${where}: group ${id} is alive (created through the proxy with another key), yet it answered 404; a group of another workspace is 403`);
    }
    if (segs.length === 4 && m === 'POST') return this.createGroup(p, res, where, violation);
    if (segs.length === 4 && m === 'GET') {
      if (!ok || !isObject(b) || !Array.isArray(b.items)) return;
      if ([...this.deleted.values()].some((at) => at < p.seq)) this.judged(RULES.deletedLeaveList);
      for (const item of b.items) {
        if (isObject(item) && typeof item.id === 'string') {
          const at = this.deleted.get(item.id);
          if (at !== undefined && at < p.seq) violation(RULES.deletedLeaveList, `${where}: the list holds group ${item.id}, deleted before this request`);
          this.readGroup(p, item, where, violation);
        }
      }
      const filtered = /(^|&)external_entity_id=/.test(p.req.query ?? '');
      if (!filtered) this.drain(p, b, `groups ${p.actor ?? ''}`, RULES.drainGroups, where, violation, (list) => this.groupsThroughout(p, list));
      return;
    }
    if (!id) return;
    if (segs.length === 5) {
      if (m === 'GET' && ok && isObject(b)) this.readGroup(p, b, where, violation);
      if (m === 'PATCH') this.patchGroup(p, res, id, where, violation);
      if (m === 'DELETE' && ok) {
        if (isObject(b) && b.deleted_at !== undefined) this.judged(RULES.deletedAt);
        if (isObject(b) && b.deleted_at !== undefined && !isRfc3339Utc(b.deleted_at)) violation(RULES.deletedAt, `${where}: deleted_at ${JSON.stringify(b.deleted_at)} is not an RFC 3339 UTC timestamp`);
        for (const d of this.subtreeIds(id)) {
          if (!this.deleted.has(d)) this.deleted.set(d, this.answered);
          this.forget(d);
        }
      }
      return;
    }
    if (segs[5] === 'usage' && ok && isObject(b?.usage)) {
      for (const entries of Object.values(b.usage)) {
        for (const e of Array.isArray(entries) ? entries : []) {
          if (isObject(e) && e.reset_at != null) this.judged(RULES.usageResetAt);
          if (isObject(e) && e.reset_at != null && !isRfc3339Utc(e.reset_at)) violation(RULES.usageResetAt, `${where}: reset_at ${JSON.stringify(e.reset_at)} is not an RFC 3339 UTC timestamp`);
        }
      }
      return;
    }
    if (segs[5] !== 'api_keys') return;
    const prefix = segs[6];
    if (segs.length === 6 && m === 'POST' && ok && isObject(b) && typeof b.prefix === 'string') {
      const name = typeof body?.name === 'string' ? body.name : null;
      const nameless = !p.req.bodyUnread && (!isObject(body) || body.name === undefined || body.name === null);
      if (nameless) this.judged(RULES.nameNull);
      if (nameless && b.name !== undefined && b.name !== null) {
        violation(RULES.nameNull, `${where}: a key minted without a name has name ${JSON.stringify(b.name)}, not null`);
      }
      this.keys.set(b.prefix, { group_id: id, prefix: b.prefix, name, mintedSeq: this.answered });
      if (typeof b.api_key === 'string') {
        this.secrets.set(sha(b.api_key), b.prefix);
        const dot = b.api_key.indexOf('.');
        if (dot > 0 && b.api_key.length - dot > 8) this.secrets.set(sha(b.api_key.slice(dot + 1)), b.prefix);
      }
      return;
    }
    if (segs.length === 6 && m === 'GET' && ok && isObject(b) && Array.isArray(b.items)) {
      for (const k of b.items) if (isObject(k) && typeof k.prefix === 'string' && !this.keys.has(k.prefix) && !this.revoked.has(k.prefix)) this.keys.set(k.prefix, { group_id: id, prefix: k.prefix, name: typeof k.name === 'string' ? k.name : null, mintedSeq: p.seq });
      this.drain(p, b, `keys ${id}`, RULES.drainKeys, where, violation, (d) => this.keysThroughout(id, d));
      return;
    }
    if (segs.length === 7 && prefix === 'register' && m === 'POST' && ok && isObject(body) && typeof body.key === 'string' && body.key.length >= PREFIX_LENGTH) {
      // A registered key is its own secret: remembered as a digest, like a minted one.
      const registered = prefixOf(body.key);
      this.keys.set(registered, { group_id: id, prefix: registered, name: typeof body.name === 'string' ? body.name : null, mintedSeq: this.answered });
      this.secrets.set(sha(body.key), registered);
      return;
    }
    if (segs.length === 7 && prefix && prefix !== 'register') {
      const owner = this.keys.get(prefix)?.group_id;
      if (owner !== undefined && owner !== id) this.judged(RULES.keyUnderOwnGroup);
      if (owner !== undefined && owner !== id && ok) violation(RULES.keyUnderOwnGroup, `${where}: key ${prefix} belongs to group ${owner}, yet it was ${m === 'GET' ? 'found' : 'revoked'} under group ${id}`);
      const at = this.revoked.get(prefix);
      if (at !== undefined && at < p.seq && (m === 'GET' || m === 'DELETE') && ![401, 403, 429].includes(res.status)) this.judged(RULES.revokedIs404);
      if (at !== undefined && at < p.seq && (m === 'GET' || m === 'DELETE') && ![401, 403, 404, 429].includes(res.status)) {
        violation(RULES.revokedIs404, `${where}: key ${prefix} was revoked before this request, yet ${m} answered ${res.status}, not 404`);
        return;
      }
      if (m === 'DELETE' && ok) {
        this.revoked.set(prefix, this.answered);
        this.keys.delete(prefix);
      }
    }
  }

  private createGroup(p: Pending, res: ResponseSeen, where: string, violation: (r: ProxyRule, m: string) => void): void {
    const body: Json = p.req.body;
    const b: Json = res.body;
    const ok = res.status >= 200 && res.status < 300;
    // 401, 403 and 429 are about the caller, not the payload: no create rule is judged.
    if (res.status === 401 || res.status === 403 || res.status === 429) return;
    if (p.req.bodyUnread) {
      // What was asked is not known: nothing is judged, what was created is learned.
      if (ok && isObject(b) && typeof b.id === 'string') this.remember(b, p.actor).createdSeq = this.answered;
      return;
    }
    if (!isObject(body)) return;
    // Every documented refusal this create runs into: its rule, its status, and whether the
    // rule names that status (else it only says "refused"). The docs do not fix which check
    // comes first, so when several apply, the status of any of them answers each.
    const refusals: { rule: ProxyRule; status: number; exact: boolean; why: string }[] = [];
    const refuse = (rule: ProxyRule, status: number, exact: boolean, why: string) => refusals.push({ rule, status, exact, why });
    if (body.metadata === undefined) refuse(RULES.metadataRequired, 400, true, 'a create without metadata');
    else if (body.models === undefined) refuse(RULES.modelsRequired, 400, true, 'a create without models');
    else if (body.hierarchy === undefined) refuse(RULES.hierarchyRequired, 400, true, 'a create without hierarchy');
    if (thresholdsIn(body.models).some((t) => typeof t === 'number' && t < 0)) refuse(RULES.negativeThreshold, 400, false, 'a create with a negative threshold');
    const parentId = isObject(body.hierarchy) && typeof body.hierarchy.parent_group_id === 'string' ? body.hierarchy.parent_group_id : null;
    const parentGone = parentId !== null ? this.deleted.get(parentId) : undefined;
    if (parentGone !== undefined && parentGone < p.seq) refuse(RULES.parentDeleted, 404, true, `parent ${parentId} was deleted before this request`);
    const parent = parentId !== null ? this.groups.get(parentId) : undefined;
    const declared = isObject(body.hierarchy) ? body.hierarchy.limit_enforcement : undefined;
    if (parent?.mode && typeof declared === 'string' && declared !== parent.mode) refuse(RULES.childMode, 400, false, `a child declaring ${declared} under a ${parent.mode} parent`);
    // The same management key already holds a live group with this external id.
    const ext = isObject(body.metadata) && typeof body.metadata.external_entity_id === 'string' ? body.metadata.external_entity_id : undefined;
    if (ext !== undefined && p.actor && p.groupPending === 0) {
      const takenId = this.byExternalId.get(`${p.actor}\u0000${ext}`);
      const taken = takenId ? this.groups.get(takenId) : undefined;
      if (taken) refuse(RULES.externalIdUnique, 400, true, `external_entity_id ${ext} is held by live group ${taken.id}`);
    }
    // CASCADING: a child above an ancestor the proxy knows.
    const ancestors = parentId !== null && p.groupPending === 0 ? this.knownPath(parentId) : undefined;
    const models = modelsOf(body.models);
    const cascade = ancestors && models && ancestors[0]?.mode === 'CASCADING' ? cascadeRefusal({ id: '(new)', models }, ancestors, []) : undefined;
    if (cascade) refuse(RULES.cascadeCreate, 400, false, `a child above its CASCADING ancestor (${cascade})`);
    const statuses = new Set(refusals.map((r) => r.status));
    const expected = [...statuses].sort().join(' or ');
    for (const r of refusals) {
      this.judged(r.rule);
      if (ok) violation(r.rule, `${where}: ${r.why} was created (${res.status}); the docs refuse it with ${r.status}`);
      else if (r.exact && !statuses.has(res.status)) violation(r.rule, `${where}: ${r.why}, answered ${res.status}, not ${expected}`);
    }
    // The documented message, when the cascade is the only refusal that applies.
    if (cascade && refusals.length === 1 && res.status === 400 && !messageOf(b).includes(CASCADE_MESSAGE)) violation(RULES.cascadeCreate, `${where}: refused without the documented message "${CASCADE_MESSAGE}": ${this.quote(b)}`);
    if (!ok || !isObject(b) || typeof b.id !== 'string') return;
    const g = this.remember(b, p.actor);
    g.createdSeq = this.answered;
    g.written = { ...(models ? { models } : {}), ...(isObject(body.metadata) && 'name' in body.metadata ? { name: body.metadata.name ?? null } : {}), by: 'create' };
    this.readGroup(p, b, where, violation, true);
  }

  private patchGroup(p: Pending, res: ResponseSeen, id: string, where: string, violation: (r: ProxyRule, m: string) => void): void {
    const body: Json = p.req.body;
    const b: Json = res.body;
    const ok = res.status >= 200 && res.status < 300;
    if (res.status === 429 || res.status === 404 || res.status === 401 || res.status === 403) return;
    if (p.req.bodyUnread) {
      // What was written is not known: nothing is judged, and later reads are not held to an older write.
      if (ok && isObject(b) && typeof b.id === 'string') this.remember(b, this.groups.get(id)?.owner ?? p.actor).written = undefined;
      return;
    }
    if (body === undefined || (isObject(body) && Object.keys(body).length === 0)) {
      this.judged(RULES.patchEmpty);
      if (res.status !== 400) violation(RULES.patchEmpty, `${where}: an empty PATCH answered ${res.status}, not 400`);
      return;
    }
    if (!isObject(body)) return;
    const named = isObject(body.metadata) && 'name' in body.metadata;
    if (!named && body.models == null) {
      this.judged(RULES.patchNeither);
      if (res.status !== 400) violation(RULES.patchNeither, `${where}: a PATCH naming neither metadata.name nor models answered ${res.status}, not 400`);
      return;
    }
    const g = this.groups.get(id);
    const models = body.models === null || body.models === undefined ? undefined : modelsOf(body.models);
    const negative = thresholdsIn(body.models).some((t) => typeof t === 'number' && t < 0);
    if (negative) this.judged(RULES.negativeThreshold);
    if (ok && negative) violation(RULES.negativeThreshold, `${where}: a PATCH with a negative threshold was accepted`);
    // CASCADING: the domain's own write-time check, over the ancestors and the subtree the proxy knows.
    if (g && models && g.mode === 'CASCADING' && p.groupPending === 0) {
      const ancestors = g.parentId ? this.knownPath(g.parentId) : [];
      const descendants = this.knownDescendants(id);
      if (ancestors && descendants) {
        const refusal = cascadeRefusal({ id, models }, ancestors, descendants);
        const r = refusal?.includes('below') ? RULES.cascadeLower : RULES.cascadeRaise;
        if (refusal) this.judged(r);
        if (refusal && ok) violation(r, `${where}: accepted, though ${refusal}`);
      }
    }
    if (!ok || !isObject(b)) return;
    const before = g?.written;
    const kept = this.remember(b, g?.owner ?? p.actor);
    kept.written = {
      ...(models ? { models } : before?.models ? { models: before.models } : {}),
      ...(named ? { name: body.metadata.name ?? null } : before && 'name' in before ? { name: before.name ?? null } : {}),
      by: models ? (models.length === 0 ? 'patch-clear' : 'patch') : 'patch-omit',
    };
    this.readGroup(p, b, where, violation, true);
  }

  /** A group object read back: it agrees with the last write seen, and its effective_models with the hierarchy seen. */
  private readGroup(p: Pending, b: Json, where: string, violation: (r: ProxyRule, m: string) => void, isWriteResponse = false): void {
    const id: string = b.id;
    const g = this.groups.get(id) ?? this.remember(b, undefined);
    // Judged only when no write to it overlapped this exchange (for a list item: no group write at all).
    const quiet = isWriteResponse || (p.target?.id === id ? p.target.pending === 0 && g.pending === 0 && p.target.version === g.version : this.alone(p, false));
    if (quiet && g.written) {
      const w = g.written;
      const r = w.by === 'create' ? RULES.readsBackAsCreated : w.by === 'patch-clear' ? RULES.patchClears : w.by === 'patch-omit' ? RULES.patchOmitted : RULES.patchReplaces;
      if (w.models && Array.isArray(b.models)) this.judged(r);
      if (w.models && Array.isArray(b.models) && canonModels(b.models) !== canonModels(w.models)) {
        violation(r, `${where}: group ${id} has models ${canonModels(b.models)}, but the last ${w.by === 'create' ? 'create' : 'PATCH'} seen wrote ${canonModels(w.models)}`);
      }
      if ('name' in w && isObject(b.metadata) && 'name' in b.metadata) this.judged(w.by === 'create' ? RULES.readsBackAsCreated : RULES.patchReplaces);
      if ('name' in w && isObject(b.metadata) && 'name' in b.metadata && (b.metadata.name ?? null) !== w.name) {
        violation(w.by === 'create' ? RULES.readsBackAsCreated : RULES.patchReplaces, `${where}: group ${id} is named ${JSON.stringify(b.metadata.name)}, but the last write seen named it ${JSON.stringify(w.name)}`);
      }
    }
    if (!isWriteResponse) this.remember(b, undefined);
    // effective_models from the hierarchy and limits the proxy knows, by the domain's own
    // rule; only when no other group write ran beside this exchange.
    if (!Array.isArray(b.effective_models) || !Array.isArray(b.models) || !this.alone(p, isWriteResponse)) return;
    const mode = b.hierarchy?.limit_enforcement as Enforcement | undefined;
    if (mode !== 'INDEPENDENT' && mode !== 'CASCADING') return;
    const parentId = b.hierarchy?.parent_group_id;
    const up = typeof parentId === 'string' ? this.knownPath(parentId) : [];
    if (!up) return;
    const self = modelsOf(b.models) as ModelConfig[];
    const expected = effectiveModels(mode, [{ id, models: self }, ...up]);
    this.judged(RULES.effectiveModels);
    if (canonModels(expected) !== canonModels(b.effective_models)) {
      violation(RULES.effectiveModels, `${where}: group ${id} (${mode}) has effective_models ${canonModels(b.effective_models)}; from the hierarchy and limits seen they are ${canonModels(expected)}`);
    }
  }

  /** No group write but (for a write) this one started, ran or ended while `p` was in flight. */
  private alone(p: Pending, isWrite: boolean): boolean {
    return p.groupPending === 0 && (isWrite ? this.groupPending === 1 && this.groupVersion === p.groupVersion + 1 : this.groupPending === 0 && this.groupVersion === p.groupVersion);
  }

  /** The ancestors from `id` up to the root, as the proxy knows them, or undefined when one is unknown. */
  private knownPath(id: string): (LimitNode & { mode: Enforcement | undefined })[] | undefined {
    const start = this.groups.get(id);
    if (!start) return undefined;
    // A parent not known yet reads as `undefined` here, which ends the walk short of a root;
    // a loop (a broken upstream) ends at the first group seen twice.
    const visited = new Set<string>();
    const path = pathToRoot(start as GroupState & { parentId: string | null }, (pid) => {
      if (visited.has(pid)) return undefined;
      visited.add(pid);
      return this.groups.get(pid) as (GroupState & { parentId: string | null }) | undefined;
    });
    const last = path[path.length - 1];
    if (!last || last.parentId !== null || path.some((g) => !g.models)) return undefined;
    return path.map((g) => ({ id: g.id, models: g.models as ModelConfig[], mode: g.mode }));
  }

  private knownDescendants(id: string): LimitNode[] | undefined {
    const root = this.groups.get(id);
    if (!root) return undefined;
    let gap = false;
    const all = subtreeOf(root, this.childrenOnce(() => (gap = true))).slice(1);
    if (gap || all.some((g) => !g.models)) return undefined;
    return all.map((g) => ({ id: g.id, models: g.models as ModelConfig[] }));
  }

  private subtreeIds(id: string): string[] {
    const root = this.groups.get(id);
    if (!root) return [id];
    return subtreeOf(root, this.childrenOnce()).map((g) => g.id);
  }

  /**
   * Children by the parent ids seen, each group at most once (a loop from a broken upstream
   * ends); a child no longer known (dropped by the bound) is left out, and `onGap` told.
   */
  private childrenOnce(onGap?: () => void): (id: string) => GroupState[] {
    const visited = new Set<string>();
    return (pid) => {
      if (visited.has(pid)) return [];
      visited.add(pid);
      return [...(this.children.get(pid) ?? [])].filter((id) => !visited.has(id)).flatMap((id) => {
        const g = this.groups.get(id);
        if (!g) onGap?.();
        return g ? [g] : [];
      });
    };
  }

  private remember(b: Json, owner: string | undefined): GroupState {
    const id: string = b.id;
    const g = this.groups.get(id) ?? { id, parentId: undefined, mode: undefined, models: undefined, externalId: undefined, owner, object: b, pending: 0, version: 0 };
    g.object = b;
    if (isObject(b.hierarchy)) {
      if ('parent_group_id' in b.hierarchy) {
        const parentId = typeof b.hierarchy.parent_group_id === 'string' ? b.hierarchy.parent_group_id : null;
        if (g.parentId) this.children.get(g.parentId)?.delete(id);
        if (parentId) this.children.set(parentId, (this.children.get(parentId) ?? new BoundedSet<string>(this.maxEntries)).add(id));
        g.parentId = parentId;
      }
      if (b.hierarchy.limit_enforcement === 'INDEPENDENT' || b.hierarchy.limit_enforcement === 'CASCADING') g.mode = b.hierarchy.limit_enforcement;
    }
    const models = modelsOf(b.models);
    if (models) g.models = models;
    if (isObject(b.metadata) && typeof b.metadata.external_entity_id === 'string') g.externalId = b.metadata.external_entity_id;
    g.owner ??= owner;
    if (g.owner && g.externalId) this.byExternalId.set(`${g.owner}\u0000${g.externalId}`, id);
    this.groups.set(id, g);
    return g;
  }

  /** A deleted group leaves every index. */
  private forget(id: string): void {
    const g = this.groups.get(id);
    if (!g) return;
    if (g.parentId) this.children.get(g.parentId)?.delete(id);
    const ext = `${g.owner}\u0000${g.externalId}`;
    if (this.byExternalId.get(ext) === id) this.byExternalId.delete(ext);
    this.children.delete(id);
    this.groups.delete(id);
  }

  /**
   * One page of a list: a first page (no cursor) starts a drain, a page asked with a
   * cursor the proxy handed out continues it, the last page (has_more false) judges it:
   * each item exactly once, and every item `throughout` names present.
   */
  private drain(p: Pending, b: Json, list: string, rule: ProxyRule, where: string, violation: (r: ProxyRule, m: string) => void, throughout: (d: Drain) => string[]): void {
    const params = new URLSearchParams(p.req.query ?? '');
    const cursor = params.get('cursor');
    const ids: string[] = (b.items as Json[]).map((x) => (isObject(x) ? String(x.id ?? x.prefix ?? x.idempotencyKey ?? JSON.stringify(x)) : JSON.stringify(x)));
    let d: Drain | undefined;
    if (cursor) {
      d = this.drains.get(cursor);
      this.drains.delete(cursor);
      if (!d || d.list !== list) return;
    } else d = { rule, list, ids: [], startSeq: p.seq };
    d.ids.push(...ids);
    const next = b.pagination?.cursor;
    if (b.pagination?.has_more === true && typeof next === 'string') {
      this.drains.set(next, d);
      return;
    }
    this.judged(d.rule);
    const seen = new Set<string>();
    const twice = new Set<string>();
    for (const id of d.ids) (seen.has(id) ? twice : seen).add(id);
    if (twice.size) violation(rule, `${where}: a drained list returned ${[...twice].slice(0, 5).join(', ')} more than once`);
    const missing = throughout(d).filter((id) => !seen.has(id));
    if (missing.length) violation(rule, `${where}: a drained list (${d.ids.length} items over its pages) misses ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}, which existed throughout the drain`);
  }

  /** Keys of `groupId` minted (answered) before the drain began and not revoked while it ran. */
  private keysThroughout(groupId: string, d: Drain): string[] {
    return [...this.keys.values()].filter((k) => k.group_id === groupId && k.mintedSeq < d.startSeq && !this.revoking.has(k.prefix) && !this.deleting.has(groupId) && !this.deleted.has(groupId)).map((k) => k.prefix);
  }

  /** Groups the same management key created before the drain began, none of their subtree deleted since. */
  private groupsThroughout(p: Pending, d: Drain): string[] {
    if (!p.actor) return [];
    return [...this.groups.values()].filter((g) => g.owner === p.actor && (g.createdSeq ?? Infinity) < d.startSeq && !this.deleting.has(g.id)).map((g) => g.id);
  }

  private endpointRoutes(p: Pending, res: ResponseSeen, segs: string[], where: string, violation: (r: ProxyRule, m: string) => void): void {
    const m = p.req.method.toUpperCase();
    const b: Json = res.body;
    const ok = res.status >= 200 && res.status < 300;
    const id = segs[4];
    if (id && segs.length === 5) {
      if (this.deletedEndpoints.has(id) && res.status !== 429 && ['GET', 'PATCH', 'DELETE'].includes(m)) this.judged(RULES.endpointDeleted);
      if (this.deletedEndpoints.has(id) && res.status !== 404 && res.status !== 429 && ['GET', 'PATCH', 'DELETE'].includes(m)) {
        violation(RULES.endpointDeleted, `${where}: endpoint ${id} was deleted, yet ${m} answered ${res.status}, not 404`);
        return;
      }
      const before = this.endpoints.get(id);
      if (before && before.owner && p.actor && before.owner !== p.actor && res.status !== 401 && res.status !== 429) this.judged(RULES.otherWorkspaceEndpoint);
      if (before && res.status === 404 && before.owner && p.actor && before.owner !== p.actor) {
        violation(RULES.otherWorkspaceEndpoint, `${where}: endpoint ${id} is alive (created through the proxy with another key), yet it answered 404; another workspace's endpoint is 403`);
      }
      if (m === 'PATCH' && ok && isObject(b) && before) {
        if (typeof b.slug === 'string' && typeof before.object.slug === 'string') this.judged(RULES.endpointSlugImmutable);
        if (typeof b.slug === 'string' && typeof before.object.slug === 'string' && b.slug !== before.object.slug) {
          violation(RULES.endpointSlugImmutable, `${where}: PATCH changed the slug from ${before.object.slug} to ${b.slug}`);
        }
        const was = Date.parse(before.object.updated_at);
        const now = Date.parse(b.updated_at);
        if (Number.isFinite(was) && Number.isFinite(now)) this.judged(RULES.endpointUpdatedAt);
        if (Number.isFinite(was) && Number.isFinite(now) && (now < was || (now === was && this.now() - before.seenAt > 1100))) {
          violation(RULES.endpointUpdatedAt, `${where}: updated_at ${b.updated_at} after the update, was ${before.object.updated_at}`);
        }
      }
      if (m === 'DELETE' && ok) {
        this.deletedEndpoints.add(id);
        this.endpoints.delete(id);
        return;
      }
      if (ok && isObject(b) && typeof b.id === 'string') this.endpoints.set(b.id, { object: b, seenAt: this.now(), owner: before?.owner });
      return;
    }
    if (segs.length !== 4) return;
    if (m === 'POST' && isObject(p.req.body) && typeof p.req.body.slug === 'string') {
      const slug = p.req.body.slug;
      const taken = [...this.endpoints.values()].find((e) => e.object.slug === slug);
      if (taken && res.status !== 401 && res.status !== 403 && res.status !== 429) this.judged(RULES.endpointSlugTaken);
      if (taken && ok) violation(RULES.endpointSlugTaken, `${where}: slug ${slug} is held by live endpoint ${taken.object.id}, yet the create answered ${res.status}`);
      if (ok && isObject(b) && typeof b.id === 'string') this.endpoints.set(b.id, { object: b, seenAt: this.now(), owner: p.actor });
      return;
    }
    if (m === 'GET' && ok && isObject(b) && Array.isArray(b.items)) {
      for (const e of b.items) if (isObject(e) && typeof e.id === 'string' && !this.deletedEndpoints.has(e.id)) this.endpoints.set(e.id, { object: e, seenAt: this.endpoints.get(e.id)?.seenAt ?? this.now(), owner: this.endpoints.get(e.id)?.owner });
      this.drain(p, b, 'endpoints', RULES.endpointListed, where, violation, () => []);
    }
  }

  private eventRoutes(p: Pending, res: ResponseSeen, where: string, violation: (r: ProxyRule, m: string) => void): void {
    const b: Json = res.body;
    if (res.status !== 200 || !isObject(b) || !Array.isArray(b.items)) return;
    let last = -Infinity;
    const params = new URLSearchParams(p.req.query ?? '');
    const from = params.has('cursor') ? NaN : Date.parse(params.get('start_time') ?? '');
    const until = params.has('cursor') ? NaN : Date.parse(params.get('end_time') ?? '');
    for (const e of b.items) {
      if (!isObject(e)) continue;
      this.judged(RULES.eventFields);
      if (Number.isFinite(from) || Number.isFinite(until)) this.judged(RULES.eventWindow);
      if (Number.isFinite(last)) this.judged(RULES.eventOrder);
      const at = Date.parse(String(e.timestamp));
      if ((Number.isFinite(from) && at < from) || (Number.isFinite(until) && at >= until)) {
        violation(RULES.eventWindow, `${where}: event at ${e.timestamp} is outside [start_time, end_time) = [${params.get('start_time')}, ${params.get('end_time') ?? 'now'})`);
      }
      if ('requestMetadata' in e) violation(RULES.eventFields, `${where}: a fetched billing event carries requestMetadata`);
      if (!isRfc3339Utc(e.timestamp)) violation(RULES.eventFields, `${where}: event timestamp ${JSON.stringify(e.timestamp)} is not an RFC 3339 UTC timestamp`);
      const t = Date.parse(String(e.timestamp));
      if (t < last) violation(RULES.eventOrder, `${where}: event at ${e.timestamp} comes after a later one`);
      if (Number.isFinite(t)) last = t;
    }
    this.drain(p, b, 'events', RULES.eventDrain, where, violation, () => []);
  }

  /**
   * Who made the call, as the journal names it: the federated key's prefix and its group
   * (inference, when the proxy has seen the key), or the group the path names.
   */
  callerOf(p: Pending): { key_prefix: string | null; group_id: string | null } {
    const segs = p.req.path.split('/').map(safeDecode);
    if (segs[2] === 'gateway') return { key_prefix: null, group_id: segs[3] === 'groups' && segs[4] ? segs[4] : null };
    const credential = credentialOf(p.req.headers);
    if (!credential) return { key_prefix: null, group_id: null };
    const prefix = this.prefixFor(credential);
    const key = this.keys.get(prefix);
    return key ? { key_prefix: prefix, group_id: key.group_id } : { key_prefix: null, group_id: null };
  }

  /**
   * `text` with every secret the proxy knows of gone: a key-shaped token keeps its prefix,
   * and any token whose digest is a minted or registered key's (or its secret part's) is
   * redacted whole. For verdict messages, which quote bodies.
   */
  redactText(text: string): string {
    const shaped = text.replace(KEY_SHAPED, (k) => `${prefixOf(k)}${REDACTED}`);
    if (this.secrets.size === 0) return shaped;
    return shaped.replace(/[A-Za-z0-9_-]{16,}/g, (t) => (this.secrets.has(sha(t)) ? REDACTED : t));
  }

  /** A copy of a JSON value with every string a known secret (or holding one) redacted, for what the proxy keeps. */
  scrub(v: unknown): unknown {
    if (typeof v === 'string') return this.secrets.has(sha(v)) ? REDACTED : this.redactText(v);
    if (Array.isArray(v)) return v.map((x) => this.scrub(x));
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.scrub(x)]));
    return v;
  }

  /** The latest object seen of each group, endpoint and key; deleted ones removed; no secret. */
  learned(): ObservedWorkspace {
    return {
      groups: [...this.groups.values()].filter((g) => !this.deleted.has(g.id)).map((g) => g.object),
      endpoints: [...this.endpoints.values()].map((e) => e.object),
      keys: [...this.keys.values()].filter((k) => !this.revoked.has(k.prefix) && !this.deleted.has(k.group_id)).map(({ group_id, prefix, name }) => ({ group_id, prefix, name })),
    };
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The message of an error body, whichever form (src/http/errors.ts writes both). */
function messageOf(b: Json): string {
  if (typeof b?.error === 'string') return b.error;
  if (typeof b?.error?.message === 'string') return b.error.message;
  return JSON.stringify(b) ?? '';
}

/** Why the domain's CASCADING check refuses this write, or undefined when it allows it. */
function cascadeRefusal(candidate: LimitNode, ancestors: readonly LimitNode[], descendants: readonly LimitNode[]): string | undefined {
  try {
    checkCascade(candidate, ancestors, descendants);
    return undefined;
  } catch (e) {
    const detail = (e as { detail?: string }).detail;
    return detail ?? (e as Error).message;
  }
}
