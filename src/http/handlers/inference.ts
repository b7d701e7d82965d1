import { describeTarget } from '../../domain/endpoints.js';
import { complete, type ChatMessageLike, type Completion } from '../../domain/tokens.js';
import { billingEvent } from '../../domain/webhooks.js';
import type { Ctx, HandlerMap } from '../registry.js';

/**
 * The OpenAI-compatible side: `POST /v1/chat/completions` and `GET /v1/models`.
 * The completion is computed first (it is deterministic), so its exact token count is
 * known when the limits are checked; admission and charging happen in one synchronous
 * step before any await.
 */

interface ChatRequest {
  model: string;
  messages: ChatMessageLike[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  metadata?: Record<string, unknown> | null;
}

/** Names the target that answered, e.g. `BASETEN model_id=abc123 environment=production`, or `none`. */
export const ENDPOINT_TARGET_HEADER = 'X-Fgw-Endpoint-Target';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const inferenceHandlers: HandlerMap = {
  createChatCompletion: async (ctx) => {
    const { gateway, clock, deliverer, inference } = ctx.mock;
    const caller = ctx.caller!;
    const body = ctx.body as ChatRequest;
    const completion = complete(body.messages, body.max_completion_tokens ?? body.max_tokens ?? null);
    // Which target answers: the slug's endpoint in the caller's organisation, if any.
    const endpoint = ctx.mock.endpoints.route(caller.workspace.id, body.model);
    gateway.admit(caller.group, body.model, completion.usage.total_tokens);
    const target = endpoint?.targets[0];
    ctx.res.setHeader(ENDPOINT_TARGET_HEADER, target ? describeTarget(target) : 'none');

    const now = clock.now();
    deliverer.enqueue(caller.workspace, [
      billingEvent({
        requestId: ctx.requestId,
        at: now,
        requestMetadata: body.metadata ?? null, // the spec already allows only an object or null
        modelSlug: body.model,
        externalEntityId: caller.group.externalEntityId,
        apiKeyPrefix: caller.key.prefix,
        promptTokens: completion.usage.prompt_tokens,
        completionTokens: completion.usage.completion_tokens,
      }),
    ]);
    if (inference.latencyMs > 0) await sleep(inference.latencyMs);

    const head = { id: `chatcmpl-${ctx.requestId}`, created: Math.floor(now / 1000), model: body.model };
    if (body.stream) {
      stream(ctx, head, completion, body.stream_options?.include_usage === true);
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
        data: ctx.mock.gateway.callableSlugs(group).map((id) => ({
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
function stream(ctx: Ctx, head: { id: string; created: number; model: string }, c: Completion, includeUsage: boolean): void {
  const { res } = ctx;
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  const usage = includeUsage ? { usage: null } : {};
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: Record<string, string>, finish: string | null) => ({
    ...head,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...usage,
  });
  send(chunk({ role: 'assistant', content: '' }, null));
  for (const piece of c.pieces) send(chunk({ content: piece }, null));
  send(chunk({}, c.finishReason));
  if (includeUsage) send({ ...head, object: 'chat.completion.chunk', choices: [], usage: c.usage });
  res.end('data: [DONE]\n\n');
}
