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
