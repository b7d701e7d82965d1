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

  it('refuses a wrong size and an index it does not hold', () => {
    const ring = new TextRing<null>(100);
    expect(() => ring.push('é', 1, null)).toThrow(/2 bytes, not 1/);
    ring.push('abc', 3, null);
    expect(() => ring.text(1)).toThrow(RangeError);
    expect(() => ring.record(-1)).toThrow(RangeError);
    expect(ring.text(0)).toBe('abc');
  });
});
