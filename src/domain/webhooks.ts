import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { rfc3339Millis } from './clock.js';
import { ulid } from './ids.js';

/**
 * Billing webhooks: the event payload, its signature, and the retry policy, as pure
 * functions. Delivery itself (timers and fetch) lives in src/service/webhook-deliverer.ts.
 */

export interface BillingEvent {
  idempotencyKey: string;
  timestamp: string;
  requestId: string;
  requestMetadata: Record<string, unknown> | null;
  modelSlug: string;
  /** The group's external_entity_id, under the newer webhook page's name... */
  externalEntityId: string;
  /** ...and under the seed guide's name; the sources disagree, so both are sent. */
  externalCustomerId: string;
  apiKeyPrefix: string;
  tokens: { inputTokens: number; outputTokens: number; cachedInputTokens: number };
}

export interface BillingWebhook {
  type: 'API_BILLING_USAGE';
  data: { events: BillingEvent[] };
}

export interface UsageFacts {
  requestId: string;
  at: number;
  requestMetadata: Record<string, unknown> | null;
  modelSlug: string;
  externalEntityId: string;
  apiKeyPrefix: string;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the prompt cache (part of promptTokens); 0 when absent. */
  cachedInputTokens?: number;
}

/**
 * An event's idempotency key: a ULID, as the documentation's examples show, of the
 * request's time and 80 bits of SHA-256 of its request id. So it sorts by time, and the
 * same request always has the same key (retries of a delivery resend the same bytes).
 */
export function idempotencyKeyOf(requestId: string, at: number): string {
  return ulid(at, hash('sha256', requestId, 'buffer'));
}

export function billingEvent(f: UsageFacts): BillingEvent {
  return {
    idempotencyKey: idempotencyKeyOf(f.requestId, f.at),
    timestamp: rfc3339Millis(f.at),
    requestId: f.requestId,
    requestMetadata: f.requestMetadata,
    modelSlug: f.modelSlug,
    externalEntityId: f.externalEntityId,
    externalCustomerId: f.externalEntityId,
    apiKeyPrefix: f.apiKeyPrefix,
    tokens: { inputTokens: f.promptTokens, outputTokens: f.completionTokens, cachedInputTokens: f.cachedInputTokens ?? 0 },
  };
}

export function billingWebhook(events: BillingEvent[]): BillingWebhook {
  return { type: 'API_BILLING_USAGE', data: { events } };
}

/** `v1=<hex HMAC-SHA256 of the raw body>`, keyed by the workspace's signing secret. */
export function signPayload(rawBody: string | Buffer, secret: string): string {
  return `v1=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/**
 * The `X-Baseten-Signature` header for the secrets active when the delivery is made,
 * newest first: one `v1=` entry per secret, comma-separated. During a rotation that is
 * `v1=<new>,v1=<old>`; otherwise a single entry, exactly signPayload's.
 */
export function signatureHeader(rawBody: string | Buffer, secrets: string | readonly string[]): string {
  return typeof secrets === 'string' ? signPayload(rawBody, secrets) : secrets.map((s) => signPayload(rawBody, s)).join(',');
}

/**
 * What a receiver does: recompute the signature over the raw body with its secret and
 * accept the delivery when any one `v1=` entry of the header matches (during a rotation
 * the header lists one per active secret). Each entry is compared in constant time, and
 * every entry is compared, match or not.
 */
export function verifySignature(rawBody: string | Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const expected = Buffer.from(signPayload(rawBody, secret));
  let ok = false;
  for (const entry of header.split(',')) {
    const given = Buffer.from(entry.trim());
    if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}

/** How long a replaced signing secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** A signing secret being retired by a rotation: it still signs until `expiresAt` (exclusive). */
export interface RetiringSecret {
  secret: string;
  expiresAt: number;
}

/** The secrets that sign a delivery made at `now`, newest first: the current one, then each retiring one not yet expired. */
export function activeSecrets(current: string, retiring: readonly RetiringSecret[] | undefined, now: number): string[] {
  const out = [current];
  for (const r of retiring ?? []) if (r.expiresAt > now) out.push(r.secret);
  return out;
}

/**
 * A rotation at `now` to `next`: the current secret starts retiring and expires
 * ROTATION_OVERLAP_MS later; secrets already retiring keep their own expiry (those
 * expired are dropped). Newest first.
 */
export function rotateSecrets(current: string, retiring: readonly RetiringSecret[] | undefined, now: number, next: string): { current: string; retiring: RetiringSecret[] } {
  return {
    current: next,
    retiring: [{ secret: current, expiresAt: now + ROTATION_OVERLAP_MS }, ...(retiring ?? []).filter((r) => r.expiresAt > now)],
  };
}

export interface RetryPolicy {
  /** Each attempt is abandoned after this long. */
  attemptTimeoutMs: number;
  /** The wait before the first retry; doubled for every retry after it... */
  initialBackoffMs: number;
  /** ...up to this. */
  maxBackoffMs: number;
  /** No attempt starts later than this after the first one; then the delivery is dead-lettered. */
  maxElapsedMs: number;
}

/** The documented policy. */
export const DOCUMENTED_RETRY_POLICY: RetryPolicy = {
  attemptTimeoutMs: 10_000,
  initialBackoffMs: 1_000,
  maxBackoffMs: 5_000,
  maxElapsedMs: 15_000,
};

/**
 * The wait before the next attempt after `attemptsMade` failed ones, `elapsedMs` after
 * the first began; null when the next attempt would start past the budget. With the
 * documented policy and instant failures, attempts start at 0, 1, 3, 7 and 12 s.
 */
export function nextBackoff(policy: RetryPolicy, attemptsMade: number, elapsedMs: number): number | null {
  const wait = Math.min(policy.initialBackoffMs * 2 ** Math.max(0, attemptsMade - 1), policy.maxBackoffMs);
  return elapsedMs + wait > policy.maxElapsedMs ? null : wait;
}

/** A 4xx is terminal; 5xx, network errors and timeouts (status null) are retried. */
export function isRetryable(status: number | null): boolean {
  return status === null || status >= 500;
}
