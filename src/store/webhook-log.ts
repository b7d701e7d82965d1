import type { EventRef } from '../domain/events.js';
import { signatureHeader, type BillingEvent, type BillingWebhook } from '../domain/webhooks.js';

/**
 * The record of billing webhook deliveries: every delivery with its attempts, oldest
 * first, and the dead-letter queue. Plain data owned by the store (so it is reset,
 * snapshotted and restored with everything else); src/service/webhook-deliverer.ts does the
 * sending and writes the outcome here.
 */

export interface Attempt {
  at: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead_lettered' | 'no_receiver';

export interface Delivery {
  /** The X-Baseten-Request-ID, the same on every retry. */
  id: string;
  workspace_id: string;
  url: string | null;
  state: DeliveryState;
  payload: BillingWebhook;
  signature: string;
  attempts: Attempt[];
}

export interface WebhookLogSnapshot {
  deliveries: Delivery[];
  /** The dead-letter queue, oldest first (an entry may outlive its place in `deliveries`). */
  dead_letter: Delivery[];
}

/** The retained-bytes budget of the log, and of the dead-letter queue: 32 MiB each. */
export const DEFAULT_MAX_LOG_BYTES = 32 * 1024 * 1024;
/** What a delivery costs beyond its payload: ids, URL, signature, attempts. */
const RECORD_OVERHEAD_BYTES = 1024;

/**
 * A delivery as kept: the payload as the exact bytes that were signed and sent, never a
 * copy of the user's object graph, so listing the log copies strings, not structures
 * (no deep structuredClone of user metadata), and its size is known. The signature is
 * computed the first time it is needed (the first attempt, or a look at the log), with
 * the secret of the workspace when the delivery was made: most deliveries of a mock have
 * no receiver and are never looked at, so an HMAC per completion would be wasted.
 */
export interface StoredDelivery extends Omit<Delivery, 'payload' | 'signature'> {
  body: string;
  bytes: number;
  /** Null until signatureOf() computes it. */
  signature: string | null;
  /** The secret (or secrets, newest first, during a rotation) to sign with, until the signature is computed (then null). */
  secret: string | readonly string[] | null;
  /** Its earliest event's time (ms; NaN without events): the log is kept in this order. */
  at: number;
  /** Its events as the events API indexes them, read from `body` the first time a query needs them. */
  refs: StoredEventRef[] | null;
}

/** An event of the log, indexed (src/domain/events.ts), with the delivery it is read from. */
export interface StoredEventRef extends EventRef {
  source: StoredDelivery;
}

/** What a new record needs: its signature, or the secret to compute it with when it is needed. */
export type NewDelivery = Omit<StoredDelivery, 'bytes' | 'signature' | 'secret' | 'at' | 'refs'> & { at?: number } & ({ signature: string } | { secret: string | readonly string[] });

/** A new record for `body`, the serialized payload. */
export function storedDelivery(fields: NewDelivery): StoredDelivery {
  // Spelled out, not `{ ...fields, bytes }`: a spread copy extended with a field takes
  // V8's slow path and gives each record a hidden class (docs/performance.md).
  return {
    id: fields.id,
    workspace_id: fields.workspace_id,
    url: fields.url,
    state: fields.state,
    signature: 'signature' in fields ? fields.signature : null,
    secret: 'secret' in fields ? fields.secret : null,
    attempts: fields.attempts,
    body: fields.body,
    bytes: fields.body.length + RECORD_OVERHEAD_BYTES,
    at: fields.at ?? earliestAt(eventsOfBody(fields.body)),
    refs: null,
  };
}

/** The events of a serialized payload; none when it holds none (or is not a payload). */
function eventsOfBody(body: string): BillingEvent[] {
  try {
    const events = (JSON.parse(body) as Partial<BillingWebhook> | null)?.data?.events;
    return Array.isArray(events) ? events : [];
  } catch {
    return [];
  }
}

/** The earliest `timestamp` of `events` in ms; NaN when there is none. */
export function earliestAt(events: readonly BillingEvent[]): number {
  let at = Number.NaN;
  for (const e of events) {
    const t = Date.parse(e?.timestamp);
    if (!Number.isNaN(t) && (Number.isNaN(at) || t < at)) at = t;
  }
  return at;
}

/** The delivery's events, indexed once. */
function refsOf(d: StoredDelivery): StoredEventRef[] {
  if (d.refs === null) {
    d.refs = eventsOfBody(d.body).flatMap((e, index): StoredEventRef[] => {
      const at = Date.parse(e?.timestamp);
      if (Number.isNaN(at)) return [];
      return [{ at, workspaceId: d.workspace_id, apiKeyPrefix: String(e.apiKeyPrefix), externalEntityId: String(e.externalEntityId), delivery: d.id, index, source: d }];
    });
  }
  return d.refs;
}

/** The delivery's X-Baseten-Signature (HMAC-SHA256 of its bytes), computed once. */
export function signatureOf(d: StoredDelivery): string {
  if (d.signature === null) {
    d.signature = signatureHeader(d.body, d.secret as string | readonly string[]);
    d.secret = null;
  }
  return d.signature;
}

/**
 * A list, oldest first, dropped from the front by count and by bytes (the newest is always
 * kept). A dropped entry is cleared at once, and the cleared slots are cut off in one go
 * once they are half the array: cutting them one at a time would move the whole array on
 * every completion once the log is full.
 */
class BoundedList {
  private all: (StoredDelivery | undefined)[] = [];
  /** Slots before `head` have been dropped. */
  private head = 0;
  private bytes = 0;
  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}
  /** The kept entries, oldest first. */
  get items(): StoredDelivery[] {
    return (this.head === 0 ? this.all : this.all.slice(this.head)) as StoredDelivery[];
  }
  get size(): number {
    return this.all.length - this.head;
  }
  /** The i-th kept entry, oldest first. */
  get(i: number): StoredDelivery {
    return this.all[this.head + i] as StoredDelivery;
  }
  add(d: StoredDelivery): void {
    this.all.push(d);
    this.bytes += d.bytes;
    while (this.all.length - this.head > 1 && (this.all.length - this.head > this.maxCount || this.bytes > this.maxBytes)) {
      this.bytes -= (this.all[this.head] as StoredDelivery).bytes;
      this.all[this.head] = undefined;
      this.head += 1;
    }
    if (this.head > 0 && this.head * 2 >= this.all.length) {
      this.all = this.all.slice(this.head);
      this.head = 0;
    }
  }
  replace(items: StoredDelivery[]): void {
    this.all = [];
    this.head = 0;
    this.bytes = 0;
    for (const d of items) this.add(d);
  }
}

/** The outside view of a stored delivery: a fresh object, the payload parsed from its bytes. */
function viewOf(d: StoredDelivery): Delivery {
  return {
    id: d.id,
    workspace_id: d.workspace_id,
    url: d.url,
    state: d.state,
    payload: JSON.parse(d.body) as BillingWebhook,
    signature: signatureOf(d),
    attempts: d.attempts.map((a) => ({ ...a })),
  };
}

export class WebhookLog {
  private deliveries: BoundedList;
  private deadLetter: BoundedList;
  private changes = 0;
  /** Whether the deliveries are in the order of their `at` (they are appended as the clock moves, which is only forward). */
  private ordered = true;
  private lastAt = Number.NEGATIVE_INFINITY;
  /** Told every write (the store's change sink): the delivery, whether it is new, whether it joined the dead-letter queue. */
  onChange: ((d: StoredDelivery, added: boolean, deadLettered: boolean) => void) | null = null;

  /** Keeps at most `maxLog` deliveries and `maxBytes` of payload (oldest dropped first); the dead letters likewise. */
  constructor(
    maxLog = 10_000,
    maxBytes = DEFAULT_MAX_LOG_BYTES,
  ) {
    this.deliveries = new BoundedList(maxLog, maxBytes);
    this.deadLetter = new BoundedList(maxLog, maxBytes);
  }

  /** Bumped by every write (see Store.revision). */
  get revision(): number {
    return this.changes;
  }

  add(d: StoredDelivery): void {
    this.deliveries.add(d);
    this.noteOrder(d);
    this.changes += 1;
    if (this.onChange !== null) this.onChange(d, true, false);
  }

  private noteOrder(d: StoredDelivery): void {
    if (d.at < this.lastAt) this.ordered = false;
    else if (d.at > this.lastAt) this.lastAt = d.at;
  }

  /**
   * The kept events from `fromMs` on (maybe some earlier), ascending by time and, at equal
   * times, in the order they were recorded: a binary search then a walk, as deliveries are
   * appended in clock order. Should that ever not hold (a base clock that stepped back),
   * every kept event, sorted.
   */
  *eventsFrom(fromMs: number): Generator<StoredEventRef> {
    const list = this.deliveries;
    if (!this.ordered) {
      const all: StoredEventRef[] = [];
      for (let i = 0; i < list.size; i++) all.push(...refsOf(list.get(i)));
      yield* all.sort((a, b) => a.at - b.at);
      return;
    }
    let lo = 0;
    let hi = list.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list.get(mid).at < fromMs) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < list.size; i++) yield* refsOf(list.get(i));
  }

  /** The whole event `ref` indexes, as its delivery carries it. */
  eventOf(ref: StoredEventRef): BillingEvent {
    return eventsOfBody(ref.source.body)[ref.index] as BillingEvent;
  }

  /**
   * How many deliveries with events the log keeps (the mock sends one event per delivery,
   * so as many events), the earliest and latest of their times (ms), and how many are at
   * or after `since`, for the inspector; from the deliveries' times alone, without reading
   * their payloads.
   */
  eventSpan(since = Number.POSITIVE_INFINITY): { count: number; oldest: number | null; newest: number | null; since: number } {
    const list = this.deliveries;
    let count = 0;
    let after = 0;
    let oldest: number | null = null;
    let newest: number | null = null;
    for (let i = 0; i < list.size; i++) {
      const at = list.get(i).at;
      if (Number.isNaN(at)) continue;
      count += 1;
      if (at >= since) after += 1;
      if (oldest === null || at < oldest) oldest = at;
      if (newest === null || at > newest) newest = at;
    }
    return { count, oldest, newest, since: after };
  }

  /** Records one attempt at delivering `d`. */
  addAttempt(d: StoredDelivery, attempt: Attempt): void {
    d.attempts.push(attempt);
    this.changes += 1;
    if (this.onChange !== null) this.onChange(d, false, false);
  }

  /** Marks `d` finished; a dead-lettered delivery also joins the dead-letter queue. */
  finish(d: StoredDelivery, state: 'delivered' | 'dead_lettered'): void {
    d.state = state;
    if (state === 'dead_lettered') this.deadLetter.add(d);
    this.changes += 1;
    if (this.onChange !== null) this.onChange(d, false, state === 'dead_lettered');
  }

  /** Deliveries still waiting for an attempt, oldest first. */
  pending(): StoredDelivery[] {
    return this.deliveries.items.filter((d) => d.state === 'pending');
  }

  /** A copy for GET /_mock/webhooks. */
  view(): { deliveries: Delivery[]; dead_letter: Delivery[] } {
    return { deliveries: this.deliveries.items.map(viewOf), dead_letter: this.deadLetter.items.map(viewOf) };
  }

  /** The same as view(), one delivery at a time (a view of the whole log may be tens of MB): for streaming it. */
  viewLazily(): { deliveries: Iterable<Delivery>; dead_letter: Iterable<Delivery> } {
    const each = function* (items: StoredDelivery[]): Iterable<Delivery> {
      for (const d of items) yield viewOf(d);
    };
    return { deliveries: each(this.deliveries.items), dead_letter: each(this.deadLetter.items) };
  }

  /** The newest `n` deliveries and dead letters, newest first, and how many deliveries are kept: for the inspector, which polls every second and must not copy the whole log each time. */
  tail(n: number): { deliveries: Delivery[]; dead_letter: Delivery[]; total: number } {
    const last = (items: StoredDelivery[]) => (n > 0 ? items.slice(-n) : []).reverse().map(viewOf);
    return { deliveries: last(this.deliveries.items), dead_letter: last(this.deadLetter.items), total: this.deliveries.items.length };
  }

  /** The kept records themselves, oldest first (copies of the lists, not of the records). */
  stored(): { deliveries: StoredDelivery[]; deadLetter: StoredDelivery[] } {
    return { deliveries: [...this.deliveries.items], deadLetter: [...this.deadLetter.items] };
  }

  reset(): void {
    this.deliveries.replace([]);
    this.deadLetter.replace([]);
    this.resetOrder();
    this.changes += 1;
  }

  private resetOrder(): void {
    this.ordered = true;
    this.lastAt = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.deliveries.size; i++) this.noteOrder(this.deliveries.get(i));
  }

  snapshot(): WebhookLogSnapshot {
    return this.view();
  }

  /** Replaces the log with `s`; a dead letter that is also in the log is the same record again. */
  restore(s: WebhookLogSnapshot): void {
    const stored = (d: Delivery): StoredDelivery => {
      const { payload, ...rest } = d;
      return storedDelivery({ ...rest, attempts: d.attempts.map((a) => ({ ...a })), body: JSON.stringify(payload), at: earliestAt(payload?.data?.events ?? []) });
    };
    const deliveries = s.deliveries.map(stored);
    const byId = new Map(deliveries.map((d) => [d.id, d]));
    this.deliveries.replace(deliveries);
    this.deadLetter.replace(s.dead_letter.map((d) => byId.get(d.id) ?? stored(d)));
    this.resetOrder();
    this.changes += 1;
  }
}
