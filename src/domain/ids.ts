import { createHmac, randomBytes, randomUUID } from 'node:crypto';

/**
 * Where ids and secrets come from: one injectable source beside the clock, so that a
 * scenario can fix them and a test can make them deterministic.
 *
 * - Random (the default): the OS's secure random source.
 * - Seeded: a deterministic stream, HMAC-SHA256(seed, counter) in counter mode. The same
 *   seed gives the same ids and secrets in the same order; the counter is part of the
 *   store's snapshot, so a restored mock continues the same stream. Seeded secrets are
 *   predictable by design: for tests and scenarios, never for anything real.
 */

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER36 = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface IdSourceState {
  /** null: the OS's random source. */
  seed: string | null;
  /** Bytes drawn from the seeded stream so far. */
  position: number;
}

const BLOCK = 32;
/** Secure random bytes are drawn 4 KiB at a time: a call to the OS's source per id cost more than the rest of a create. */
const POOL = 4096;

export class IdSource {
  private seed: string | null;
  private position = 0;
  private block: { index: number; bytes: Buffer } | undefined;
  private pool: Buffer = Buffer.alloc(0);
  private poolAt = 0;

  constructor(seed: string | null = null) {
    this.seed = seed;
  }

  get seeded(): boolean {
    return this.seed !== null;
  }

  /** `n` bytes: secure random, or the next `n` of the seeded stream. */
  bytes(n: number): Buffer {
    if (this.seed === null) {
      if (n > POOL / 8) return randomBytes(n);
      // A fresh pool each time, never refilled in place: earlier views of it stay as they were.
      if (this.poolAt + n > this.pool.length) {
        this.pool = randomBytes(POOL);
        this.poolAt = 0;
      }
      this.poolAt += n;
      return this.pool.subarray(this.poolAt - n, this.poolAt);
    }
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++, this.position++) out[i] = this.blockAt(Math.floor(this.position / BLOCK))[this.position % BLOCK] as number;
    return out;
  }

  private blockAt(index: number): Buffer {
    if (this.block?.index !== index) {
      const counter = Buffer.alloc(8);
      counter.writeBigUInt64BE(BigInt(index));
      this.block = { index, bytes: createHmac('sha256', this.seed as string).update(counter).digest() };
    }
    return this.block.bytes;
  }

  /**
   * `length` characters drawn uniformly from `alphabet` (rejection sampling, so no
   * character is favoured).
   */
  string(length: number, alphabet: string = BASE62): string {
    const limit = 256 - (256 % alphabet.length);
    let out = '';
    while (out.length < length) {
      for (const byte of this.bytes(length * 2)) {
        if (byte < limit) out += alphabet[byte % alphabet.length];
        if (out.length === length) break;
      }
    }
    return out;
  }

  /** A version 4 UUID. */
  uuid(): string {
    if (this.seed === null) return randomUUID();
    const b = this.bytes(16);
    b[6] = ((b[6] as number) & 0x0f) | 0x40;
    b[8] = ((b[8] as number) & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Internal group ids look like the documentation's `abc123hash`: 12 of [a-z0-9]. */
  groupId(): string {
    return this.string(12, LOWER36);
  }

  /** Endpoint ids: `ep` and 10 of [a-z0-9]. */
  endpointId(): string {
    return `ep${this.string(10, LOWER36)}`;
  }

  /** The stream's position, for snapshots. */
  state(): IdSourceState {
    return { seed: this.seed, position: this.position };
  }

  restore(state: IdSourceState): void {
    this.seed = state.seed;
    this.position = state.position;
    this.block = undefined;
  }
}

/** Crockford's base32, as ULIDs spell it (no I, L, O, U). */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** The largest time a ULID's 48 bits hold (ms since the epoch). */
const ULID_MAX_TIME = 2 ** 48 - 1;

/**
 * A ULID (https://github.com/ulid/spec): 10 characters of the time in ms, then 16 of
 * the 80 bits of `entropy` (its first 10 bytes), 26 characters of Crockford's base32
 * that sort by time. Deterministic: the same time and entropy give the same ULID.
 */
export function ulid(timeMs: number, entropy: Uint8Array): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > ULID_MAX_TIME) throw new RangeError(`ulid: time ${timeMs} is not a whole ms from 0 to 2^48 - 1`);
  if (entropy.length < 10) throw new RangeError('ulid: entropy needs 10 bytes');
  let time = '';
  for (let t = timeMs, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  // 80 bits as 16 groups of 5, most significant first: 5 bytes are 8 groups, twice.
  let random = '';
  for (let half = 0; half < 10; half += 5) {
    let hi = 0; // the first 20 bits of the 40
    for (let i = half; i < half + 2; i++) hi = hi * 256 + (entropy[i] as number);
    hi = hi * 16 + ((entropy[half + 2] as number) >> 4);
    const lo = ((entropy[half + 2] as number) & 15) * 65536 + (entropy[half + 3] as number) * 256 + (entropy[half + 4] as number);
    for (const v of [hi, lo]) for (let shift = 15; shift >= 0; shift -= 5) random += CROCKFORD[(v >> shift) & 31];
  }
  return time + random;
}
