import { signPayload, type BillingWebhook } from '../domain/webhooks.js';

/**
 * The record of billing webhook deliveries: every delivery with its attempts, oldest
 * first, and the dead-letter queue. Plain data owned by the store (so it is reset,
 * snapshotted and restored with everything else); src/webhooks/deliverer.ts does the
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
 * no receiver and are never looked at, and an HMAC per completion was 3% of its time.
 */
export interface StoredDelivery extends Omit<Delivery, 'payload' | 'signature'> {
  body: string;
  bytes: number;
  /** Null until signatureOf() computes it. */
  signature: string | null;
  /** The secret to sign with, until the signature is computed (then null). */
  secret: string | null;
}

/** What a new record needs: its signature, or the secret to compute it with when it is needed. */
export type NewDelivery = Omit<StoredDelivery, 'bytes' | 'signature' | 'secret'> & ({ signature: string } | { secret: string });

/** A new record for `body`, the serialized payload. */
export function storedDelivery(fields: NewDelivery): StoredDelivery {
  // Spelled out, not `{ ...fields, bytes }`: a spread copy extended with a field costs
  // about 1.6 µs more per completion (and a hidden class per record held in the log).
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
  };
}

/** The delivery's X-Baseten-Signature (HMAC-SHA256 of its bytes), computed once. */
export function signatureOf(d: StoredDelivery): string {
  if (d.signature === null) {
    d.signature = signPayload(d.body, d.secret as string);
    d.secret = null;
  }
  return d.signature;
}

/**
 * A list, oldest first, dropped from the front by count and by bytes (the newest is always
 * kept). A dropped entry is cleared at once, and the cleared slots are cut off in one go
 * once they are half the array: cutting them one at a time moved the whole array on
 * every completion once the log was full (about 50 µs a completion at 10,000 entries).
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
    this.changes += 1;
    if (this.onChange !== null) this.onChange(d, true, false);
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
    this.changes += 1;
  }

  snapshot(): WebhookLogSnapshot {
    return this.view();
  }

  /** Replaces the log with `s`; a dead letter that is also in the log is the same record again. */
  restore(s: WebhookLogSnapshot): void {
    const stored = (d: Delivery): StoredDelivery => {
      const { payload, ...rest } = d;
      return storedDelivery({ ...rest, attempts: d.attempts.map((a) => ({ ...a })), body: JSON.stringify(payload) });
    };
    const deliveries = s.deliveries.map(stored);
    const byId = new Map(deliveries.map((d) => [d.id, d]));
    this.deliveries.replace(deliveries);
    this.deadLetter.replace(s.dead_letter.map((d) => byId.get(d.id) ?? stored(d)));
    this.changes += 1;
  }
}
