import type { Completion } from '../domain/completion.js';
import type { PromptCount } from '../service/inference.js';
import { requestedMaxTokens } from '../domain/inference.js';
import { choiceCount, requestSeed, stopStrings, type ReplyRequest } from '../domain/replies.js';
import { REPLY_HEADER, replyFromHeader, requestFacts, scriptedCompletion, type Picked, type ScriptedError } from '../domain/scripted-replies.js';
import { HttpError } from './errors.js';
import type { Ctx } from './registry.js';
import { waitWhileConnected } from './wait.js';

/**
 * Scripted replies on the request path (the rules are src/domain/scripted-replies.ts):
 * which reply answers a chat completion, the one-off X-Fgw-Mock-Reply header first, then
 * the first matching rule; named in the journal (`scripted`) and in the response's
 * X-Fgw-Scripted-Reply header.
 */

/** Names the rule (or `header`) whose scripted reply answered. */
export const SCRIPTED_REPLY_HEADER = 'X-Fgw-Scripted-Reply';

/** The scripted reply for this request, if any, named on the exchange and the response. Throws the 400 of an invalid header. */
export function pickScripted(ctx: Ctx<'createChatCompletion'>): Picked | undefined {
  const { replies, inference } = ctx.mock;
  const header = inference.replyHeader ? ctx.req.headers[REPLY_HEADER.toLowerCase()] : undefined;
  let picked: Picked | undefined;
  if (header !== undefined) picked = replyFromHeader(Array.isArray(header) ? header.join(', ') : header);
  else if (replies.size > 0) {
    const caller = ctx.caller!;
    picked = replies.pick(
      requestFacts(ctx.body, { groupId: caller.group.id, externalEntityId: caller.group.externalEntityId, keyPrefix: caller.key.prefix }),
    );
  }
  if (picked) {
    ctx.scripted = picked.id;
    ctx.res.setHeader(SCRIPTED_REPLY_HEADER, picked.id);
  }
  return picked;
}

/** A scripted error: waits its latency, then answers with its status (nothing charged, nothing billed). */
export async function refuseScripted(ctx: Ctx<'createChatCompletion'>, picked: Picked, error: ScriptedError): Promise<never> {
  if (picked.reply.latency_ms) await waitWhileConnected(ctx.res, picked.reply.latency_ms);
  throw new HttpError(error.status, error.message, error.code ?? 'scripted_reply', { [SCRIPTED_REPLY_HEADER]: picked.id });
}

/**
 * A content or tool-call reply as serveCompletion's script: a function of the request's
 * prompt count, so its cached tokens follow the prompt-cache rule unless the reply sets
 * `cached_tokens`. `max_tokens`, `n` and `stop` are checked here, as for any completion.
 */
export function scriptedCompletionFor(picked: Picked, body: ReplyRequest): (prompt: PromptCount) => Completion {
  const maxTokens = requestedMaxTokens(body);
  const n = choiceCount(body.n);
  const stops = stopStrings(body.stop);
  const seed = picked.reply.tool_calls ? requestSeed(body) : 0;
  return (prompt) => scriptedCompletion(picked, prompt, maxTokens, n, stops, seed);
}
