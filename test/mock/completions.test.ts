import OpenAIv6 from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import OpenAIv7 from 'openai-v7';
import { zodFunction as zodFunctionV7, zodResponseFormat as zodResponseFormatV7 } from 'openai-v7/helpers/zod';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ContractChecker } from '../../src/contract.js';
import type { StartOptions } from '../../src/index.js';
import { newAjv } from '../../src/lib/ajv.js';
import { errorMessage } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';
import { receiverPerFile } from '../support/receiver.js';

/**
 * Completions that honour the request, through the official OpenAI SDK (v6, and v7 under
 * the alias openai-v7): tool calls, streamed and not, whose arguments validate against the
 * function's parameters; json_schema content valid against its schema; the follow-up with
 * the tool's result; cached tokens the same in the response, the billing webhook and
 * GET /v1/gateway/events; cached tokens counted toward TOKEN limits. Every JSON response
 * is held to the strict spec.
 */

const MANAGEMENT = { Authorization: 'Api-Key mock-management-key' };
const mocks = mocksPerTest();
const ajv = newAjv();
let checker: ContractChecker;
const rx = receiverPerFile();
beforeAll(async () => {
  checker = await ContractChecker.load(true);
});

const MODEL = 'your-org/m';
const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 1 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'object', properties: { day: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['day'], additionalProperties: false } },
      },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  },
};
const TIME = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } } };
const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 3 },
    address: { type: 'object', properties: { street: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' } }, required: ['street', 'zip'], additionalProperties: false },
  },
  required: ['name', 'age', 'address'],
  additionalProperties: false,
};

async function setup(options: StartOptions = {}, models: unknown[] = [{ slug: MODEL }]) {
  const m = await mocks.start(options);
  const api = request(m.url);
  const g = await api.post('/v1/gateway/groups').set(MANAGEMENT).send({ metadata: { external_entity_id: `c-${Math.random()}` }, models, hierarchy: {} });
  expect(g.status, g.text).toBe(200);
  const k = await api.post(`/v1/gateway/groups/${g.body.id}/api_keys`).set(MANAGEMENT).send({});
  return { m, api, groupId: g.body.id as string, apiKey: k.body.api_key as string };
}

/** Holds a JSON chat response to the strict spec. */
function conforms(res: request.Response) {
  const problems = checker.check({ method: 'post', path: '/v1/chat/completions', status: res.status, contentType: res.headers['content-type'], body: res.body });
  expect(problems, res.text).toEqual([]);
}

const SDKS = [
  ['openai v6', OpenAIv6],
  ['openai v7', OpenAIv7],
] as const;

// The SDKs' own structured-output helpers: zod schemas converted to draft-07 JSON Schema ("$schema" included; v6 writes a
// tuple as items: [...], v7 refuses tuples itself).
const ZOD_HELPERS = [
  ['openai v6', OpenAIv6, zodResponseFormat, zodFunction, true],
  ['openai v7', OpenAIv7, zodResponseFormatV7, zodFunctionV7, false],
] as const;

describe.each(ZOD_HELPERS)('%s: zodResponseFormat and zodFunction through chat.completions.parse', (_name, OpenAI, responseFormat, fn, tuples) => {
  const base = z.object({ name: z.string(), age: z.number().int().min(0).max(120), tags: z.array(z.enum(['a', 'b'])), nick: z.string().nullable() });
  const Person = tuples ? base.extend({ pair: z.tuple([z.string(), z.number()]) }) : base;
  const Weather = z.object({ city: z.string(), unit: z.enum(['celsius', 'fahrenheit']) });

  it('the parsed message and the parsed tool arguments fit the zod schemas', async () => {
    const { m, apiKey } = await setup();
    const openai = new OpenAI({ apiKey, baseURL: `${m.url}/v1`, maxRetries: 0 }) as unknown as OpenAIv6;
    const format = (responseFormat as typeof zodResponseFormat)(Person, 'person');
    expect(format.json_schema.schema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#' });
    const structured = await openai.chat.completions.parse({ model: MODEL, messages: [{ role: 'user', content: 'Make up a person' }], response_format: format });
    const person = structured.choices[0]!.message.parsed;
    expect(person).not.toBeNull();
    expect(Person.parse(person)).toEqual(person);
    if (tuples) expect((person as unknown as { pair: unknown[] }).pair).toHaveLength(2);

    const tool = (fn as typeof zodFunction)({ name: 'get_weather', parameters: Weather });
    const called = await openai.chat.completions.parse({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [tool], tool_choice: 'required' });
    const call = called.choices[0]!.message.tool_calls![0]!;
    expect(call.function.name).toBe('get_weather');
    expect(Weather.parse(call.function.parsed_arguments)).toEqual(call.function.parsed_arguments);
  });
});

describe.each(SDKS)('%s against the mock', (_name, OpenAI) => {
  // Typed as v6: the two versions' chat APIs are the same shape, but a union of their overloads is not callable.
  const client = (url: string, apiKey: string) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 }) as unknown as OpenAIv6;

  it('a tools request gets a tool call whose arguments validate; the tool result gets text', async () => {
    const { m, apiKey } = await setup();
    const openai = client(m.url, apiKey);
    const messages = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];
    const res = await openai.chat.completions.create({ model: MODEL, messages, tools: [TIME, WEATHER], tool_choice: 'auto' });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    // "weather" is not a tool's name; get_weather is not in the text either, so the first tool... unless named:
    expect(call.function.name).toBe('get_time');
    const again = await openai.chat.completions.create({ model: MODEL, messages, tools: [TIME, WEATHER], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const named = again.choices[0]!.message.tool_calls![0]!;
    if (named.type !== 'function') throw new Error('not a function call');
    expect(named.function.name).toBe('get_weather');
    const args = JSON.parse(named.function.arguments);
    expect(ajv.validate(WEATHER.function.parameters, args), ajv.errorsText()).toBe(true);
    // Usage counts the call's name and arguments.
    expect(again.usage!.completion_tokens).toBeGreaterThan(0);
    expect(again.usage!.total_tokens).toBe(again.usage!.prompt_tokens + again.usage!.completion_tokens);

    const followUp = await openai.chat.completions.create({
      model: MODEL,
      tools: [TIME, WEATHER],
      messages: [...messages, { role: 'assistant', content: null, tool_calls: [named] }, { role: 'tool', tool_call_id: named.id, content: '18 degrees and sunny' }],
    });
    expect(followUp.choices[0]!.finish_reason).toBe('stop');
    expect(followUp.choices[0]!.message.content).toBe('Echo: 18 degrees and sunny');
  });

  it('a streamed tool call accumulates, through the SDK’s stream helper, into arguments that validate', async () => {
    const { m, apiKey } = await setup();
    const openai = client(m.url, apiKey);
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Use get_weather for Oslo' }], tools: [TIME, WEATHER], tool_choice: 'required' as const };
    const done: string[] = [];
    const runner = openai.chat.completions.stream({ ...body, stream_options: { include_usage: true } }).on('tool_calls.function.arguments.done', (e) => done.push(e.arguments));
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(ajv.validate(WEATHER.function.parameters, JSON.parse(call.function.arguments)), ajv.errorsText()).toBe(true);
    expect(done).toEqual([call.function.arguments]);
    // The same request not streamed: the same call (deterministic), the same usage.
    const plain = await openai.chat.completions.create(body);
    const same = plain.choices[0]!.message.tool_calls![0]!;
    if (same.type !== 'function') throw new Error('not a function call');
    expect(same.id).toBe(call.id);
    expect(same.function.arguments).toBe(call.function.arguments);
    expect(final.usage).toMatchObject({ prompt_tokens: plain.usage!.prompt_tokens, completion_tokens: plain.usage!.completion_tokens });
  });

  it('a json_schema request gets content that parses and validates; n choices differ; seed changes it', async () => {
    const { m, apiKey } = await setup();
    const openai = client(m.url, apiKey);
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Make up a person' }], response_format: { type: 'json_schema' as const, json_schema: { name: 'person', schema: PERSON, strict: true } }, n: 3 };
    const res = await openai.chat.completions.create(body);
    expect(res.choices).toHaveLength(3);
    const contents = res.choices.map((c) => c.message.content!);
    for (const c of contents) expect(ajv.validate(PERSON, JSON.parse(c)), ajv.errorsText()).toBe(true);
    expect(new Set(contents).size).toBeGreaterThan(1);
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const again = await openai.chat.completions.create(body);
    expect(again.choices.map((c) => c.message.content)).toEqual(contents);
    const seeded = await openai.chat.completions.create({ ...body, seed: 7 });
    expect(seeded.choices.map((c) => c.message.content)).not.toEqual(contents);
    expect((await openai.chat.completions.create({ ...body, seed: 7 })).choices.map((c) => c.message.content)).toEqual(seeded.choices.map((c) => c.message.content));
  });

  it('an unsatisfiable or invalid schema is a 400 naming response_format.json_schema.schema, seen by the SDK', async () => {
    const { m, apiKey } = await setup();
    const openai = client(m.url, apiKey);
    const impossible = { type: 'object', properties: { x: { type: 'integer', minimum: 5, maximum: 1 } }, required: ['x'] };
    const err = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: impossible } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toContain('response_format.json_schema.schema');
    const invalid = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } } })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((invalid as Error).message)).toContain('response_format.json_schema.schema is not a valid JSON Schema');
  });
});

describe('the chat route over HTTP, held to the strict spec', () => {
  it('JSON: tool_calls with content null; stop cuts the content; n above 8 is a 400', async () => {
    const { api, apiKey } = await setup();
    const auth = { Authorization: `Bearer ${apiKey}` };
    const tools = await api.post('/v1/chat/completions').set(auth).send({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], tools: [WEATHER], tool_choice: 'required' });
    expect(tools.status, tools.text).toBe(200);
    conforms(tools);
    expect(tools.body.choices[0].message).toMatchObject({ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather' } }] });
    expect(tools.body.choices[0].message.tool_calls[0].id).toMatch(/^call_[0-9a-f]{16}$/);

    const stopped = await api.post('/v1/chat/completions').set(auth).send({ model: MODEL, messages: [{ role: 'user', content: 'one, two, three' }], stop: [', three', 'two'] });
    conforms(stopped);
    // Cut before "two", the earlier stop string; trailing white space goes, as a stream's pieces would lose it.
    expect(stopped.body.choices[0]).toMatchObject({ message: { content: 'Echo: one,' }, finish_reason: 'stop' });
    expect(stopped.body.usage).toMatchObject({ completion_tokens: 4, prompt_tokens_details: { cached_tokens: 0 } });

    const tooMany = await api.post('/v1/chat/completions').set(auth).send({ model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 9 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers['x-fgw-error-param']).toBe('n');
  });

  it('a schema whose minimums multiply past the instance bound (1000 arrays of 1000) is a 400 naming the path, refused before generating', async () => {
    const { api, apiKey } = await setup();
    const auth = { Authorization: `Bearer ${apiKey}` };
    const grid = { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'integer' } } };
    const res = await api.post('/v1/chat/completions').set(auth).send({ model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 8, response_format: { type: 'json_schema', json_schema: { name: 'grid', schema: grid } } });
    expect(res.status, res.text).toBe(400);
    conforms(res);
    expect(res.headers['x-fgw-error-param']).toBe('response_format.json_schema.schema');
    expect(errorMessage(res.body)).toContain('asks for at least 1000000 items or characters along /items');
    expect(errorMessage(res.body)).toContain('refused before generating');
  });

  it('SSE: per choice a role chunk, tool-call deltas (id, type and name first, then argument pieces) and a finish chunk', async () => {
    const { api, apiKey } = await setup();
    const res = await api
      .post('/v1/chat/completions')
      .set('Authorization', `Bearer ${apiKey}`)
      .send({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], tools: [WEATHER], tool_choice: 'required', n: 2, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const chunks = res.text
      .split('\n\n')
      .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
      .map((l) => JSON.parse(l.slice(6)));
    for (const index of [0, 1]) {
      const mine = chunks.filter((c) => c.choices[0]?.index === index).map((c) => c.choices[0]);
      expect(mine[0].delta).toEqual({ role: 'assistant', content: null });
      const first = mine[1].delta.tool_calls[0];
      expect(first).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
      expect(first.id).toMatch(/^call_/);
      const pieces = mine.slice(2, -1).map((c) => c.delta.tool_calls[0]);
      for (const p of pieces) expect(Object.keys(p).sort()).toEqual(['function', 'index']);
      expect(ajv.validate(WEATHER.function.parameters, JSON.parse(pieces.map((p) => p.function.arguments).join(''))), ajv.errorsText()).toBe(true);
      expect(mine.at(-1).finish_reason).toBe('tool_calls');
    }
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
  });
});

describe('cached tokens', () => {
  const SYSTEM = { role: 'system', content: 'You are a careful assistant. '.repeat(10) };
  /** Prompt tokens of [SYSTEM]: 3 + (3 + 6 × 10): `You` `are` `a` `careful` `assistant` `.` ten times. */
  const SYSTEM_TOKENS = 3 + 3 + 60;

  it('the longest prefix the group sent within the window is cached: the same number in usage, the webhook and the events API', async () => {
    rx.bodies.length = 0;
    const { m, api, apiKey } = await setup({ webhook: { url: rx.url }, inference: { promptCache: { minTokens: 20, windowSeconds: 300 } } });
    const openai = new OpenAIv6({ apiKey, baseURL: `${m.url}/v1`, maxRetries: 0 });
    const start = m.mock.clock.now();
    const first = await openai.chat.completions.create({ model: MODEL, messages: [SYSTEM as never, { role: 'user', content: 'first question' }] });
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    const second = await openai.chat.completions.create({ model: MODEL, messages: [SYSTEM as never, { role: 'user', content: 'second question' }] });
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBe(SYSTEM_TOKENS);
    // The whole prompt again: all of it cached.
    const repeat = await openai.chat.completions.create({ model: MODEL, messages: [SYSTEM as never, { role: 'user', content: 'second question' }] });
    expect(repeat.usage!.prompt_tokens_details!.cached_tokens).toBe(repeat.usage!.prompt_tokens);
    // Past the window (mock time), nothing is cached.
    expect((await api.post('/_mock/clock').send({ advance_seconds: 301 })).status).toBe(200);
    const later = await openai.chat.completions.create({ model: MODEL, messages: [SYSTEM as never, { role: 'user', content: 'second question' }] });
    expect(later.usage!.prompt_tokens_details!.cached_tokens).toBe(0);

    await m.mock.deliverer.idle();
    const billed = rx.bodies.flatMap((b) => JSON.parse(b).data.events).map((e: { tokens: { inputTokens: number; cachedInputTokens: number } }) => e.tokens);
    const expected = [0, SYSTEM_TOKENS, repeat.usage!.prompt_tokens, 0];
    expect(billed.map((t) => t.cachedInputTokens)).toEqual(expected);
    expect(billed.map((t) => t.inputTokens)).toEqual([first, second, repeat, later].map((r) => r.usage!.prompt_tokens));

    expect((await api.post('/_mock/clock').send({ advance_seconds: 120 })).status).toBe(200);
    const events = await api.get('/v1/gateway/events').query({ start_time: new Date(start).toISOString() }).set(MANAGEMENT);
    expect(events.status, events.text).toBe(200);
    expect(events.body.items.map((e: { tokens: { cachedInputTokens: number } }) => e.tokens.cachedInputTokens)).toEqual(expected);
  });

  it('another group sharing the prompt gets no cached tokens; by default (1024) a short prompt never does', async () => {
    const a = await setup({ inference: { promptCache: { minTokens: 0 } } });
    const ask = (apiKey: string) =>
      a.api.post('/v1/chat/completions').set('Authorization', `Bearer ${apiKey}`).send({ model: MODEL, messages: [SYSTEM, { role: 'user', content: 'q' }] });
    expect((await ask(a.apiKey)).body.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect((await ask(a.apiKey)).body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    const g2 = await a.api.post('/v1/gateway/groups').set(MANAGEMENT).send({ metadata: { external_entity_id: 'other' }, models: [{ slug: MODEL }], hierarchy: {} });
    const k2 = await a.api.post(`/v1/gateway/groups/${g2.body.id}/api_keys`).set(MANAGEMENT).send({});
    expect((await ask(k2.body.api_key)).body.usage.prompt_tokens_details.cached_tokens).toBe(0);

    const d = await setup();
    const again = () => d.api.post('/v1/chat/completions').set('Authorization', `Bearer ${d.apiKey}`).send({ model: MODEL, messages: [SYSTEM, { role: 'user', content: 'q' }] });
    await again();
    expect((await again()).body.usage.prompt_tokens_details.cached_tokens).toBe(0);
  });

  it('cached tokens count at full weight toward TOKEN limits (or not at all with cachedTokenWeight none)', async () => {
    for (const weight of ['full', 'none'] as const) {
      const s = await setup({ inference: { promptCache: { minTokens: 0 }, cachedTokenWeight: weight } }, [{ slug: MODEL, usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 1_000_000 }] }]);
      const ask = () => s.api.post('/v1/chat/completions').set('Authorization', `Bearer ${s.apiKey}`).send({ model: MODEL, messages: [SYSTEM, { role: 'user', content: 'q' }] });
      const one = (await ask()).body.usage;
      const two = (await ask()).body.usage;
      expect(two.prompt_tokens_details.cached_tokens).toBe(two.prompt_tokens);
      const usage = await s.api.get(`/v1/gateway/groups/${s.groupId}/usage`).set(MANAGEMENT);
      const token = usage.body.usage[MODEL].find((e: { type: string }) => e.type === 'TOKEN');
      const charged = one.total_tokens + two.total_tokens - (weight === 'none' ? two.prompt_tokens_details.cached_tokens : 0);
      expect(token.current_usage, weight).toBe(charged);
    }
  });
});
