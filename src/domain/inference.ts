import type { Clock } from './clock.js';
import { badRequest } from './errors.js';
import type { FederatedCaller, Gateway } from './gateway.js';
import { jsonDepth } from './json-bounds.js';
import { complete, type ChatMessageLike, type Completion } from './tokens.js';
import { billingEvent, type BillingEvent } from './webhooks.js';
import type { Workspace } from '../store/store.js';

/**
 * The chat-completion use case, without HTTP: check the request's bounds, compute the
 * (deterministic) completion, build and serialize the billing event, and only then admit
 * and charge, in one synchronous step, and record the event. Everything that can fail
 * happens before the charge, so a refused or failed request never uses up a limit, and
 * N concurrent requests against a limit of K still admit exactly K.
 */

/** The longest completion the mock produces, in tokens; max_tokens above it is a 400. */
export const MAX_COMPLETION_TOKENS = 4096;
/** `metadata` serialized as JSON may take at most this many bytes (UTF-8)... */
export const MAX_METADATA_BYTES = 16 * 1024;
/** ...and nest at most this deep (a flat object is depth 1). */
export const MAX_METADATA_DEPTH = 16;

export interface ChatRequest {
  model: string;
  messages: ChatMessageLike[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  metadata?: Record<string, unknown> | null;
}

/** Where billing events go; the webhook deliverer, prepared then committed. */
export interface BillingSink {
  prepare(workspace: Workspace, events: BillingEvent[]): { commit(): unknown };
}

export interface CompletionOutcome {
  completion: Completion;
  /** The mock time the request was served at, in ms. */
  at: number;
}

/** 400 naming the field when `metadata` is over the documented size or depth. */
export function checkMetadata(metadata: unknown): void {
  if (metadata === null || metadata === undefined) return;
  const depth = jsonDepth(metadata);
  if (depth > MAX_METADATA_DEPTH) {
    throw badRequest(`metadata is nested ${depth} levels deep; at most ${MAX_METADATA_DEPTH} are allowed.`, 'metadata_too_deep', 'metadata');
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
  if (bytes > MAX_METADATA_BYTES) {
    throw badRequest(`metadata is ${bytes} bytes as JSON; at most ${MAX_METADATA_BYTES} are allowed.`, 'metadata_too_large', 'metadata');
  }
}

/** The completion length asked for, or 400 naming the field when it is over the maximum. */
export function requestedMaxTokens(body: Pick<ChatRequest, 'max_tokens' | 'max_completion_tokens'>): number {
  for (const field of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[field];
    if (v === null || v === undefined) continue;
    if (v > MAX_COMPLETION_TOKENS) {
      throw badRequest(`${field} must be at most ${MAX_COMPLETION_TOKENS}, the longest completion the mock produces.`, 'max_tokens_too_large', field);
    }
    return v;
  }
  return MAX_COMPLETION_TOKENS;
}

/** Serves one chat completion for an authenticated caller, or throws the 4xx that says why not. */
export function serveCompletion(
  deps: { gateway: Gateway; clock: Clock; billing: BillingSink },
  caller: FederatedCaller,
  requestId: string,
  body: ChatRequest,
): CompletionOutcome {
  checkMetadata(body.metadata);
  const completion = complete(body.messages, requestedMaxTokens(body));
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
    }),
  ]);
  deps.gateway.admit(caller.group, body.model, completion.usage.total_tokens);
  delivery.commit();
  return { completion, at };
}
