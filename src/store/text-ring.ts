/**
 * A queue of texts kept as UTF-8, back to back, in one buffer outside the JavaScript heap
 * (a ring), each with a small record of its own. For data held a while and dropped oldest
 * first, like the request journal: held as strings, every text would be copied by the
 * young-generation collector, promoted, and left as old-generation garbage for a full
 * collection to mark around the whole store; here the collector sees one buffer.
 *
 * The buffer grows (doubling, up to `maxBytes`) as texts come, so a large bound costs
 * nothing until it is used. The caller keeps within the bound: it passes each text's
 * UTF-8 size and drops the oldest (shift) until there is room.
 */

const EMPTY = Buffer.alloc(0);

export class TextRing<M> {
  private buf: Buffer = EMPTY;
  /** Per text, from the oldest at `first`: where it starts, its size, its record. */
  private starts: number[] = [];
  private sizes: number[] = [];
  private records: M[] = [];
  private first = 0;
  private used = 0;
  /** Where the next text goes. */
  private end = 0;

  constructor(
    readonly maxBytes: number,
    private readonly initialBytes = 256 * 1024,
  ) {}

  /** Texts held. */
  get length(): number {
    return this.starts.length - this.first;
  }

  /** Their UTF-8 bytes. */
  get bytes(): number {
    return this.used;
  }

  /** Appends `text`, whose UTF-8 size (Buffer.byteLength) is `bytes`; there must be room for it (bytes + this.bytes <= maxBytes). */
  push(text: string, bytes: number, record: M): void {
    if (bytes > this.maxBytes - this.used) throw new RangeError(`TextRing: no room for ${bytes} bytes (${this.used} of ${this.maxBytes} used); shift first`);
    if (bytes > this.buf.length - this.used) this.grow(this.used + bytes);
    const cap = this.buf.length;
    const at = this.end;
    if (at + bytes <= cap) {
      // At most `bytes` written, so a wrong size cannot spill over the texts held.
      const written = this.buf.write(text, at, bytes, 'utf8');
      if (written !== bytes) throw new RangeError(`TextRing: the text is ${written} bytes, not ${bytes}`);
    } else {
      // It wraps: the part that fits before the end, then the rest from the start.
      const whole = Buffer.from(text, 'utf8');
      if (whole.length !== bytes) throw new RangeError(`TextRing: the text is ${whole.length} bytes, not ${bytes}`);
      whole.copy(this.buf, at, 0, cap - at);
      whole.copy(this.buf, 0, cap - at);
    }
    this.starts.push(at);
    this.sizes.push(bytes);
    this.records.push(record);
    this.used += bytes;
    this.end = cap === 0 ? 0 : (at + bytes) % cap;
  }

  /** Drops the oldest text; returns its size. */
  shift(): number {
    if (this.length === 0) throw new RangeError('TextRing: empty');
    const size = this.sizes[this.first] as number;
    this.records[this.first] = undefined as M; // let its record go now
    this.first += 1;
    this.used -= size;
    if (this.length === 0) this.truncate();
    else if (this.first > 1024 && this.first * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.first);
      this.sizes = this.sizes.slice(this.first);
      this.records = this.records.slice(this.first);
      this.first = 0;
    }
    return size;
  }

  /** The `i`th text held, 0 the oldest. */
  text(i: number): string {
    const k = this.index(i);
    const start = this.starts[k] as number;
    const size = this.sizes[k] as number;
    const cap = this.buf.length;
    if (start + size <= cap) return this.buf.toString('utf8', start, start + size);
    return Buffer.concat([this.buf.subarray(start), this.buf.subarray(0, start + size - cap)]).toString('utf8');
  }

  /** The record pushed with the `i`th text held. */
  record(i: number): M {
    return this.records[this.index(i)] as M;
  }

  /** Drops every text and frees the buffer. */
  clear(): void {
    this.truncate();
    this.buf = EMPTY;
  }

  private index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`TextRing: no text ${i} (${this.length} held)`);
    return this.first + i;
  }

  private truncate(): void {
    this.starts = [];
    this.sizes = [];
    this.records = [];
    this.first = 0;
    this.used = 0;
    this.end = 0;
  }

  /** A bigger buffer (at least `need` bytes) with the texts held moved to its start, oldest first. */
  private grow(need: number): void {
    const cap = this.buf.length;
    const next = Buffer.allocUnsafeSlow(Math.min(this.maxBytes, Math.max(need, this.initialBytes, 2 * cap)));
    // The texts held are the `used` bytes before `end`, around the ring.
    const from = cap === 0 ? 0 : (this.end - this.used + cap) % cap;
    if (from + this.used <= cap) this.buf.copy(next, 0, from, from + this.used);
    else {
      this.buf.copy(next, 0, from);
      this.buf.copy(next, cap - from, 0, from + this.used - cap);
    }
    let at = 0;
    for (let k = this.first; k < this.starts.length; k++) {
      this.starts[k] = at;
      at += this.sizes[k] as number;
    }
    this.buf = next;
    this.end = this.used;
  }
}
