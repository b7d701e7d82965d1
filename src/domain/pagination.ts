import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badRequest } from './errors.js';

/**
 * Keyset pagination over creation order.
 *
 * Every listed item carries a `seq` that only grows. A page is "the next `limit` live
 * items with seq > the cursor's", so draining a list while others create or delete never
 * repeats an item and returns every item that existed throughout. Finding the start is
 * a binary search; a page costs its own size plus the tombstones it steps over, and
 * tombstones are compacted away once they outnumber live items.
 */
export class SeqIndex<T extends { seq: number }> {
  // One array, in seq order. A removed item leaves a Tombstone holding its seq, so the
  // binary search needs no second array of seqs (a per-group key index is mostly one
  // item, so every array it keeps counts).
  private items: (T | Tombstone)[] = [];
  private dead = 0;

  get size(): number {
    return this.items.length - this.dead;
  }

  add(item: T): void {
    const last = this.items[this.items.length - 1];
    if (last !== undefined && item.seq <= last.seq) throw new RangeError('seq must grow');
    if (this.items.length === 0) {
      // An exact-size array for the first item: a push onto an empty array reserves
      // room for 17, and most indexes (one group's keys) hold one or two items for life.
      this.items = [item];
      return;
    }
    this.items.push(item);
  }

  remove(seq: number): void {
    const i = this.lowerBound(seq);
    const item = this.items[i];
    if (item === undefined || item.seq !== seq || item instanceof Tombstone) return;
    this.items[i] = new Tombstone(seq);
    this.dead += 1;
    if (this.dead > 32 && this.dead * 2 > this.items.length) this.compact();
  }

  /** Up to `limit` live items after `afterSeq` (from the start when null). */
  page(afterSeq: number | null, limit: number): { items: T[]; hasMore: boolean } {
    let i = afterSeq === null ? 0 : this.lowerBound(afterSeq + 1);
    const out: T[] = [];
    for (; i < this.items.length && out.length < limit; i++) {
      const item = this.items[i] as T | Tombstone;
      if (!(item instanceof Tombstone)) out.push(item);
    }
    for (; i < this.items.length; i++) if (!(this.items[i] instanceof Tombstone)) return { items: out, hasMore: true };
    return { items: out, hasMore: false };
  }

  *[Symbol.iterator](): Iterator<T> {
    for (const item of this.items) if (!(item instanceof Tombstone)) yield item;
  }

  private lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as T | Tombstone).seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compact(): void {
    this.items = this.items.filter((x) => !(x instanceof Tombstone));
    this.dead = 0;
  }
}

/** What a removed item leaves in a SeqIndex: its seq, for the binary search. */
class Tombstone {
  constructor(readonly seq: number) {}
}

/**
 * Cursors are opaque: base64url of an HMAC tag and a small JSON position. The position
 * names the list it belongs to (`scope`, e.g. a workspace's groups filtered by an
 * external id, or one group's keys), so a cursor reused on another list, edited, or
 * made up is refused with 400 instead of silently paging somewhere else.
 */
export class CursorCodec {
  constructor(readonly key: Buffer = randomBytes(32)) {}

  encode(scope: string, afterSeq: number): string {
    const body = Buffer.from(JSON.stringify({ s: scope, a: afterSeq }));
    return Buffer.concat([this.tag(body), body]).toString('base64url');
  }

  /** The seq to continue after; throws 400 for anything this codec did not issue for `scope`. */
  decode(cursor: string, scope: string): number {
    const p = this.verified(cursor);
    if (p.s !== scope || !Number.isSafeInteger(p.a)) throw invalidCursor();
    return p.a as number;
  }

  /**
   * A cursor carrying any small JSON `state` (a list whose position is more than one
   * seq, e.g. the billing events' pinned window), signed like the others; `open` gives
   * the state back only for this codec's own cursors of the same `scope`.
   */
  seal(scope: string, state: unknown): string {
    const body = Buffer.from(JSON.stringify({ s: scope, p: state }));
    return Buffer.concat([this.tag(body), body]).toString('base64url');
  }

  /** The state `seal` put in `cursor`; throws 400 for anything this codec did not seal for `scope`. */
  open(cursor: string, scope: string): unknown {
    const p = this.verified(cursor);
    if (p.s !== scope || p.p === undefined) throw invalidCursor();
    return p.p;
  }

  /** The JSON body of a cursor this codec signed, or a 400. */
  private verified(cursor: string): { s?: unknown; a?: unknown; p?: unknown } {
    const invalid = invalidCursor;
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(cursor)) throw invalid();
    const raw = Buffer.from(cursor, 'base64url');
    // Only the one canonical spelling: Node's decoder ignores a dangling last character.
    if (raw.length <= TAG_BYTES || raw.toString('base64url') !== cursor.replace(/=+$/, '')) throw invalid();
    const tag = raw.subarray(0, TAG_BYTES);
    const body = raw.subarray(TAG_BYTES);
    if (!timingSafeEqual(tag, this.tag(body))) throw invalid();
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid();
    }
    if (!parsed || typeof parsed !== 'object') throw invalid();
    return parsed as { s?: unknown; a?: unknown; p?: unknown };
  }

  private tag(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, TAG_BYTES);
  }
}

const TAG_BYTES = 12;

/** The 400 for a cursor this codec did not issue for the list it is used on. */
export const invalidCursor = () =>
  badRequest('cursor is invalid: pass back the pagination.cursor of the previous page of the same list.', 'invalid_cursor', 'cursor');

export interface Page<T> {
  items: T[];
  pagination: { has_more: boolean; cursor: string | null };
}

/** One page of `index` for the list named `scope`, with the cursor of the next page. */
export function paginate<T extends { seq: number }>(
  index: SeqIndex<T> | undefined,
  codec: CursorCodec,
  scope: string,
  limit: number,
  cursor: string | undefined,
): Page<T> {
  const after = cursor === undefined ? null : codec.decode(cursor, scope);
  const { items, hasMore } = index ? index.page(after, limit) : { items: [], hasMore: false };
  const last = items[items.length - 1];
  return {
    items,
    pagination: { has_more: hasMore, cursor: hasMore && last ? codec.encode(scope, last.seq) : null },
  };
}
