import type { Clock } from '../domain/clock.js';
import { textChoice, echoText, usageOf, type Completion } from '../domain/completion.js';
import { checkMetadata, requestedMaxTokens } from '../domain/inference.js';
import { cachedTokensOf, promptPrefixes, type PromptCacheRule } from '../domain/prompt-cache.js';
import type { Workspace } from '../domain/records.js';
import { choiceCount, isPlain, needsSchemaTools, replyFor, requestSeed, stopStrings, type ReplyRequest } from '../domain/replies.js';
import { replyFromHeader, requestFacts, scriptedCompletion, type Picked, type ReplyBook, type ScriptedError } from '../domain/scripted-replies.js';
import { promptTokens } from '../domain/tokens.js';
import { billingEvent, type BillingEvent } from '../domain/webhooks.js';
import { loadedSchemaTools, loadSchemaTools } from '../lib/schema-tools.js';
import type { PromptCache } from '../store/prompt-cache.js';
import type { FederatedCaller } from './access.js';
import type { UsageService } from './usage.js';

/**
 * The chat-completion use case, without HTTP, in two steps: turn the request into a
 * Completion (completionFor: deterministic, src/domain/replies.ts; or a scripted one the
 * caller passes), then bill and charge it (chargeCompletion). Everything that can fail
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

/** How cached prompt tokens weigh on TOKEN limits: `full` (default, as Baseten's Model APIs count them) or `none`. */
export type CachedTokenWeight = 'full' | 'none';

export interface InferenceDeps {
  usage: UsageService;
  clock: Clock;
  billing: BillingSink;
  /** The prompt cache and its rule; without it no token is ever cached. */
  prompts?: { cache: PromptCache; rule: PromptCacheRule; weight?: CachedTokenWeight };
}

/**
 * Resolves once the request's reply can be built: a request with tools or a JSON schema
 * needs the schema tools, loaded on first use; undefined (nothing to wait for) otherwise.
 */
export function replyReady(body: ReplyRequest): Promise<unknown> | undefined {
  if (isPlain(body) || loadedSchemaTools() !== null || !needsSchemaTools(body)) return undefined;
  return loadSchemaTools();
}

/**
 * The completion a request gets when no scripted reply answers it (deterministic), with
 * `prompt.cached` of its `prompt.tokens` prompt tokens cached. Call replyReady() first.
 */
export function completionFor(body: ReplyRequest, prompt: PromptCount = { tokens: promptTokens(body.messages), cached: 0 }): Completion {
  const maxTokens = requestedMaxTokens(body);
  if (isPlain(body)) {
    const choice = textChoice(echoText(body.messages), maxTokens);
    return { choices: [choice], usage: usageOf(prompt.tokens, [choice], prompt.cached) };
  }
  return replyFor(body, maxTokens, prompt, loadedSchemaTools());
}

/** The prompt of a request as the mock counts it: its tokens, and how many of them are cached by the rule. */
export interface PromptCount {
  tokens: number;
  cached: number;
}

/**
 * Serves one chat completion for an authenticated caller, or throws the 4xx that says why
 * not. `scripted`, when given, replaces the generated completion: a Completion is served
 * and billed as it is (its usage, cached tokens included); a function gets the request's
 * prompt count (tokens, and cached tokens by the prefix rule) and returns the Completion,
 * for a script that sets no cached tokens of its own. The request's bounds are checked all
 * the same, and its prompt is remembered by the prompt cache either way.
 */
export function serveCompletion(
  deps: InferenceDeps,
  caller: FederatedCaller,
  requestId: string,
  body: ReplyRequest,
  scripted?: Completion | ((prompt: PromptCount) => Completion),
): CompletionOutcome {
  checkMetadata(body.metadata);
  return serveChecked(deps, caller, requestId, body, scripted);
}

/** serveCompletion once the request's bounds are checked. */
function serveChecked(...[deps, caller, requestId, body, scripted]: Parameters<typeof serveCompletion>): CompletionOutcome {
  const at = deps.clock.now();
  const prompts = deps.prompts;
  const prefixes = prompts ? promptPrefixes(caller.group.id, body.messages) : null;
  let completion: Completion;
  if (scripted !== undefined && typeof scripted !== 'function') {
    completion = scripted;
  } else {
    const tokens = prefixes ? (prefixes.tokens[prefixes.tokens.length - 1] ?? 3) : promptTokens(body.messages);
    const cached = prefixes ? cachedTokensOf(prefixes, prompts!.cache.longest(prefixes.keys, at, prompts!.rule.windowMs), prompts!.rule) : 0;
    completion = scripted === undefined ? completionFor(body, { tokens, cached }) : scripted({ tokens, cached });
  }
  const outcome = chargeCompletion(deps, caller, requestId, body, completion, at);
  if (prefixes) prompts!.cache.remember(prefixes.keys, at);
  return outcome;
}

/**
 * Bills and charges a completion, all or nothing: the 429 that refuses it leaves no event
 * and no charge. TOKEN limits are charged total_tokens, cached prompt tokens included
 * unless the weight is `none`.
 */
export function chargeCompletion(deps: InferenceDeps, caller: FederatedCaller, requestId: string, body: ReplyRequest, completion: Completion, at = deps.clock.now()): CompletionOutcome {
  const u = completion.usage;
  const delivery = deps.billing.prepare(caller.workspace, [
    billingEvent({
      requestId,
      at,
      requestMetadata: body.metadata ?? null,
      modelSlug: body.model,
      externalEntityId: caller.group.externalEntityId,
      apiKeyPrefix: caller.key.prefix,
      promptTokens: u.prompt_tokens,
      completionTokens: u.completion_tokens,
      cachedInputTokens: u.cached_tokens,
    }),
  ]);
  deps.usage.admit(caller.group, body.model, deps.prompts?.weight === 'none' ? u.total_tokens - u.cached_tokens : u.total_tokens);
  delivery.commit();
  return { completion, at };
}

/** Scripted replies as a chat completion meets them: the rules, and whether the one-off X-Fgw-Mock-Reply header is honoured. */
export interface ScriptedReplies {
  book: ReplyBook;
  /** Off with --no-reply-header / inference.replyHeader: false (the header is then ignored, as the live service does). */
  header: boolean;
}

/** How a chat completion is answered: a completion served and charged, or a scripted error (nothing charged, nothing billed). */
export type ChatAnswer =
  | { kind: 'completion'; completion: Completion; at: number; scripted: Picked | undefined }
  | { kind: 'error'; error: ScriptedError; scripted: Picked };

/**
 * The whole chat-completion decision, scripted replies included (AMBIGUITIES.md #98, #99),
 * or the 4xx that refuses the request:
 * 1. the request's own checks (metadata, max_tokens, n, stop): a 400 here uses up no rule;
 * 2. the scripted reply: the one-off header's (when honoured; an invalid one is a 400),
 *    else the first matching rule with answers left, else none;
 * 3. a scripted error is answered (it wins over a 429 the request would have met) and its
 *    rule's hit counted; a content or tool-call reply, or the deterministic one, is served
 *    by serveCompletion (charge, billing event; the 429 that refuses it uses up nothing), and
 *    only then is the rule's hit counted.
 * Between picking a rule and counting its hit nothing waits, so `times` N answers exactly N
 * requests however many arrive at once. `headerValue` is the X-Fgw-Mock-Reply header as sent.
 */
export async function answerChatCompletion(
  deps: InferenceDeps,
  replies: ScriptedReplies,
  caller: FederatedCaller,
  requestId: string,
  body: ReplyRequest,
  headerValue: string | undefined,
): Promise<ChatAnswer> {
  checkMetadata(body.metadata);
  const maxTokens = requestedMaxTokens(body);
  const n = choiceCount(body.n);
  const stops = stopStrings(body.stop);

  let scripted: Picked | undefined;
  if (replies.header && headerValue !== undefined) scripted = replyFromHeader(headerValue);
  else if (replies.book.size > 0) {
    scripted = replies.book.match(requestFacts(body, { groupId: caller.group.id, externalEntityId: caller.group.externalEntityId, keyPrefix: caller.key.prefix }));
  }

  if (scripted === undefined) {
    const ready = replyReady(body);
    if (ready !== undefined) await ready;
    return { kind: 'completion', ...serveChecked(deps, caller, requestId, body), scripted: undefined };
  }
  const picked = scripted;
  if (picked.reply.error) {
    replies.book.hit(picked);
    return { kind: 'error', error: picked.reply.error, scripted: picked };
  }
  const seed = picked.reply.tool_calls ? requestSeed(body) : 0;
  const outcome = serveChecked(deps, caller, requestId, body, (prompt) => scriptedCompletion(picked, prompt, maxTokens, n, stops, seed));
  replies.book.hit(picked);
  return { kind: 'completion', ...outcome, scripted: picked };
}
