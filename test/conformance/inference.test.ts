import OpenAI from 'openai';
import request from 'supertest';
import { describe, expect } from 'vitest';
import { verifySignature } from 'frontier-gateway-mock';
import { isRfc3339Utc, sdk } from './support/documented.js';
import { mockRule, model, rule, type Harness } from './support/harness.js';

/**
 * The OpenAI SDK for a federated key, sending `Api-Key`: the scheme the newer "Call your
 * model" page requires (Bearer rejected) and both pages accept. The stock SDK (Bearer,
 * the seed quick-start) is used only by the rule about Bearer (AMBIGUITIES.md #2).
 */
const client = sdk;

/** An SDK call that must be refused; the docs name no status, so any 4xx passes on live targets. */
async function sdkRefused(h: Harness, call: Promise<unknown>, mockStatus: number, label: string) {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${label}: expected a refusal`).toBeInstanceOf(OpenAI.APIError);
  const status = (err as InstanceType<typeof OpenAI.APIError>).status ?? 0;
  h.expectRefused({ status, body: undefined, text: String(err), headers: {} }, mockStatus, label);
}
const hello = [{ role: 'user' as const, content: 'Hello, world!' }];

/** A group with `models` and a key under it. */
async function keyed(h: Harness, models: unknown[], hierarchy?: Record<string, unknown>) {
  const group = await h.group({ models, ...(hierarchy ? { hierarchy } : {}) });
  const key = await h.key(group.id);
  return { group, key: key.api_key, prefix: key.prefix };
}

/** Raw call through the spec-checking client, for status and headers. */
const chat = (h: Harness, key: string, body: Record<string, unknown> = {}) =>
  h.inference.post('/v1/chat/completions', { model: h.slug(), messages: hello, ...body }, { key });

const statuses = async (h: Harness, key: string, n: number) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await chat(h, key)).status);
  return out;
};

describe('Inference through the OpenAI SDK', () => {
  rule('a chat completion succeeds with a consistent usage block', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    const res = await client(h, key).chat.completions.create({ model: h.slug(), messages: hello });
    expect(typeof res.choices[0]?.message.content).toBe('string');
    const u = res.usage!;
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    expect(u.prompt_tokens).toBeGreaterThan(0);
  });

  rule('streaming delivers chunks and a usage chunk when asked', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    const stream = await client(h, key).chat.completions.create({
      model: h.slug(),
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBeTruthy();
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
  });

  rule('an unknown key is refused (AuthenticationError, 401, on the mock), on completions and on models', ['inference'], async (h) => {
    const stranger = client(h, 'sky_000000000000.notarealsecretnotarealsecretnotareal');
    await sdkRefused(h, stranger.chat.completions.create({ model: h.slug(), messages: hello }), 401, 'completions with an unknown key');
    await sdkRefused(h, stranger.models.list(), 401, 'models with an unknown key');
    h.expectRefused(await h.inference.get('/v1/models', { key: null }), 401, 'models without a key');
  });

  mockRule('the stock OpenAI SDK (Bearer) works with a federated key', 2, ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    const res = await new OpenAI({ baseURL: h.openaiBaseUrl, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: h.slug(), messages: hello });
    expect(typeof res.choices[0]?.message.content).toBe('string');
  });

  rule('the Api-Key scheme is accepted for federated keys', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    expect((await chat(h, key)).status).toBe(200);
  });

  rule("a slug outside the key's group is refused (404 on the mock)", ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    await sdkRefused(h, client(h, key).chat.completions.create({ model: 'not-this-org/not-this-model', messages: hello }), 404, 'a slug outside the group (AMBIGUITIES.md #20)');
  });

  rule('an invalid body is refused (BadRequestError, 400, on the mock)', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    await sdkRefused(h, client(h, key).chat.completions.create({ model: h.slug(), messages: [] }), 400, 'empty messages');
    h.expectRefused(await h.inference.post('/v1/chat/completions', { model: h.slug() }, { key }), 400, 'no messages');
  });

  rule('a request limit hit surfaces as RateLimitError (429), with Retry-After on the mock', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug(), [['REQUEST', 'MINUTE', 2]])]);
    const c = client(h, key);
    await c.chat.completions.create({ model: h.slug(), messages: hello });
    await c.chat.completions.create({ model: h.slug(), messages: hello });
    await expect(c.chat.completions.create({ model: h.slug(), messages: hello })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    const raw = await chat(h, key);
    expect(raw.status).toBe(429);
    h.expectOrObserve(Number(raw.headers['retry-after']) >= 1, `a 429 without a Retry-After of at least 1 s (got ${raw.headers['retry-after'] ?? 'none'})`);
  });

  // The docs say only that `tools` and `response_format` are passed through to the model:
  // whether the model accepts them, and what it answers (text, a tool call, which tool,
  // valid JSON or not), is its own. So on a live target a refusal is an observation, and a
  // served request is held only to a consistent usage block; the mock must serve both.
  rule('tools, tool_choice and response_format are passed through: served on the mock; on a live target whether the model accepts them is an observation', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    const c = client(h, key);
    const served = async (label: string, call: Promise<OpenAI.ChatCompletion>) => {
      const res = await call.catch((e: unknown) => {
        if (h.isMock || !(e instanceof OpenAI.APIError)) throw e;
        h.observe(`${label}: the target refused it (${e.status ?? 'no status'}: ${e.message.slice(0, 200)}); the docs say only that it is passed through to the model`);
        return null;
      });
      if (res === null) return;
      expect(res.choices.length, label).toBeGreaterThan(0);
      expect(res.usage!.total_tokens, label).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    };
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    await served('tools with tool_choice auto', c.chat.completions.create({ model: h.slug(), messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools, tool_choice: 'auto' }));
    await served(
      'response_format json_schema',
      c.chat.completions.create({
        model: h.slug(),
        messages: hello,
        response_format: { type: 'json_schema', json_schema: { name: 'greeting', schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false } } },
      }),
    );
  });

  mockRule('the mock answers tools with a tool call whose arguments fit the parameters, then text after the tool’s result; json_schema with an instance of the schema', 92, ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    const c = client(h, key);
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'] } } }];
    const messages = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];
    const res = await c.chat.completions.create({ model: h.slug(), messages, tools, tool_choice: 'required' });
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    const call = res.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error(`a ${call.type} tool call`);
    const args = JSON.parse(call.function.arguments);
    expect(typeof args.city).toBe('string');
    expect(['c', 'f']).toContain(args.unit);
    const followUp = await c.chat.completions.create({ model: h.slug(), tools, messages: [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'sunny' }] });
    expect(followUp.choices[0]!.message.content).toBe('Echo: sunny');
    const structured = await c.chat.completions.create({
      model: h.slug(),
      messages: hello,
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['n'] } } },
    });
    const n = JSON.parse(structured.choices[0]!.message.content!).n;
    expect(Number.isInteger(n) && n >= 1 && n <= 9, String(n)).toBe(true);
  });

  mockRule('GET /v1/models lists exactly the slugs the key may call', 15, ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug())]);
    const page = await client(h, key).models.list();
    expect(page.data.map((m) => m.id)).toEqual([h.slug()]);
  });
});

describe('Limits are enforced on traffic', () => {
  rule('N parallel requests against a REQUEST limit of K admit exactly K', ['inference'], async (h) => {
    const { key } = await keyed(h, [model(h.slug(), [['REQUEST', 'MINUTE', 5]])]);
    const results = await Promise.all(Array.from({ length: 20 }, () => chat(h, key)));
    const codes = results.map((r) => r.status);
    expect(codes.filter((c) => c === 200)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(15);
  });

  rule('a limit of 0 admits nothing: every request under it is a 429, and another slug of the group is untouched', ['inference', 'two-slugs'], async (h) => {
    for (const limits of [[model(h.slug(0), [['REQUEST', 'MINUTE', 0]])], [model(h.slug(0), [['TOKEN', 'SECOND', 0]])], [model(h.slug(0), [], [['REQUEST', 0]])]]) {
      const { key } = await keyed(h, [...limits, model(h.slug(1))]);
      expect(await statuses(h, key, 2), JSON.stringify(limits)).toEqual([429, 429]);
      expect((await chat(h, key, { model: h.slug(1) })).status).toBe(200);
    }
  });

  rule('each slug has its own buckets: spending on one never draws on another', ['inference', 'two-slugs'], async (h) => {
    const { key } = await keyed(h, [model(h.slug(0), [['REQUEST', 'MINUTE', 1]]), model(h.slug(1), [['REQUEST', 'MINUTE', 1]])]);
    expect((await chat(h, key, { model: h.slug(0) })).status).toBe(200);
    expect((await chat(h, key, { model: h.slug(0) })).status).toBe(429);
    expect((await chat(h, key, { model: h.slug(1) })).status).toBe(200);
  });

  rule("INDEPENDENT: an inherited limit is metered per group; a parent's traffic does not draw on its child", ['inference'], async (h) => {
    const parent = await keyed(h, [model(h.slug(), [['REQUEST', 'MINUTE', 2]])]);
    const child = await keyed(h, [model(h.slug())], { parent_group_id: parent.group.id });
    expect(await statuses(h, parent.key, 3)).toEqual([200, 200, 429]);
    expect(await statuses(h, child.key, 3)).toEqual([200, 200, 429]);
  });

  rule('CASCADING: siblings share the ancestor pool (the org/finance/engineering example, in requests)', ['inference'], async (h) => {
    const s = h.slug();
    const org = await keyed(h, [model(s, [['REQUEST', 'MINUTE', 10]])], { limit_enforcement: 'CASCADING' });
    const finance = await keyed(h, [model(s, [['REQUEST', 'MINUTE', 7]])], { parent_group_id: org.group.id });
    const engineering = await keyed(h, [model(s, [['REQUEST', 'MINUTE', 7]])], { parent_group_id: org.group.id });
    expect(await statuses(h, finance.key, 7)).toEqual(Array(7).fill(200));
    // engineering's own ceiling has 7 left, but the org has only 3.
    expect(await statuses(h, engineering.key, 4)).toEqual([200, 200, 200, 429]);
    // The org's own keys draw on the same exhausted pool.
    expect((await chat(h, org.key)).status).toBe(429);
  });

  rule('a daily usage limit gives 429 for the rest of the day, and usage shows the counters move', ['inference'], async (h) => {
    const { group, key } = await keyed(h, [model(h.slug(), [], [['REQUEST', 3]])]);
    const before = await h.api.get(`/v1/gateway/groups/${group.id}/usage`);
    h.expectBody(before.body, {
      customer_id: group.metadata.external_entity_id,
      usage: { [h.slug()]: [{ type: 'REQUEST', unit: 'DAY', threshold: 3, current_usage: null, reset_at: null }] },
    });
    expect(await statuses(h, key, 4)).toEqual([200, 200, 200, 429]);
    const after = await h.api.get(`/v1/gateway/groups/${group.id}/usage`);
    const entry = after.body.usage[h.slug()][0];
    expect(entry.current_usage).toBe(3);
    expect(isRfc3339Utc(entry.reset_at), `reset_at ${entry.reset_at} is a UTC timestamp`).toBe(true);
    const reset = new Date(entry.reset_at.toUpperCase());
    expect(reset.getUTCHours() + reset.getUTCMinutes() + reset.getUTCSeconds()).toBe(0);
    expect(reset.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  rule('TOKEN usage counts prompt plus completion tokens', ['inference'], async (h) => {
    const { group, key } = await keyed(h, [model(h.slug(), [], [['TOKEN', 1_000_000]])]);
    let total = 0;
    for (let i = 0; i < 3; i++) total += (await chat(h, key)).body.usage.total_tokens;
    const usage = await h.api.get(`/v1/gateway/groups/${group.id}/usage`);
    expect(usage.body.usage[h.slug()][0].current_usage).toBe(total);
  });

  rule('CASCADING: a child’s traffic shows in its ancestor’s usage', ['inference'], async (h) => {
    const s = h.slug();
    const root = await h.group({ models: [model(s, [], [['REQUEST', 100]])], hierarchy: { limit_enforcement: 'CASCADING' } });
    const child = await keyed(h, [model(s, [], [['REQUEST', 50]])], { parent_group_id: root.id });
    await statuses(h, child.key, 2);
    const rootUsage = (await h.api.get(`/v1/gateway/groups/${root.id}/usage`)).body.usage[s];
    expect(rootUsage).toEqual([expect.objectContaining({ threshold: 100, current_usage: 2 })]);
    // How the child's entries show the shared counters is the mock's choice (#17).
    const childUsage = (await h.api.get(`/v1/gateway/groups/${child.group.id}/usage`)).body.usage[s];
    h.expectOrObserve(childUsage.length === 2 && childUsage.every((e: any) => e.current_usage === 2), `a CASCADING child's usage shows ${JSON.stringify(childUsage)} where the mock shows both limits at 2 (AMBIGUITIES.md #17)`);
  });

  rule('a group without usage limits reports an empty usage object', [], async (h) => {
    const g = await h.group({ models: [model(h.slug(), [['REQUEST', 'MINUTE', 5]])] });
    const res = await h.api.get(`/v1/gateway/groups/${g.id}/usage`);
    h.expectBody(res.body, { customer_id: g.metadata.external_entity_id, usage: {} });
    expect(Object.keys(res.body.usage)).toEqual([]);
  });

  rule('a rolling MINUTE window lets traffic through again after a minute', ['inference', 'clock'], async (h) => {
    const { key } = await keyed(h, [model(h.slug(), [['REQUEST', 'MINUTE', 1]])]);
    expect(await statuses(h, key, 2)).toEqual([200, 429]);
    await h.advanceClock(61);
    expect(await statuses(h, key, 2)).toEqual([200, 429]);
  });

  rule('daily usage resets at midnight UTC', ['inference', 'clock'], async (h) => {
    const { group, key } = await keyed(h, [model(h.slug(), [], [['REQUEST', 1]])]);
    expect(await statuses(h, key, 2)).toEqual([200, 429]);
    const refused = await chat(h, key);
    const entry = (await h.api.get(`/v1/gateway/groups/${group.id}/usage`)).body.usage[h.slug()][0];
    const untilMidnight = (Date.parse(entry.reset_at) - Date.parse((await request(h.api.baseUrl).get('/_mock/clock')).body.now)) / 1000;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(Math.floor(untilMidnight) - 2);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(Math.ceil(untilMidnight) + 2);
    await h.advanceClock(untilMidnight + 1);
    const fresh = (await h.api.get(`/v1/gateway/groups/${group.id}/usage`)).body.usage[h.slug()][0];
    expect(fresh).toMatchObject({ current_usage: null, reset_at: null });
    expect(await statuses(h, key, 2)).toEqual([200, 429]);
    const next = (await h.api.get(`/v1/gateway/groups/${group.id}/usage`)).body.usage[h.slug()][0];
    expect(Date.parse(next.reset_at) - Date.parse(entry.reset_at)).toBe(86_400_000);
  });
});

describe('Billing webhooks', () => {
  rule('one signed API_BILLING_USAGE event per request with every documented field', ['inference', 'webhook-inbox'], async (h) => {
    const { group, key, prefix } = await keyed(h, [model(h.slug())]);
    const res = await chat(h, key, { metadata: { order_id: 'ord-42' } });
    const requestId = res.headers['x-request-id'];
    const log = await request(h.api.baseUrl).get('/_mock/webhooks');
    const delivery = log.body.deliveries.find((d: any) => d.payload.data.events.some((e: any) => e.requestId === requestId));
    expect(delivery, 'a delivery for the request').toBeDefined();
    const event = delivery.payload.data.events[0];
    expect(delivery.payload.type).toBe('API_BILLING_USAGE');
    expect(event).toMatchObject({
      requestId,
      modelSlug: h.slug(),
      externalEntityId: group.metadata.external_entity_id,
      externalCustomerId: group.metadata.external_entity_id,
      apiKeyPrefix: prefix,
      requestMetadata: { order_id: 'ord-42' },
      tokens: { inputTokens: res.body.usage.prompt_tokens, outputTokens: res.body.usage.completion_tokens, cachedInputTokens: 0 },
    });
    expect(typeof event.idempotencyKey).toBe('string');
    expect(Number.isNaN(Date.parse(event.timestamp))).toBe(false);
    const secret = process.env.FGW_WEBHOOK_SECRET ?? 'mock-webhook-secret';
    expect(verifySignature(JSON.stringify(delivery.payload), delivery.signature, secret)).toBe(true);
  });
});
