import type { Picked, ScriptedError } from '../domain/scripted-replies.js';
import { HttpError } from './errors.js';
import type { Ctx } from './registry.js';
import { waitWhileConnected } from './wait.js';

/**
 * Scripted replies as HTTP: which reply answers, and when its rule's hit counts, is decided
 * by src/service/inference.ts (answerChatCompletion; the rules are src/domain/scripted-replies.ts);
 * here the reply that answered is named in the journal (`scripted`) and in the response's
 * X-Fgw-Scripted-Reply header, and a scripted error is answered.
 */

/** Names the rule (or `header`) whose scripted reply answered. */
export const SCRIPTED_REPLY_HEADER = 'X-Fgw-Scripted-Reply';

/** Names the scripted reply that answered on the exchange (journal) and the response. */
export function nameScripted(ctx: Ctx<'createChatCompletion'>, picked: Picked): void {
  ctx.scripted = picked.id;
  ctx.res.setHeader(SCRIPTED_REPLY_HEADER, picked.id);
}

/** A scripted error: waits its latency, then answers with its status (nothing charged, nothing billed). */
export async function refuseScripted(ctx: Ctx<'createChatCompletion'>, picked: Picked, error: ScriptedError): Promise<never> {
  nameScripted(ctx, picked);
  if (picked.reply.latency_ms) await waitWhileConnected(ctx.res, picked.reply.latency_ms);
  throw new HttpError(error.status, error.message, error.code ?? 'scripted_reply', { [SCRIPTED_REPLY_HEADER]: picked.id });
}
