import { hash, timingSafeEqual } from 'node:crypto';
import { IdSource } from './ids.js';

/**
 * Both kinds of key, and how each is kept: only a hash, never the key.
 *
 * Management keys (the workspace's own, from the configuration) are kept as the hex
 * SHA-256 of the key, looked up by that digest: managementKeyDigest().
 *
 * Federated API keys are `prefix.secret`. The prefix is 16 characters (`sky_` and 12
 * random ones, the newer documented shape, which also matches the register rule that a
 * key's first 16 characters are its prefix); the secret is 43 characters of base62 from
 * the OS's secure random source (about 256 bits).
 *
 * Only SHA-256 of the whole key is kept. A slow password hash buys nothing for a
 * 256-bit random secret and would cost every inference call; SHA-256 is what token
 * issuers use for such secrets.
 */
export const PREFIX_LENGTH = 16;
export const KEY_PREFIX_TAG = 'sky_';
const SECRET_LENGTH = 43;

export interface MintedSecret {
  apiKey: string;
  prefix: string;
  hash: Buffer;
}

const osRandom = new IdSource();

/** A new key from `ids` (the OS's random source by default). */
export function mintKey(ids: IdSource = osRandom): MintedSecret {
  // join, not +: a flat string, where + leaves a two-part string the store would keep.
  const prefix = [KEY_PREFIX_TAG, ids.string(PREFIX_LENGTH - KEY_PREFIX_TAG.length)].join('');
  const apiKey = `${prefix}.${ids.string(SECRET_LENGTH)}`;
  return { apiKey, prefix, hash: hashKey(apiKey) };
}

export function hashKey(apiKey: string): Buffer {
  return hash('sha256', apiKey, 'buffer'); // one call, no Hash object: it runs on every completion
}

/** The prefix a presented key claims: its first 16 characters. */
export function prefixOf(apiKey: string): string {
  return apiKey.slice(0, PREFIX_LENGTH);
}

/** SHA-256 of a key as the store keeps it: its 32 bytes as a latin1 string, far smaller on the heap than a Buffer. */
export function storedHash(apiKey: string): string {
  return hashKey(apiKey).toString('latin1');
}

/** Constant-time comparison of a presented key with a stored hash (bytes, or the latin1 string of them the store keeps). */
export function verifyKey(apiKey: string, storedHash: Buffer | string): boolean {
  const presented = hashKey(apiKey);
  const stored = typeof storedHash === 'string' ? Buffer.from(storedHash, 'latin1') : storedHash;
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** How a management key is kept and looked up: the hex SHA-256 of the key. */
export function managementKeyDigest(key: string): string {
  return hash('sha256', key, 'hex');
}
