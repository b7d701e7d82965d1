import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.js';
import { CursorCodec, paginate, SeqIndex } from '../../src/domain/pagination.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ seq: (i + 1) * 10, name: `i${i}` }));
function drain(index: SeqIndex<{ seq: number; name: string }>, codec: CursorCodec, limit: number, between?: () => void) {
  const out: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = paginate(index, codec, 'scope', limit, cursor);
    out.push(...page.items.map((x) => x.name));
    if (!page.pagination.has_more) {
      expect(page.pagination.cursor).toBeNull();
      return out;
    }
    cursor = page.pagination.cursor as string;
    between?.();
  }
}

describe('SeqIndex and paginate', () => {
  it('pages in creation order with has_more exact on the boundary', () => {
    const index = new SeqIndex<{ seq: number; name: string }>();
    items(4).forEach((x) => index.add(x));
    const codec = new CursorCodec();
    const first = paginate(index, codec, 'scope', 2, undefined);
    expect(first.items.map((x) => x.name)).toEqual(['i0', 'i1']);
    expect(first.pagination.has_more).toBe(true);
    const second = paginate(index, codec, 'scope', 2, first.pagination.cursor as string);
    expect(second.items.map((x) => x.name)).toEqual(['i2', 'i3']);
    expect(second.pagination).toEqual({ has_more: false, cursor: null });
  });

  it('skips removed items, also across compaction, without repeating', () => {
    const index = new SeqIndex<{ seq: number; name: string }>();
    items(200).forEach((x) => index.add(x));
    for (let i = 0; i < 150; i++) index.remove((i + 1) * 10);
    expect(index.size).toBe(50);
    expect(drain(index, new CursorCodec(), 7)).toEqual(items(200).slice(150).map((x) => x.name));
  });

  it('a drain during creation and deletion returns everything that existed throughout, once', () => {
    const index = new SeqIndex<{ seq: number; name: string }>();
    const start = items(20);
    start.forEach((x) => index.add(x));
    let seq = 1000;
    let victim = 20;
    const got = drain(index, new CursorCodec(), 3, () => {
      index.add({ seq: ++seq, name: `new${seq}` });
      index.remove(victim * 10);
      victim -= 1;
    });
    expect(new Set(got).size).toBe(got.length);
    const survivors = start.filter((x) => x.seq <= victim * 10).map((x) => x.name);
    for (const s of survivors) expect(got).toContain(s);
  });

  it('refuses seq that does not grow', () => {
    const index = new SeqIndex<{ seq: number }>();
    index.add({ seq: 5 });
    expect(() => index.add({ seq: 5 })).toThrow(RangeError);
  });
});

describe('CursorCodec', () => {
  const codec = new CursorCodec();
  const bad = (cursor: string, scope = 'a') => {
    try {
      codec.decode(cursor, scope);
    } catch (e) {
      expect((e as GatewayError).kind).toBe('invalid_request');
      expect((e as GatewayError).param).toBe('cursor');
      return;
    }
    throw new Error(`cursor ${cursor} was accepted`);
  };
  it('round-trips and is opaque (no raw id or seq visible)', () => {
    const c = codec.encode('a', 12345);
    expect(codec.decode(c, 'a')).toBe(12345);
    expect(c).not.toContain('12345');
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
  });
  it('refuses another list’s cursor, tampering, a cursor of another codec, junk and non-canonical spellings', () => {
    const c = codec.encode('a', 7);
    bad(c, 'b');
    bad(`${c.slice(0, 5)}${c[5] === 'A' ? 'B' : 'A'}${c.slice(6)}`);
    bad(new CursorCodec().encode('a', 7));
    bad('hello');
    bad('');
    bad(`${c}x`);
    bad(`${c}==`.replace(/==$/, '=*'));
  });
});
