import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.js';
import { checkRegisteredKey, NO_PUBLIC_KEY, parsePublicKey, publicKeyBase64, shannonEntropy, SIGNATURE_FAILED, verifyRegisterSignature } from '../../src/domain/register.js';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    return (e as GatewayError).message;
  }
  throw new Error('expected a 400');
};

describe('register: key rules', () => {
  it('Shannon entropy in bits per character', () => {
    expect(shannonEntropy('')).toBe(0);
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abab')).toBe(1);
    expect(shannonEntropy('abcdefgh')).toBe(3);
  });

  it('length 32..128 inclusive, entropy at least 3.0, visible ASCII; the prefix is the first 16 characters', () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const key = (n: number) => Array.from({ length: n }, (_, i) => alphabet[i % alphabet.length]).join('');
    expect(checkRegisteredKey(key(32))).toBe(key(16));
    expect(checkRegisteredKey(key(128))).toBe(key(16));
    expect(message(() => checkRegisteredKey(key(31)))).toBe('key must be 32 to 128 characters long; this one has 31.');
    expect(message(() => checkRegisteredKey(key(129)))).toMatch(/32 to 128/);
    // 8 distinct characters equally often: exactly 3.0 bits, accepted; 7: below.
    expect(checkRegisteredKey('abcdefgh'.repeat(4))).toBe('abcdefghabcdefgh');
    expect(message(() => checkRegisteredKey('abcdefg'.repeat(5)))).toMatch(/entropy is 2\.81 bits per character; at least 3\.0/);
    expect(message(() => checkRegisteredKey(`${key(20)} ${key(20)}`))).toMatch(/visible ASCII/);
  });
});

describe('register: signatures', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const rawPublic = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
  const body = Buffer.from('{"key":"sk_abcdefghijklmnopqrstuvwxyz0123456789"}');

  it('a raw 32-byte base64 public key round-trips; anything else is refused with a reason', () => {
    expect(publicKeyBase64(parsePublicKey(rawPublic))).toBe(rawPublic);
    expect(() => parsePublicKey('not base64!')).toThrow(/base64/);
    expect(() => parsePublicKey(Buffer.alloc(31).toString('base64'))).toThrow(/decodes to 31 bytes/);
  });

  it('accepts a signature over the exact bytes; refuses missing, non-base64, wrong or other-bytes signatures with the documented message', () => {
    const key = parsePublicKey(rawPublic);
    const good = sign(null, body, privateKey).toString('base64');
    expect(() => verifyRegisterSignature(key, body, good)).not.toThrow();
    const other = sign(null, Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1)), privateKey).toString('base64');
    const stranger = sign(null, body, generateKeyPairSync('ed25519').privateKey).toString('base64');
    for (const bad of [undefined, '', 'not base64!', good.slice(4), other, stranger, ['a', 'b']]) {
      expect(message(() => verifyRegisterSignature(key, body, bad as string | undefined))).toBe(SIGNATURE_FAILED);
    }
  });

  it('without a public key on file the documented message comes first', () => {
    expect(message(() => verifyRegisterSignature(null, body, 'x'))).toBe(NO_PUBLIC_KEY);
  });
});
