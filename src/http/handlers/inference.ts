import { describeTarget } from '../../domain/endpoints.js';
import type { Completion, CompletionChoice, CompletionUsage } from '../../domain/completion.js';
import { REPLY_HEADER } from '../../domain/scripted-replies.js';
import { answerChatCompletion } from '../../service/inference.js';
import { nameScripted, refuseScripted } from '../scripted-replies.js';
import { writeEvents } from '../sse.js';
import type { Ctx, HandlerMap } from '../registry.js';
import { waitWhileConnected } from '../wait.js';

/**
 * The OpenAI-compatible side: `POST /v1/chat/completions` and `GET /v1/models`. The use
 * case (bounds, completion, admission and charging, billing event) is in
 * src/service/inference.ts; this only translates, and streams.
 */

/** Names the target that answered, e.g. `BASETEN model_id=abc123 environment=production`, or `none`. */
export const ENDPOINT_TARGET_HEADER = 'X-Fgw-Endpoint-Target';
/** Set, with the log's note, when the live gateway would have answered otherwise (src/http/pipeline.ts Exchange.note). */
export const NOTE_HEADER = 'X-Fgw-Note';

export const inferenceHandlers: HandlerMap = {
  createChatCompletion: async (ctx) => {
    const { gateway, inference, replies } = ctx.mock;
    const body = ctx.body;
    // Which target answers: the slug's endpoint in the caller's organisation, if any
    // (under --require-endpoints, none is a 404 before anything is charged).
    const target = gateway.endpoints.route(ctx.caller!.workspace.id, body.model)?.targets[0];
    // The request's checks, then a scripted reply (the X-Fgw-Mock-Reply header, or the first
    // matching rule) or the deterministic one, charged: decided by the service. A scripted
    // error is answered here, uncharged.
    const header = ctx.req.headers[REPLY_HEADER.toLowerCase()];
    const answer = await answerChatCompletion(
      inference.deps,
      { book: replies, header: inference.replyHeader },
      ctx.caller!,
      ctx.requestId,
      body,
      Array.isArray(header) ? header.join(', ') : header,
    );
    if (answer.kind === 'error') return refuseScripted(ctx, answer.scripted, answer.error);
    const { completion, at, scripted: picked } = answer;
    if (picked) nameScripted(ctx, picked);
    ctx.res.setHeader(ENDPOINT_TARGET_HEADER, target ? describeTarget(target) : 'none');
    if (!target) {
      // Served by default so group-only tests work; impossible to miss that live would refuse it.
      ctx.note = `no endpoint routes ${body.model.replace(/[^\x21-\x7e]/g, '?')} in your organisation: the live gateway would refuse this call (404); the mock serves it unless --require-endpoints`;
      ctx.res.setHeader(NOTE_HEADER, ctx.note);
    }
    // A scripted reply's latency_ms, when it has one, in place of --latency-ms.
    const latency = picked?.reply.latency_ms ?? inference.latencyMs;
    if (latency > 0) await waitWhileConnected(ctx.res, latency);

    const head = { id: `chatcmpl-${ctx.requestId}`, created: Math.floor(at / 1000), model: body.model };
    if (body.stream) {
      await stream(ctx, head, completion, body.stream_options?.include_usage === true);
      return { streamed: true };
    }
    return {
      body: {
        ...head,
        object: 'chat.completion',
        choices: completion.choices.map(renderChoice),
        usage: renderUsage(completion.usage),
      },
    };
  },

  listModels: (ctx) => {
    const group = ctx.caller!.group;
    return {
      body: {
        object: 'list',
        data: ctx.mock.gateway.usage.callableSlugs(group).map((id) => ({
          id,
          object: 'model',
          created: Math.floor(group.createdAt / 1000),
          owned_by: id.split('/')[0],
        })),
      },
    };
  },
};

/** One choice of a JSON reply: `content: null` and `tool_calls` when the model called tools. */
function renderChoice(c: CompletionChoice, index: number) {
  const message =
    c.toolCalls.length === 0
      ? { role: 'assistant', content: c.content }
      : {
          role: 'assistant',
          content: c.content,
          tool_calls: c.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })),
        };
  return { index, message, finish_reason: c.finishReason, logprobs: null };
}

/** Usage as OpenAI sends it, cached prompt tokens under `prompt_tokens_details`. */
function renderUsage(u: CompletionUsage) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.total_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens },
  };
}

/** How many characters of a tool call's arguments one stream delta carries. */
export const ARGUMENT_DELTA_CHARS = 16;

/**
 * Server-sent events, choice after choice: for each, a role chunk, one chunk per content
 * token, then its tool calls (the first delta of each carries `index`, `id`, `type` and
 * `function.name`, the next ones `function.arguments` in pieces, as the OpenAI SDKs
 * accumulate them), then its finish chunk; the usage chunk if asked; then [DONE].
 */
async function stream(ctx: Ctx, head: { id: string; created: number; model: string }, c: Completion, includeUsage: boolean): Promise<void> {
  const { res } = ctx;
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  const usage = includeUsage ? { usage: null } : {};
  const chunk = (index: number, delta: Record<string, unknown>, finish: string | null) => ({
    ...head,
    object: 'chat.completion.chunk',
    choices: [{ index, delta, finish_reason: finish }],
    ...usage,
  });
  function* events() {
    for (let i = 0; i < c.choices.length; i += 1) {
      const choice = c.choices[i]!;
      yield chunk(i, { role: 'assistant', content: choice.content === null ? null : '' }, null);
      for (const piece of choice.pieces) yield chunk(i, { content: piece }, null);
      for (let t = 0; t < choice.toolCalls.length; t += 1) {
        const call = choice.toolCalls[t]!;
        yield chunk(i, { tool_calls: [{ index: t, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }, null);
        for (let from = 0; from < call.arguments.length; from += ARGUMENT_DELTA_CHARS) {
          yield chunk(i, { tool_calls: [{ index: t, function: { arguments: call.arguments.slice(from, from + ARGUMENT_DELTA_CHARS) } }] }, null);
        }
      }
      yield chunk(i, {}, choice.finishReason);
    }
    if (includeUsage) yield { ...head, object: 'chat.completion.chunk', choices: [], usage: renderUsage(c.usage) };
  }
  await writeEvents(res, events());
}
