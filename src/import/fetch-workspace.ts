import { systemClock, type Clock } from '../domain/clock.js';
import type { ObservedWorkspace } from './workspace-scenario.js';

/**
 * Reads a workspace through the gateway's management API with read-only calls: list
 * groups, list endpoints, list each group's keys, following every cursor. Paced per route
 * (the documented limit is 100 requests per second per key and per route; this stays at
 * `perRoutePerSecond`, 50 by default) and waiting out a 429's `retry_after` (or
 * `Retry-After`) a bounded number of times. Every failure is an ImportError with one
 * line that says what went wrong; the API key is never part of one.
 */

export interface FetchWorkspaceOptions {
  /** The management API's base URL, e.g. https://api.baseten.co or http://127.0.0.1:4010. */
  baseUrl: string;
  /** A workspace key: management scope reads every list (the docs name view scope for listing groups only). */
  apiKey: string;
  /** Page size of every list (1..1000, default 100). */
  pageSize?: number;
  /** At most this many requests per second on one route (1..100, default 50). */
  perRoutePerSecond?: number;
  /** 429s waited out for one request before giving up (default 5). */
  maxRetries?: number;
  /** The longest `retry_after` waited for (default 120 s); a longer one is an ImportError. */
  maxWaitSeconds?: number;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

export interface FetchedWorkspace {
  workspace: ObservedWorkspace;
  /** Requests sent, 429s included. */
  requests: number;
  /** 429s waited out. */
  waits: number;
}

export class ImportError extends Error {
  override name = 'ImportError';
}

export const DEFAULT_PER_ROUTE_PER_SECOND = 50;
export const DEFAULT_PAGE_SIZE = 100;
/** A list longer than this many pages is taken for a cursor that never ends. */
const MAX_PAGES = 100_000;

const GROUPS = '/v1/gateway/groups';
const ENDPOINTS = '/v1/gateway/endpoints';
const KEYS = '/v1/gateway/groups/{group_id}/api_keys';

interface Page {
  items: unknown[];
  cursor: string | null;
}

export async function fetchWorkspace(options: FetchWorkspaceOptions): Promise<FetchedWorkspace> {
  const base = options.baseUrl.replace(/\/+$/, '');
  const origin = displayUrl(base);
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const doFetch = options.fetch ?? fetch;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const interval = Math.ceil(1000 / (options.perRoutePerSecond ?? DEFAULT_PER_ROUTE_PER_SECOND));
  const maxRetries = options.maxRetries ?? 5;
  const maxWait = options.maxWaitSeconds ?? 120;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const nextSlot = new Map<string, number>();
  let requests = 0;
  let waits = 0;

  /** Waits for the route's next slot: requests on one route start at least `interval` ms apart. */
  const pace = async (route: string) => {
    const now = clock.now();
    const slot = Math.max(now, nextSlot.get(route) ?? now);
    nextSlot.set(route, slot + interval);
    if (slot > now) await sleep(slot - now);
  };

  /** One GET, paced, with 429s waited out; the parsed JSON body of a 2xx. */
  const get = async (route: string, path: string, first: boolean): Promise<unknown> => {
    for (let attempt = 0; ; attempt++) {
      await pace(route);
      requests++;
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, { headers: { authorization: `Api-Key ${options.apiKey}`, accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        if (err.name === 'TimeoutError' || err.name === 'AbortError') throw new ImportError(`${origin} did not answer GET ${path} within ${timeoutMs / 1000} s`);
        throw new ImportError(`cannot reach ${origin}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
      }
      const text = await res.text().catch(() => '');
      const body = parseJson(text);
      if (res.status === 429) {
        const seconds = retryAfterOf(body, res.headers.get('retry-after'));
        if (attempt >= maxRetries) throw new ImportError(`${origin} kept answering 429 on GET ${path} (${attempt + 1} times); try again later or lower --max-rate`);
        if (seconds > maxWait) throw new ImportError(`${origin} answered 429 on GET ${path} with retry_after ${seconds} s, longer than the ${maxWait} s this import waits`);
        waits++;
        // The route's pacing restarts after the wait.
        nextSlot.set(route, clock.now() + seconds * 1000);
        continue;
      }
      const message = messageOf(body) ?? (text.trim() ? `${contentType(res)} body` : 'an empty body');
      if (res.status === 401 || res.status === 403) {
        // The list of groups went through: the key is good, but its scope may not cover this list.
        const hint = res.status === 403 && !first ? ' (the key may list groups but not this; a management-scope key reads every list)' : '';
        throw new ImportError(`${origin} refused the API key (${res.status} on GET ${path}): ${message}${hint}`);
      }
      if (first && (res.status === 404 || res.status === 405 || (res.ok && !isList(body)))) {
        throw new ImportError(`${origin} does not look like a Frontier Gateway management API: GET ${path} answered ${res.status} with ${isList(body) ? 'a list' : body === undefined ? `a ${contentType(res)} body` : 'JSON that is not a gateway list (items, pagination)'}`);
      }
      if (!res.ok) throw new ImportError(`${origin} answered ${res.status} on GET ${path}: ${message}`);
      if (!isList(body)) throw new ImportError(`${origin} answered GET ${path} with something that is not a gateway list (items, pagination)`);
      return body;
    }
  };

  /** Every item of a list, following its cursors. */
  const all = async (route: string, path: string, first = false): Promise<unknown[]> => {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = `?limit=${pageSize}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const p = pageOf(await get(route, `${path}${query}`, first && page === 0));
      items.push(...p.items);
      if (p.cursor === null) return items;
      if (seen.has(p.cursor)) throw new ImportError(`${origin} returned the same cursor twice on GET ${path}; stopped reading that list`);
      seen.add(p.cursor);
      cursor = p.cursor;
    }
    throw new ImportError(`${origin}: GET ${path} had more than ${MAX_PAGES} pages; stopped reading that list`);
  };

  const groups = await all(GROUPS, GROUPS, true);
  const endpoints = await all(ENDPOINTS, ENDPOINTS);
  const keys: ObservedWorkspace['keys'] = [];
  for (const g of groups) {
    const id = (g as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') continue; // the converter says so
    for (const k of await all(KEYS, `${GROUPS}/${encodeURIComponent(id)}/api_keys`)) {
      const key = k as { prefix?: unknown; name?: unknown } | null;
      if (typeof key?.prefix === 'string') keys.push({ group_id: id, prefix: key.prefix, name: typeof key.name === 'string' ? key.name : null });
    }
  }
  return { workspace: { groups, endpoints, keys }, requests, waits };
}

/** The URL as it may be shown: no credentials, query or fragment. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function contentType(res: Response): string {
  return (res.headers.get('content-type') ?? 'untyped').split(';')[0] as string;
}

function isList(body: unknown): body is { items: unknown[]; pagination: { has_more?: unknown; cursor?: unknown } } {
  const b = body as { items?: unknown; pagination?: unknown } | null | undefined;
  return Array.isArray(b?.items) && b?.pagination !== null && typeof b?.pagination === 'object';
}

function pageOf(body: unknown): Page {
  const b = body as { items: unknown[]; pagination: { has_more?: unknown; cursor?: unknown } };
  const cursor = typeof b.pagination.cursor === 'string' && b.pagination.cursor !== '' ? b.pagination.cursor : null;
  // has_more decides; a cursor on the last page is ignored.
  return { items: b.items, cursor: b.pagination.has_more === true ? cursor : null };
}

/** The target's own message: `{"error": "..."}` or OpenAI's `{"error": {"message"}}`, shortened. */
function messageOf(body: unknown): string | undefined {
  const b = body as { error?: unknown; message?: unknown } | null | undefined;
  const e = b?.error;
  const m = typeof e === 'string' ? e : typeof (e as { message?: unknown } | null)?.message === 'string' ? (e as { message: string }).message : typeof b?.message === 'string' ? b.message : undefined;
  return m === undefined ? undefined : m.length > 300 ? `${m.slice(0, 300)}...` : m;
}

/** Seconds to wait after a 429: the body's `retry_after`, else `Retry-After` (seconds), else 1. */
function retryAfterOf(body: unknown, header: string | null): number {
  const fromBody = (body as { retry_after?: unknown } | null | undefined)?.retry_after;
  if (typeof fromBody === 'number' && Number.isFinite(fromBody) && fromBody >= 0) return Math.max(1, Math.ceil(fromBody));
  if (header !== null && /^\s*\d+\s*$/.test(header)) return Math.max(1, Number(header));
  return 1;
}
