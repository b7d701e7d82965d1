import { createHmac, timingSafeEqual } from 'node:crypto';
import { rfc3339Millis } from './clock.js';

/**
 * Billing webhooks: the event payload, its signature, and the retry policy, as pure
 * functions. Delivery itself (timers and fetch) lives in src/webhooks/deliverer.ts.
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
}

export function billingEvent(f: UsageFacts): BillingEvent {
  return {
    idempotencyKey: `evt_${f.requestId}`,
    timestamp: rfc3339Millis(f.at),
    requestId: f.requestId,
    requestMetadata: f.requestMetadata,
    modelSlug: f.modelSlug,
    externalEntityId: f.externalEntityId,
    externalCustomerId: f.externalEntityId,
    apiKeyPrefix: f.apiKeyPrefix,
    tokens: { inputTokens: f.promptTokens, outputTokens: f.completionTokens, cachedInputTokens: 0 },
  };
}

export function billingWebhook(events: BillingEvent[]): BillingWebhook {
  return { type: 'API_BILLING_USAGE', data: { events } };
}

/** `v1=<hex HMAC-SHA256 of the raw body>`, keyed by the workspace's signing secret. */
export function signPayload(rawBody: string | Buffer, secret: string): string {
  return `v1=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** What a receiver does: recompute the signature over the raw body and compare in constant time. */
export function verifySignature(rawBody: string | Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const expected = Buffer.from(signPayload(rawBody, secret));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
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
