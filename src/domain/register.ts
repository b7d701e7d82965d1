import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { badRequest } from './errors.js';
import { PREFIX_LENGTH } from './keys.js';

/**
 * The documented rules of `POST .../api_keys/register`: a caller-supplied key, signed by
 * the workspace's Ed25519 key. Pure functions over bytes and strings, no state.
 */

export const SIGNATURE_FAILED = 'Signature verification failed';
export const NO_PUBLIC_KEY = 'Must configure a public key before registering API keys';
export const MIN_KEY_LENGTH = 32;
export const MAX_KEY_LENGTH = 128;
export const MIN_ENTROPY_BITS = 3.0;

/**
 * A raw 32-byte Ed25519 public key given as base64 (what `openssl pkey -pubout -outform DER
 * | tail -c 32 | base64` prints) as a KeyObject; throws an Error saying what is wrong.
 */
export function parsePublicKey(base64: unknown): KeyObject {
  if (typeof base64 !== 'string' || !isBase64(base64.trim())) throw new Error('must be a base64 string (the raw 32-byte Ed25519 public key)');
  const raw = Buffer.from(base64.trim(), 'base64');
  if (raw.length !== 32) throw new Error(`must be the raw 32-byte Ed25519 public key, base64; this decodes to ${raw.length} bytes`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** The base64 of the raw 32 bytes of an Ed25519 public key, for display. */
export function publicKeyBase64(key: KeyObject): string {
  return Buffer.from((key.export({ format: 'jwk' }) as { x: string }).x, 'base64url').toString('base64');
}

/**
 * Checks `X-Baseten-Signature` over the exact body bytes. Every failure (no key on file
 * aside) is the one documented message, so a caller learns nothing from which check failed.
 */
export function verifyRegisterSignature(publicKey: KeyObject | null, rawBody: Buffer, header: string | string[] | undefined): void {
  if (!publicKey) throw badRequest(NO_PUBLIC_KEY, 'public_key_not_configured', null);
  const fail = () => badRequest(SIGNATURE_FAILED, 'signature_verification_failed', null);
  if (typeof header !== 'string' || !isBase64(header.trim())) throw fail();
  const signature = Buffer.from(header.trim(), 'base64');
  if (signature.length !== 64) throw fail();
  let ok = false;
  try {
    ok = verify(null, rawBody, publicKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw fail();
}

/** Shannon entropy of the character distribution, in bits per character. */
export function shannonEntropy(text: string): number {
  const chars = [...text];
  if (chars.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * The documented key rules (length, entropy), plus one the docs leave implicit: the key
 * must travel in an `Authorization` header, so only visible ASCII. Returns its prefix.
 */
export function checkRegisteredKey(key: string): string {
  if (key.length < MIN_KEY_LENGTH || key.length > MAX_KEY_LENGTH) {
    throw badRequest(`key must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} characters long; this one has ${key.length}.`, 'invalid_key_length', 'key');
  }
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw badRequest('key must be visible ASCII characters without spaces, so that it can be sent in an Authorization header.', 'invalid_key_characters', 'key');
  }
  const bits = shannonEntropy(key);
  if (bits < MIN_ENTROPY_BITS) {
    throw badRequest(
      `key is too predictable: its Shannon entropy is ${bits.toFixed(2)} bits per character; at least ${MIN_ENTROPY_BITS.toFixed(1)} is required.`,
      'insufficient_key_entropy',
      'key',
    );
  }
  return key.slice(0, PREFIX_LENGTH);
}

const isBase64 = (s: string) => s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
