import { describeTarget } from '../../domain/endpoints.js';
import type { Completion } from '../../domain/tokens.js';
import { serveCompletion } from '../../service/inference.js';
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
    const { gateway, clock, deliverer, inference } = ctx.mock;
    const body = ctx.body;
    // Which target answers: the slug's endpoint in the caller's organisation, if any
    // (under --require-endpoints, none is a 404 before anything is charged).
    const target = gateway.endpoints.route(ctx.caller!.workspace.id, body.model)?.targets[0];
    const { completion, at } = serveCompletion({ usage: gateway.usage, clock, billing: deliverer }, ctx.caller!, ctx.requestId, body);
    ctx.res.setHeader(ENDPOINT_TARGET_HEADER, target ? describeTarget(target) : 'none');
    if (!target) {
      // Served by default so group-only tests work; impossible to miss that live would refuse it.
      ctx.note = `no endpoint routes ${body.model.replace(/[^\x21-\x7e]/g, '?')} in your organisation: the live gateway would refuse this call (404); the mock serves it unless --require-endpoints`;
      ctx.res.setHeader(NOTE_HEADER, ctx.note);
    }
    if (inference.latencyMs > 0) await waitWhileConnected(ctx.res, inference.latencyMs);

    const head = { id: `chatcmpl-${ctx.requestId}`, created: Math.floor(at / 1000), model: body.model };
    if (body.stream) {
      await stream(ctx, head, completion, body.stream_options?.include_usage === true);
      return { streamed: true };
    }
    return {
      body: {
        ...head,
        object: 'chat.completion',
        choices: [
          { index: 0, message: { role: 'assistant', content: completion.content }, finish_reason: completion.finishReason, logprobs: null },
        ],
        usage: completion.usage,
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

/** Server-sent events: a role chunk, one chunk per token, a finish chunk, the usage chunk if asked, then [DONE]. */
async function stream(ctx: Ctx, head: { id: string; created: number; model: string }, c: Completion, includeUsage: boolean): Promise<void> {
  const { res } = ctx;
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  const usage = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, string>, finish: string | null) => ({
    ...head,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...usage,
  });
  function* events() {
    yield chunk({ role: 'assistant', content: '' }, null);
    for (const piece of c.pieces) yield chunk({ content: piece }, null);
    yield chunk({}, c.finishReason);
    if (includeUsage) yield { ...head, object: 'chat.completion.chunk', choices: [], usage: c.usage };
  }
  await writeEvents(res, events());
}
