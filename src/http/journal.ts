import { performance } from 'node:perf_hooks';
import { rfc3339Millis, type Clock } from '../domain/clock.js';
import { TextRing } from '../store/text-ring.js';
import type { AppliedFault, Exchange, Step } from './pipeline.js';
import { redactedJson, redactHeaders, redactQuery } from './redact.js';
import type { JournalEntry as GeneratedJournalEntry } from '../generated/mock-admin.js';

/**
 * The request journal behind GET /_mock/requests: recent exchanges with their request
 * and response, redacted before they are stored (src/http/redact.ts). Bounded by entry
 * count and by bytes, the oldest dropped first, and each body is capped, so a long run
 * cannot exhaust memory. A streamed response is recorded as having streamed, never its
 * stream. The mock's own /_mock/ routes are not journaled: the inspector polls them every
 * second and would push the traffic being debugged out of the journal.
 */

/** An exchange as the journal keeps it (generated from the admin spec's `JournalEntry`). */
export type JournalEntry = GeneratedJournalEntry;

export interface JournalLimits {
  /** At most this many entries (default 1000). */
  maxEntries?: number;
  /** At most this many bytes of entries, measured as JSON (default 8 MiB). */
  maxBytes?: number;
  /** A body bigger than this (as JSON) is kept as a marker with its size and a preview (default 64 KiB). */
  maxBodyBytes?: number;
}

export interface JournalFilter {
  /** Entries whose path contains this (a prefix is a substring too). */
  path?: string;
  operation?: string;
  /** An exact status (`503`) or a class (`5xx`). */
  status?: string;
  /** At most this many, newest first. */
  limit?: number;
}

const PREVIEW_BYTES = 1024;

/** An exchange as the journal step hands it over: bodies as redacted JSON text (redactedJson). */
export type NewJournalEntry = Omit<JournalEntry, 'seq' | 'request' | 'response'> & {
  request: { headers: Record<string, string>; body: string };
  response: { headers: Record<string, string>; body: string };
};

/** What the journal keeps beside an entry's text, to filter without parsing it. */
interface Stored {
  path: string;
  operation: string | null;
  status: number | null;
}

export class Journal {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxBodyBytes: number;
  /** Each entry's JSON, outside the JS heap (src/store/text-ring.ts); parsed again only when someone reads the journal. */
  private ring: TextRing<Stored>;
  private seq = 0;
  private droppedCount = 0;

  constructor(limits: JournalLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 1000;
    this.maxBytes = limits.maxBytes ?? 8 * 1024 * 1024;
    this.maxBodyBytes = limits.maxBodyBytes ?? 64 * 1024;
    this.ring = new TextRing(this.maxBytes);
  }

  /** Adds an entry (already redacted), dropping the oldest until both bounds hold. */
  add(entry: NewJournalEntry): void {
    const { request, response } = entry;
    // The entry's JSON in JournalEntry's field order, written in one piece: each body's
    // text is already JSON; the id, time, method, operation and outcome never need escaping
    // (a UUID, RFC 3339, an HTTP token Node has checked, an operationId, one of four words);
    // the path and query come from the client and go through JSON.stringify.
    const text =
      `{"seq":${++this.seq},"request_id":"${entry.request_id}","at":"${entry.at}","method":"${entry.method}",` +
      `"path":${JSON.stringify(entry.path)},"query":${JSON.stringify(entry.query)},"operation":${entry.operation === null ? 'null' : `"${entry.operation}"`},` +
      `"status":${entry.status},"duration_ms":${entry.duration_ms},"outcome":"${entry.outcome}",` +
      `"workspace_id":${nullable(entry.workspace_id)},"key_prefix":${nullable(entry.key_prefix)},"group_id":${nullable(entry.group_id)},` +
      `"request":{"headers":${JSON.stringify(request.headers)},"body":${this.capped(request.body)}},` +
      `"response":{"headers":${JSON.stringify(response.headers)},"body":${this.capped(response.body)}},"fault":${JSON.stringify(entry.fault)},` +
      `"refusal":${entry.refusal === null ? 'null' : JSON.stringify(entry.refusal)}}`;
    const bytes = Buffer.byteLength(text);
    const ring = this.ring;
    while (ring.length > 0 && (ring.length + 1 > this.maxEntries || ring.bytes + bytes > this.maxBytes)) {
      ring.shift();
      this.droppedCount += 1;
    }
    // An entry bigger than the whole bound (or a bound of no entries) is dropped at once.
    if (bytes > this.maxBytes || this.maxEntries < 1) {
      this.droppedCount += 1;
      return;
    }
    ring.push(text, bytes, { path: entry.path, operation: entry.operation, status: entry.status });
  }

  get size(): number {
    return this.ring.length;
  }

  get bytes(): number {
    return this.ring.bytes;
  }

  /** Entries dropped to keep the bounds since the last clear. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Matching entries, newest first. */
  list(filter: JournalFilter = {}): JournalEntry[] {
    const status = statusMatcher(filter.status);
    const out: JournalEntry[] = [];
    for (let i = this.ring.length - 1; i >= 0; i--) {
      const e = this.ring.record(i);
      if (filter.path !== undefined && !e.path.includes(filter.path)) continue;
      if (filter.operation !== undefined && e.operation !== filter.operation) continue;
      if (!status(e.status)) continue;
      out.push(JSON.parse(this.ring.text(i)) as JournalEntry);
      if (filter.limit !== undefined && out.length >= filter.limit) break;
    }
    return out;
  }

  clear(): void {
    this.ring.clear();
    this.droppedCount = 0;
  }

  /** A body's JSON text, or the JSON of a marker with its size and a preview when it is too big. */
  private capped(text: string): string {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: most bodies need no count.
    if (text.length * 3 <= this.maxBodyBytes) return text;
    const size = Buffer.byteLength(text);
    if (size <= this.maxBodyBytes) return text;
    return JSON.stringify({ truncated: true, bytes: size, preview: text.slice(0, PREVIEW_BYTES) });
  }
}

/** A string or null as JSON. */
const nullable = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));

function statusMatcher(spec: string | undefined): (status: number | null) => boolean {
  if (spec === undefined) return () => true;
  const cls = /^([1-5])xx$/i.exec(spec);
  if (cls) return (s) => s !== null && Math.floor(s / 100) === Number(cls[1]);
  return (s) => String(s) === spec;
}

/**
 * Journals every exchange except the mock's own routes. Joins the pipeline outside
 * `serialise`, so it sees what was sent (or that nothing was), and records as soon as
 * the steps inside it are done: by then the mock has handed its whole response to the
 * socket (`answered`, `streamed`), or dropped the connection (`dropped`), or the client
 * went away first (`aborted`). A response still open then (nothing inside answered it)
 * is recorded when it closes. Recording while the exchange is fresh, rather than from a
 * `close` listener on every response, costs one listener less per request.
 */
const STREAMED = JSON.stringify({ streamed: true });

export function journalStep(journal: Journal, clock: Clock): Step {
  return {
    name: 'journal',
    run(x, next) {
      if (x.op?.document === 'admin' || (x.op === undefined && x.req.path.startsWith('/_mock/'))) return next();
      const arrived = clock.now();
      const record = () => journal.add(entryOf(x, arrived));
      const settled = () => {
        if (x.res.writableEnded || x.res.destroyed) record();
        else x.res.once('close', record);
      };
      return next().then(settled, (err: unknown) => {
        settled();
        throw err;
      });
    },
  };
}

function entryOf(x: Exchange, arrived: number): NewJournalEntry {
  const res = x.res;
  const streamed = x.result !== undefined && 'streamed' in x.result;
  const url = x.req.originalUrl;
  const q = url.indexOf('?');
  return {
    request_id: x.requestId,
    at: rfc3339Millis(arrived),
    method: x.req.method,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? null : redactQuery(url.slice(q + 1)),
    operation: x.op?.id ?? null,
    status: res.headersSent ? res.statusCode : null,
    duration_ms: Math.round((performance.now() - x.startedAt) * 10) / 10,
    outcome: x.fault?.drop ? 'dropped' : !res.writableEnded ? 'aborted' : streamed ? 'streamed' : 'answered',
    // Who called, when the key authenticated: a federated key names its prefix and group.
    workspace_id: x.caller?.workspace.id ?? x.workspace?.id ?? null,
    key_prefix: x.caller?.key.prefix ?? null,
    group_id: x.caller?.group.id ?? null,
    request: { headers: redactHeaders(x.req.headers), body: redactedJson(x.req.body) },
    response: {
      headers: res.headersSent ? redactHeaders(res.getHeaders() as Record<string, string | string[] | number | undefined>) : {},
      body: streamed ? STREAMED : redactedJson(x.sent?.body, x.sent?.text),
    },
    fault: x.fault ?? null,
    refusal: x.refusal ?? null,
  };
}
