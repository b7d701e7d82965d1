import type { Clock } from '../domain/clock.js';
import { checkMetadata, requestedMaxTokens, type ChatRequest } from '../domain/inference.js';
import type { Workspace } from '../domain/records.js';
import { complete, type Completion } from '../domain/completion.js';
import { billingEvent, type BillingEvent } from '../domain/webhooks.js';
import type { FederatedCaller } from './access.js';
import type { UsageService } from './usage.js';

/**
 * The chat-completion use case, without HTTP: check the request's bounds, compute the
 * (deterministic) completion, build and serialize the billing event, and only then admit
 * and charge, in one synchronous step, and record the event. Everything that can fail
 * happens before the charge, so a refused or failed request never uses up a limit, and
 * N concurrent requests against a limit of K still admit exactly K.
 */

/** Where billing events go; the webhook deliverer, prepared then committed. */
export interface BillingSink {
  prepare(workspace: Workspace, events: BillingEvent[]): { commit(): unknown };
}

export interface CompletionOutcome {
  completion: Completion;
  /** The mock time the request was served at, in ms. */
  at: number;
}

/** The completion a request gets when no scripted reply answers it (deterministic). */
export function completionFor(body: ChatRequest): Completion {
  return complete(body.messages, requestedMaxTokens(body));
}

/**
 * Serves one chat completion for an authenticated caller, or throws the 4xx that says why
 * not. `scripted`, when given, is served and billed as it is (its usage, cached tokens
 * included) instead of the generated one; the request's bounds are checked all the same.
 */
export function serveCompletion(
  deps: { usage: UsageService; clock: Clock; billing: BillingSink },
  caller: FederatedCaller,
  requestId: string,
  body: ChatRequest,
  scripted?: Completion,
): CompletionOutcome {
  checkMetadata(body.metadata);
  const completion = scripted ?? completionFor(body);
  return chargeCompletion(deps, caller, requestId, body, completion);
}

/** Bills and charges a completion, all or nothing: the 429 that refuses it leaves no event and no charge. */
export function chargeCompletion(
  deps: { usage: UsageService; clock: Clock; billing: BillingSink },
  caller: FederatedCaller,
  requestId: string,
  body: ChatRequest,
  completion: Completion,
): CompletionOutcome {
  const at = deps.clock.now();
  const delivery = deps.billing.prepare(caller.workspace, [
    billingEvent({
      requestId,
      at,
      requestMetadata: body.metadata ?? null,
      modelSlug: body.model,
      externalEntityId: caller.group.externalEntityId,
      apiKeyPrefix: caller.key.prefix,
      promptTokens: completion.usage.prompt_tokens,
      completionTokens: completion.usage.completion_tokens,
      cachedInputTokens: completion.usage.cached_tokens,
    }),
  ]);
  deps.usage.admit(caller.group, body.model, completion.usage.total_tokens);
  delivery.commit();
  return { completion, at };
}
