import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TextRing } from '../../src/store/text-ring.js';

describe('TextRing', () => {
  it('holds what an array of the same texts holds, through pushes, shifts, wraps, growth and clears', () => {
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('', 'é', '€uro', '😀'));
    const op = fc.oneof(
      { weight: 5, arbitrary: text.map((t) => ({ push: t })) },
      { weight: 3, arbitrary: fc.constant({ shift: true as const }) },
      { weight: 1, arbitrary: fc.constant({ clear: true as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 64 }), fc.array(op, { maxLength: 60 }), (maxBytes, initial, ops) => {
        const ring = new TextRing<number>(maxBytes, initial);
        const model: { text: string; n: number }[] = [];
        let n = 0;
        for (const o of ops) {
          if ('push' in o) {
            const bytes = Buffer.byteLength(o.push);
            // As the journal does: make room, oldest first; a text bigger than the bound is refused.
            while (model.length > 0 && model.reduce((s, m) => s + Buffer.byteLength(m.text), 0) + bytes > maxBytes) {
              expect(ring.shift()).toBe(Buffer.byteLength((model.shift() as { text: string }).text));
            }
            if (bytes > maxBytes) {
              expect(() => ring.push(o.push, bytes, n)).toThrow(RangeError);
              continue;
            }
            ring.push(o.push, bytes, ++n);
            model.push({ text: o.push, n });
          } else if ('shift' in o) {
            if (model.length === 0) expect(() => ring.shift()).toThrow(RangeError);
            else expect(ring.shift()).toBe(Buffer.byteLength((model.shift() as { text: string }).text));
          } else {
            ring.clear();
            model.length = 0;
          }
          expect(ring.length).toBe(model.length);
          expect(ring.bytes).toBe(model.reduce((s, m) => s + Buffer.byteLength(m.text), 0));
          model.forEach((m, i) => {
            expect(ring.text(i)).toBe(Buffer.from(m.text).toString());
            expect(ring.record(i)).toBe(m.n);
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a size too big for the text and an index it does not hold, and a wrong size spoils nothing held', () => {
    const ring = new TextRing<null>(100);
    ring.push('bbbb', 4, null);
    ring.push('cc', 2, null);
    expect(() => ring.push('é', 1, null)).toThrow(RangeError);
    expect(() => ring.push('YYYYYYYY', 9, null)).toThrow(/8 bytes, not 9/);
    expect([ring.text(0), ring.text(1), ring.length, ring.bytes]).toEqual(['bbbb', 'cc', 2, 6]);
    expect(() => ring.text(2)).toThrow(RangeError);
    expect(() => ring.record(-1)).toThrow(RangeError);
  });

  it('a long run: thousands of texts through a small ring, growing while wrapped, its index arrays trimmed as it goes', () => {
    const ring = new TextRing<number>(1_000, 16);
    const held: { text: string; n: number }[] = [];
    let bytes = 0;
    for (let n = 1; n <= 5_000; n++) {
      const text = `${'é'.repeat(n % 7)}#${n}`;
      const size = Buffer.byteLength(text);
      // Hold a window of texts that widens slowly: the ring wraps at each size before it outgrows it.
      while (bytes + size > Math.min(ring.maxBytes, 20 + n / 5)) {
        const dropped = ring.shift();
        expect(dropped).toBe(Buffer.byteLength((held.shift() as { text: string }).text));
        bytes -= dropped;
      }
      ring.push(text, size, n);
      held.push({ text, n });
      bytes += size;
      for (let i = 0; i < held.length; i++) {
        const h = held[i] as { text: string; n: number };
        if (ring.text(i) !== h.text || ring.record(i) !== h.n) expect([n, i, ring.text(i), ring.record(i)]).toEqual([n, i, h.text, h.n]);
      }
    }
    expect([ring.length, ring.bytes]).toEqual([held.length, bytes]);
    held.forEach((h, i) => expect(ring.text(i)).toBe(h.text));
  });
});
