import type { Clock } from '../domain/clock.js';
import { managementKeyDigest } from '../domain/keys.js';
import type { FixedWindowLimiter } from '../domain/management-rate.js';
import { managementRateLimited } from '../domain/refusal.js';
import { credentialOf } from './auth.js';
import type { Step } from './pipeline.js';

/**
 * The management API's own rate limit as a step of the request path, just inside
 * `authenticate`: every `x-fgw-auth: workspace` operation (every management route,
 * not inference, whose federated keys have their group's limits), counted per presented
 * key and per operation, on the mock's clock. Only requests that authenticated count (the
 * service limits "per API key"; a request without a valid key is a 401 before it). Over
 * the limit: 429 with the documented body and `retry_after` (src/http/errors.ts) plus
 * `Retry-After`. See AMBIGUITIES.md #88.
 */
export const MANAGEMENT_RATE_LIMIT_STEP = 'management-rate-limit';

export function managementRateLimitStep(limiter: FixedWindowLimiter, clock: Clock): Step {
  return {
    name: MANAGEMENT_RATE_LIMIT_STEP,
    run(x, next) {
      const op = x.op;
      if (op?.auth !== 'workspace' || x.workspace === undefined) return next();
      // Authentication has already read this header successfully. Counted by the key's
      // digest, as the store keeps it: the limiter holds no key in the clear.
      const now = clock.now();
      const decision = limiter.take(managementKeyDigest(credentialOf(x.req.headers.authorization)), op.id, now);
      if (!decision.ok) throw managementRateLimited(op.id, limiter.limit, limiter.windowMs, now, decision.resetAt);
      return next();
    },
  };
}
