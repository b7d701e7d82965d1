import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock, OffsetClock, rfc3339, rfc3339Millis, utcDayStart } from '../../src/domain/clock.js';
import { hashKey, mintKey, prefixOf, verifyKey } from '../../src/domain/keys.js';
import { complete } from '../../src/domain/completion.js';
import { countTokens, promptTokens, tokenPieces } from '../../src/domain/tokens.js';
import { ulid } from '../../src/domain/ids.js';
import { activeSecrets, billingEvent, idempotencyKeyOf, DOCUMENTED_RETRY_POLICY, isRetryable, nextBackoff, ROTATION_OVERLAP_MS, rotateSecrets, signatureHeader, signPayload, verifySignature } from '../../src/domain/webhooks.js';

describe('keys', () => {
  it('mints sky_ prefixes of 16 characters and secrets of at least 32 from a wide alphabet', () => {
    const keys = Array.from({ length: 500 }, () => mintKey());
    for (const k of keys) {
      expect(k.prefix).toMatch(/^sky_[A-Za-z0-9]{12}$/);
      const [prefix, secret] = k.apiKey.split('.');
      expect(prefix).toBe(k.prefix);
      expect(secret).toMatch(/^[A-Za-z0-9]{32,}$/);
      expect(prefixOf(k.apiKey)).toBe(k.prefix);
    }
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(500);
    const chars = new Set(keys.flatMap((k) => [...(k.apiKey.split('.')[1] as string)]));
    expect(chars.size).toBe(62);
  });
  it('keeps only a hash, and verifies the whole key', () => {
    const k = mintKey();
    expect(k.hash.toString('hex')).not.toContain(k.apiKey);
    expect(k.hash.equals(hashKey(k.apiKey))).toBe(true);
    expect(verifyKey(k.apiKey, k.hash)).toBe(true);
    expect(verifyKey(`${k.apiKey}x`, k.hash)).toBe(false);
    expect(verifyKey(`${k.prefix}.wrong`, k.hash)).toBe(false);
  });
});

describe('tokens and completions', () => {
  it('counts words and punctuation', () => {
    expect(countTokens('Hello, world!')).toBe(4);
    expect(countTokens('')).toBe(0);
    expect(countTokens('  héllo   wörld ')).toBe(2);
  });
  it('prompt tokens: 3 + per message (3 + content tokens)', () => {
    expect(promptTokens([{ role: 'user', content: 'Hello, world!' }])).toBe(10);
    expect(promptTokens([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }])).toBe(3 + 6 + 4);
  });
  it('echoes the last user message, truncated to max tokens', () => {
    const c = complete([{ role: 'user', content: 'first' }, { role: 'assistant', content: 'x' }, { role: 'user', content: 'Hello, world!' }], null);
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0]!.content).toBe('Echo: Hello, world!');
    expect(c.choices[0]!.finishReason).toBe('stop');
    expect(c.usage).toEqual({ prompt_tokens: 3 + 4 + 4 + 7, completion_tokens: 6, total_tokens: 24, cached_tokens: 0 });
    const cut = complete([{ role: 'user', content: 'Hello, world!' }], 3);
    expect(cut.choices[0]).toMatchObject({ content: 'Echo: Hello', finishReason: 'length' });
    expect(cut.usage.completion_tokens).toBe(3);
    expect(complete([{ role: 'system', content: 'only system' }], null).choices[0]!.content).toBe('Echo.');
  });
  it('stream pieces concatenate to the content', () => {
    expect(tokenPieces('Echo: Hello,  world!').join('')).toBe('Echo: Hello,  world!');
  });
});

describe('webhook secret rotation', () => {
  const body = '{"type":"API_BILLING_USAGE","data":{"events":[]}}';
  it('verifySignature accepts a header when any one v1= entry matches, with or without spaces, and nothing else', () => {
    const both = signatureHeader(body, ['new', 'old']);
    expect(both).toBe(`${signPayload(body, 'new')},${signPayload(body, 'old')}`);
    for (const secret of ['new', 'old']) expect(verifySignature(body, both, secret)).toBe(true);
    expect(verifySignature(body, both.replace(',', ', '), 'old')).toBe(true);
    expect(verifySignature(body, both, 'other')).toBe(false);
    expect(verifySignature(`${body} `, both, 'new')).toBe(false);
    expect(verifySignature(body, `${signPayload(body, 'new')}x,v1=`, 'new')).toBe(false);
    expect(verifySignature(body, ',,', 'new')).toBe(false);
    expect(verifySignature(body, undefined, 'new')).toBe(false);
    expect(signatureHeader(body, 'only')).toBe(signPayload(body, 'only'));
  });
  it('a rotation keeps the old secret active for 24 hours, newest first; rotations stack, each keeping its own expiry', () => {
    const t = Date.UTC(2026, 11, 3);
    const one = rotateSecrets('a', undefined, t, 'b');
    expect(one).toEqual({ current: 'b', retiring: [{ secret: 'a', expiresAt: t + ROTATION_OVERLAP_MS }] });
    expect(activeSecrets(one.current, one.retiring, t + ROTATION_OVERLAP_MS - 1)).toEqual(['b', 'a']);
    expect(activeSecrets(one.current, one.retiring, t + ROTATION_OVERLAP_MS)).toEqual(['b']);
    const two = rotateSecrets(one.current, one.retiring, t + 1000, 'c');
    expect(activeSecrets(two.current, two.retiring, t + 1000)).toEqual(['c', 'b', 'a']);
    // An expired secret is dropped by the next rotation.
    expect(rotateSecrets(one.current, one.retiring, t + ROTATION_OVERLAP_MS, 'c').retiring.map((r) => r.secret)).toEqual(['b']);
    expect(activeSecrets('x', undefined, t)).toEqual(['x']);
  });
});

describe('webhooks', () => {
  it('signs v1=<hex HMAC-SHA256 of the raw body> and verifies in constant time', () => {
    const body = '{"type":"API_BILLING_USAGE"}';
    const expected = `v1=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
    expect(signPayload(body, 's3cret')).toBe(expected);
    expect(verifySignature(body, expected, 's3cret')).toBe(true);
    expect(verifySignature(`${body} `, expected, 's3cret')).toBe(false);
    expect(verifySignature(body, expected, 'other')).toBe(false);
    expect(verifySignature(body, undefined, 's3cret')).toBe(false);
  });
  it('the documented retry policy starts attempts at 0, 1, 3, 7 and 12 s, then gives up', () => {
    const starts = [0];
    let elapsed = 0;
    for (let made = 1; ; made++) {
      const wait = nextBackoff(DOCUMENTED_RETRY_POLICY, made, elapsed);
      if (wait === null) break;
      elapsed += wait;
      starts.push(elapsed);
    }
    expect(starts).toEqual([0, 1000, 3000, 7000, 12000]);
    expect(DOCUMENTED_RETRY_POLICY.attemptTimeoutMs).toBe(10_000);
  });
  it('4xx is terminal; 5xx, timeouts and network errors are retried', () => {
    expect(isRetryable(400)).toBe(false);
    expect(isRetryable(404)).toBe(false);
    expect(isRetryable(429)).toBe(false);
    expect(isRetryable(500)).toBe(true);
    expect(isRetryable(503)).toBe(true);
    expect(isRetryable(null)).toBe(true);
  });
  it('events carry both names of the external id', () => {
    const e = billingEvent({ requestId: 'r1', at: 0, requestMetadata: null, modelSlug: 'o/m', externalEntityId: 'cust', apiKeyPrefix: 'sky_x', promptTokens: 3, completionTokens: 4 });
    expect(e).toMatchObject({ externalEntityId: 'cust', externalCustomerId: 'cust', tokens: { inputTokens: 3, outputTokens: 4, cachedInputTokens: 0 } });
  });
});

describe('idempotency keys are ULIDs', () => {
  it('encode the time as the ULID spec does, then 80 bits of entropy, in Crockford base32', () => {
    // The spec's example time: 1469918176385 ms is 01ARYZ6S41.
    expect(ulid(1469918176385, new Uint8Array(10))).toBe('01ARYZ6S410000000000000000');
    expect(ulid(0, new Uint8Array(10).fill(255))).toBe('0000000000ZZZZZZZZZZZZZZZZ');
    expect(ulid(2 ** 48 - 1, new Uint8Array(10))).toBe('7ZZZZZZZZZ0000000000000000');
    expect(() => ulid(2 ** 48, new Uint8Array(10))).toThrow(RangeError);
    expect(() => ulid(1.5, new Uint8Array(10))).toThrow(RangeError);
  });

  it('spell the 80 bits of entropy as the spec does (checked against a BigInt reading of them)', () => {
    const reference = (e: Uint8Array) => {
      let bits = 0n;
      for (const b of e.subarray(0, 10)) bits = (bits << 8n) | BigInt(b);
      let out = '';
      for (let i = 0; i < 16; i++, bits >>= 5n) out = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[Number(bits & 31n)] + out;
      return out;
    };
    fc.assert(fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 }), (e) => {
        expect(ulid(0, e).slice(10)).toBe(reference(e));
      }),
    );
  });

  it('an event key is the same for the same request, sorts by time, and differs between requests', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), fc.integer({ min: 0, max: 2 ** 47 }), fc.integer({ min: 1, max: 10 ** 9 }), (a, b, t, dt) => {
        const key = idempotencyKeyOf(a, t);
        expect(key).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(idempotencyKeyOf(a, t)).toBe(key);
        expect(idempotencyKeyOf(b, t + dt) > key).toBe(true);
        if (a !== b) expect(idempotencyKeyOf(b, t)).not.toBe(key);
      }),
    );
    const event = billingEvent({ requestId: 'r-1', at: 1_764_763_200_000, requestMetadata: null, modelSlug: 'a/b', externalEntityId: 'e', apiKeyPrefix: 'p', promptTokens: 1, completionTokens: 1 });
    expect(event.idempotencyKey).toBe(idempotencyKeyOf('r-1', 1_764_763_200_000));
  });
});

describe('clock', () => {
  it('OffsetClock only moves forward and follows its base', () => {
    const base = new ManualClock(1_000_000);
    const c = new OffsetClock(base);
    c.advance(5000);
    expect(c.now()).toBe(1_005_000);
    base.advance(10);
    expect(c.now()).toBe(1_005_010);
    expect(() => c.setNow(1_000_000)).toThrow(RangeError);
    c.setNow(2_000_000);
    expect(c.now()).toBe(2_000_000);
    c.reset();
    expect(c.now()).toBe(1_000_010);
  });
  it('formats RFC 3339 at second precision and finds the UTC day', () => {
    expect(rfc3339(Date.UTC(2026, 4, 13, 12, 0, 0, 999))).toBe('2026-05-13T12:00:00Z');
    // The memo of the last second: the same second again, the next one, one before 1970, and back.
    expect(rfc3339(Date.UTC(2026, 4, 13, 12, 0, 0, 1))).toBe('2026-05-13T12:00:00Z');
    expect(rfc3339(Date.UTC(2026, 4, 13, 12, 0, 1, 0))).toBe('2026-05-13T12:00:01Z');
    expect(rfc3339(-1)).toBe('1969-12-31T23:59:59Z');
    expect(rfc3339(Date.UTC(2026, 4, 13, 12, 0, 0, 500))).toBe('2026-05-13T12:00:00Z');
    expect(() => rfc3339(Number.NaN)).toThrow(RangeError);
    // With milliseconds: the same instant twice, the next millisecond, and a non-instant.
    expect(rfc3339Millis(Date.UTC(2026, 4, 13, 12, 0, 0, 999))).toBe('2026-05-13T12:00:00.999Z');
    expect(rfc3339Millis(Date.UTC(2026, 4, 13, 12, 0, 0, 999))).toBe('2026-05-13T12:00:00.999Z');
    expect(rfc3339Millis(Date.UTC(2026, 4, 13, 12, 0, 1, 0))).toBe('2026-05-13T12:00:01.000Z');
    expect(() => rfc3339Millis(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    // Finite but past Date's range (8.64e15 ms either side of 1970): RangeError, as Date throws.
    for (const ms of [8.64e15 + 1, -8.64e15 - 1]) {
      expect(() => rfc3339Millis(ms)).toThrow(RangeError);
      expect(() => rfc3339(ms)).toThrow(RangeError);
    }
    expect(utcDayStart(Date.UTC(2026, 4, 13, 23, 59, 59))).toBe(Date.UTC(2026, 4, 13));
  });
  it('both formatters are Date.toISOString, whatever instants come in whatever order (the memo of the last second is invisible)', () => {
    const MAX = 8.64e15;
    // Runs of instants near one another (the memo's case), far apart, before 1970, fractional, and past year 9999.
    const instant = fc.oneof(
      fc.integer({ min: -MAX, max: MAX }),
      fc.double({ min: -MAX, max: MAX, noNaN: true }),
      fc.integer({ min: -3_000, max: 3_000 }).map((d) => Date.UTC(2026, 4, 13, 12) + d),
      fc.double({ min: -2_000, max: 2_000, noNaN: true }),
      fc.integer({ min: -2_000, max: 2_000 }).map((d) => Date.UTC(9999, 11, 31, 23, 59, 59) + d),
    );
    fc.assert(
      fc.property(fc.array(instant, { maxLength: 30 }), (xs) => {
        for (const ms of xs) {
          const iso = new Date(ms).toISOString();
          expect(rfc3339Millis(ms)).toBe(iso);
          expect(rfc3339(ms)).toBe(iso.replace(/\.\d{3}Z$/, 'Z'));
        }
      }),
      { numRuns: 500 },
    );
  });
});
