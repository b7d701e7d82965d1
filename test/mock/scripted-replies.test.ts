import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import OpenAIv7, { APIError as APIErrorV7 } from 'openai-v7';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/domain/tokens.js';
import { parseCli } from '../../src/cli-options.js';
import { startMock, type RunningMock } from '../../src/index.js';
import { errorOf } from '../support/errors.js';
import { mockPerFile, mocksPerTest } from '../support/mocks.js';

/**
 * Scripted replies (docs/guide.md, "Scripted replies"; AMBIGUITIES.md #98-#103) seen
 * through the official OpenAI SDK: rules from the admin route, startMock({ replies }) and
 * scenarios, the one-off X-Fgw-Mock-Reply header, and where they show (journal,
 * inspector, X-Fgw-Scripted-Reply, billing).
 */

const file = mockPerFile();
const { start } = mocksPerTest();
const auth = { Authorization: 'Api-Key mock-management-key' };
const MODEL = 'meta/llama';
let apiKey: string;
let groupId: string;

const sdk = (maxRetries = 0, url = file.mock.url, key = apiKey) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries });
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user' as const, content }], ...extra });
const WEATHER_TOOL = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

/** A new group allowed MODEL on the mock at `url`, and a federated key of it. */
async function groupWithKey(url: string, externalId: string) {
  const body = { metadata: { external_entity_id: externalId }, models: [{ slug: MODEL }], hierarchy: { limit_enforcement: 'INDEPENDENT' } };
  const id = (await request(url).post('/v1/gateway/groups').set(auth).send(body)).body.id as string;
  return { groupId: id, apiKey: (await request(url).post(`/v1/gateway/groups/${id}/api_keys`).set(auth).send({})).body.api_key as string };
}
const keyOn = async (m: RunningMock) => (await groupWithKey(m.url, 'c1')).apiKey;

/** POST /_mock/replies, its answer held to the admin spec. */
async function addReplies(body: unknown, query = '', url = file.mock.url) {
  const res = await request(url).post(`/_mock/replies${query}`).send(body as object);
  expect(file.checker.check({ method: 'post', path: '/_mock/replies', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res;
}

const listed = async (url = file.mock.url) => {
  const res = await request(url).get('/_mock/replies');
  expect(file.checker.check({ method: 'get', path: '/_mock/replies', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
  return res.body.replies as { id: string; hits: number; remaining: number | null; match: object; reply: object }[];
};

/** The chat entries of the journal, oldest first: [status, scripted]. */
const chatEntries = async () =>
  (await request(file.mock.url).get('/_mock/requests?operation=createChatCompletion')).body.entries.reverse().map((e: any) => [e.status, e.scripted]);

const billed = async (url = file.mock.url) =>
  (await request(url).get('/_mock/webhooks')).body.deliveries.flatMap((d: any) => d.payload.data.events.map((e: any) => ({ requestId: e.requestId, tokens: e.tokens })));

beforeEach(async () => {
  file.mock.reset();
  await request(file.mock.url).delete('/_mock/requests');
  ({ groupId, apiKey } = await groupWithKey(file.mock.url, 'scripted-customer'));
});

describe('a scripted content reply', () => {
  it('answers instead of the echo, charged and billed from the scripted text, named in the header, the journal and the inspector', async () => {
    const added = await addReplies({ id: 'sunny', match: { message_contains: 'weather' }, reply: { content: 'It is sunny in Paris, 21 °C.', cached_tokens: 4 } });
    expect(added.status).toBe(201);
    expect(added.body.replies).toEqual([{ id: 'sunny', match: { message_contains: 'weather' }, reply: { content: 'It is sunny in Paris, 21 °C.', cached_tokens: 4 }, times: null, hits: 0, remaining: null }]);

    const { data, response } = await sdk().chat.completions.create(ask('How is the weather today?')).withResponse();
    expect(data.choices[0]?.message.content).toBe('It is sunny in Paris, 21 °C.');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(response.headers.get('x-fgw-scripted-reply')).toBe('sunny');
    const completionTokens = countTokens('It is sunny in Paris, 21 °C.');
    expect(data.usage).toMatchObject({ completion_tokens: completionTokens, prompt_tokens_details: { cached_tokens: 4 } });
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + completionTokens);

    // Not matching: the echo as always, no header.
    const plain = await sdk().chat.completions.create(ask('Hello')).withResponse();
    expect(plain.data.choices[0]?.message.content).toBe('Echo: Hello');
    expect(plain.response.headers.get('x-fgw-scripted-reply')).toBeNull();

    expect(await chatEntries()).toEqual([
      [200, 'sunny'],
      [200, null],
    ]);
    const events = await billed();
    expect(events[0]?.tokens).toEqual({ inputTokens: data.usage?.prompt_tokens, outputTokens: completionTokens, cachedInputTokens: 4 });
    const inspector = (await request(file.mock.url).get('/_mock/inspector.json')).body;
    expect(inspector.replies).toEqual([{ id: 'sunny', match: { message_contains: 'weather' }, reply: { content: 'It is sunny in Paris, 21 °C.', cached_tokens: 4 }, times: null, hits: 1, remaining: null }]);
  });

  it('max_tokens cuts scripted content as it cuts any completion', async () => {
    await addReplies({ reply: { content: 'one two three four five' } });
    const c = await sdk().chat.completions.create(ask('x', { max_tokens: 2 }));
    expect([c.choices[0]?.message.content, c.choices[0]?.finish_reason, c.usage?.completion_tokens]).toEqual(['one two', 'length', 2]);
  });

  it('n repeats the reply in each choice and stop cuts it, with the same bounds as any completion', async () => {
    await addReplies({ reply: { content: 'alpha. beta. gamma' } });
    const c = await sdk().chat.completions.create(ask('x', { n: 2, stop: ['. g'] }));
    expect(c.choices.map((ch) => [ch.index, ch.message.content, ch.finish_reason])).toEqual([
      [0, 'alpha. beta', 'stop'],
      [1, 'alpha. beta', 'stop'],
    ]);
    expect(c.usage?.completion_tokens).toBe(2 * countTokens('alpha. beta'));
    const tooMany = (await sdk().chat.completions.create(ask('x', { n: 9 })).catch((e: unknown) => e)) as APIError;
    expect([tooMany.status, tooMany.message]).toEqual([400, expect.stringMatching(/n must be a whole number from 1 to 8/)]);
  });

  it('streamed: the scripted text arrives in token deltas', async () => {
    await addReplies({ reply: { content: 'Streamed, as scripted.' } });
    const stream = await sdk().chat.completions.create({ ...ask('x'), stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Streamed, as scripted.');
    expect(usage).toMatchObject({ completion_tokens: countTokens('Streamed, as scripted.') });
  });
});

describe('a scripted tool call', () => {
  const rule = { id: 'weather-tool', match: { has_tools: true }, reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } };

  it('non-streamed: finish_reason tool_calls, arguments as JSON text, usage counts name and arguments', async () => {
    await addReplies(rule);
    const c = await sdk().chat.completions.create(ask('Weather in Paris?', { tools: [WEATHER_TOOL] }));
    const choice = c.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    expect(call && 'function' in call ? [call.function.name, JSON.parse(call.function.arguments)] : undefined).toEqual(['get_weather', { city: 'Paris' }]);
    expect(call?.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(c.usage?.completion_tokens).toBe(countTokens('get_weather') + countTokens('{"city":"Paris"}'));
    // Without tools the rule does not match.
    expect((await sdk().chat.completions.create(ask('Weather in Paris?'))).choices[0]?.message.content).toBe('Echo: Weather in Paris?');
  });

  it('streamed: the SDK assembles the same call from its deltas', async () => {
    await addReplies(rule);
    const runner = sdk().chat.completions.stream(ask('Weather in Paris?', { tools: [WEATHER_TOOL] }) as Parameters<OpenAI['chat']['completions']['stream']>[0]);
    const final = await runner.finalChatCompletion();
    const choice = final.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls?.[0];
    expect(call && 'function' in call ? [call.function.name, JSON.parse(call.function.arguments)] : undefined).toEqual(['get_weather', { city: 'Paris' }]);
  });
});

describe('a scripted error', () => {
  it('is seen by the SDK as APIError 503 (maxRetries 0), and is neither charged nor billed', async () => {
    await addReplies({ id: 'outage', reply: { error: { status: 503, message: 'The model is overloaded.', code: 'overloaded' } } });
    const err = await sdk(0).chat.completions.create(ask('hi')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(503);
    expect((err as APIError).message).toContain('The model is overloaded.');
    expect((err as APIError).headers?.get('x-fgw-scripted-reply')).toBe('outage');
    expect((err as APIError).headers?.get('x-fgw-error-code')).toBe('overloaded');
    expect(await billed()).toEqual([]);
    const usage = (await request(file.mock.url).get(`/v1/gateway/groups/${groupId}/usage`).set(auth)).body;
    expect(JSON.stringify(usage)).not.toMatch(/"current_usage":[1-9]/);
    expect(await chatEntries()).toEqual([[503, 'outage']]);
  });

  it('times: 1 with the SDK default retries: the 503 is retried and the second attempt succeeds', async () => {
    await addReplies({ id: 'blip', reply: { error: { status: 503, message: 'Blip.' } }, times: 1 });
    const c = await sdk(2).chat.completions.create(ask('hi'));
    expect(c.choices[0]?.message.content).toBe('Echo: hi');
    expect(await chatEntries()).toEqual([
      [503, 'blip'],
      [200, null],
    ]);
    expect((await listed())[0]).toMatchObject({ id: 'blip', hits: 1, remaining: 0 });
  });

  it('any status 400..599 with the mock error form: 429 is a RateLimitError', async () => {
    await addReplies({ reply: { error: { status: 429, message: 'Slow down.' } } });
    const err = (await sdk(0).chat.completions.create(ask('hi')).catch((e: unknown) => e)) as APIError;
    expect([err.constructor.name, err.status]).toEqual(['RateLimitError', 429]);
  });
});

describe('with openai v7 too', () => {
  it('a scripted tool call, streamed, and a scripted 503 (maxRetries 0), then a times: 1 blip retried away', async () => {
    const v7 = (maxRetries: number) => new OpenAIv7({ apiKey, baseURL: `${file.mock.url}/v1`, maxRetries });
    await addReplies([
      { id: 'down', match: { message_contains: 'down' }, reply: { error: { status: 503, message: 'Down.' } } },
      { id: 'blip', match: { message_contains: 'blip' }, reply: { error: { status: 503, message: 'Blip.' } }, times: 1 },
      { id: 'tool', match: { has_tools: true }, reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] } },
    ]);
    const runner = v7(0).chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'weather?' }], tools: [WEATHER_TOOL] });
    const call = (await runner.finalChatCompletion()).choices[0]?.message.tool_calls?.[0];
    expect(call && 'function' in call ? [call.function.name, JSON.parse(call.function.arguments)] : undefined).toEqual(['get_weather', { city: 'Oslo' }]);
    const err = await v7(0).chat.completions.create(ask('down')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIErrorV7);
    expect((err as APIErrorV7).status).toBe(503);
    expect((await v7(2).chat.completions.create(ask('blip'))).choices[0]?.message.content).toBe('Echo: blip');
  });
});

describe('rule order, times, latency', () => {
  it('first match wins, in order; position puts a rule first', async () => {
    await addReplies([
      { id: 'specific', match: { message_matches: '/^order #\\d+$/i' }, reply: { content: 'specific' } },
      { id: 'general', match: { model: 'meta/*' }, reply: { content: 'general' } },
    ]);
    const say = async (text: string) => (await sdk().chat.completions.create(ask(text))).choices[0]?.message.content;
    expect([await say('Order #42'), await say('something else')]).toEqual(['specific', 'general']);
    await addReplies({ id: 'first', match: { group: 'scripted-customer' }, reply: { content: 'first' } }, '?position=0');
    expect((await listed()).map((r) => r.id)).toEqual(['first', 'specific', 'general']);
    expect(await say('Order #42')).toBe('first');
    expect((await listed()).map((r) => [r.id, r.hits])).toEqual([
      ['first', 1],
      ['specific', 1],
      ['general', 1],
    ]);
  });

  it('times: a rule answers its first N matches, then the next rule (or the echo) does', async () => {
    await addReplies([{ id: 'twice', reply: { content: 'scripted' }, times: 2 }]);
    const said = [];
    for (let i = 0; i < 3; i++) said.push((await sdk().chat.completions.create(ask('hi'))).choices[0]?.message.content);
    expect(said).toEqual(['scripted', 'scripted', 'Echo: hi']);
    expect((await listed())[0]).toMatchObject({ hits: 2, remaining: 0, times: 2 });
  });

  it('times is not used up by a request refused with a 400: its bounds and metadata are checked before any rule is picked', async () => {
    await addReplies([
      { id: 'outage', match: { message_contains: 'down' }, reply: { error: { status: 503, message: 'Down.' } }, times: 1 },
      { id: 'once', reply: { content: 'scripted once' }, times: 1 },
    ]);
    const refused = async (extra: Record<string, unknown>, text = 'hi') =>
      ((await sdk().chat.completions.create(ask(text, extra)).catch((e: unknown) => e)) as APIError).status;
    const deep = JSON.parse(`${'{"a":'.repeat(20)}1${'}'.repeat(20)}`) as Record<string, unknown>;
    for (const extra of [{ n: 99 }, { stop: ['a', 'b', 'c', 'd', 'e'] }, { max_tokens: 100_000 }, { metadata: deep }]) {
      expect(await refused(extra), JSON.stringify(extra).slice(0, 40)).toBe(400);
      // A scripted error does not skip the request's own checks either.
      expect(await refused(extra, 'down'), JSON.stringify(extra).slice(0, 40)).toBe(400);
    }
    expect((await listed()).map((r) => [r.id, r.hits, r.remaining])).toEqual([
      ['outage', 0, 1],
      ['once', 0, 1],
    ]);
    expect(((await sdk().chat.completions.create(ask('down')).catch((e: unknown) => e)) as APIError).status).toBe(503);
    expect((await sdk().chat.completions.create(ask('hi'))).choices[0]?.message.content).toBe('scripted once');
    expect((await listed()).map((r) => [r.id, r.hits, r.remaining])).toEqual([
      ['outage', 1, 0],
      ['once', 1, 0],
    ]);
  });

  it('times is not used up by a request refused with a 429; a scripted error still wins over the 429 and counts', async () => {
    const body = { metadata: { external_entity_id: 'limited' }, models: [{ slug: MODEL, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 1 }] }], hierarchy: { limit_enforcement: 'INDEPENDENT' } };
    const id = (await request(file.mock.url).post('/v1/gateway/groups').set(auth).send(body)).body.id as string;
    const key = (await request(file.mock.url).post(`/v1/gateway/groups/${id}/api_keys`).set(auth).send({})).body.api_key as string;
    // The echo uses up the group's one request this minute.
    expect((await sdk(0, file.mock.url, key).chat.completions.create(ask('hi'))).choices[0]?.message.content).toBe('Echo: hi');
    await addReplies([
      { id: 'outage', match: { message_contains: 'down' }, reply: { error: { status: 503, message: 'Down.' } }, times: 1 },
      { id: 'once', match: { group: id }, reply: { content: 'scripted once' }, times: 1 },
    ]);
    const limited = await sdk(0, file.mock.url, key).chat.completions.create(ask('hi')).withResponse().catch((e: unknown) => e as APIError);
    expect((limited as APIError).status).toBe(429);
    expect((limited as APIError).headers?.get('x-fgw-scripted-reply')).toBeNull();
    const outage = (await sdk(0, file.mock.url, key).chat.completions.create(ask('down')).catch((e: unknown) => e)) as APIError;
    expect([outage.status, outage.headers?.get('x-fgw-scripted-reply')]).toEqual([503, 'outage']);
    expect((await listed()).map((r) => [r.id, r.hits, r.remaining])).toEqual([
      ['outage', 1, 0],
      ['once', 0, 1],
    ]);
    // Another caller, not limited, gets the rule the 429 left unused.
    expect((await sdk().chat.completions.create(ask('hi'))).choices[0]?.message.content).toBe('Echo: hi');
    await request(file.mock.url).delete('/_mock/replies').expect(200);
    await addReplies({ id: 'once', reply: { content: 'scripted once' }, times: 1 });
    expect(((await sdk(0, file.mock.url, key).chat.completions.create(ask('hi')).catch((e: unknown) => e)) as APIError).status).toBe(429);
    expect((await sdk().chat.completions.create(ask('hi'))).choices[0]?.message.content).toBe('scripted once');
    expect((await listed())[0]).toMatchObject({ hits: 1, remaining: 0 });
    expect(await chatEntries()).toEqual([
      [200, null],
      [429, null],
      [503, 'outage'],
      [200, null],
      [429, null],
      [200, 'once'],
    ]);
  });

  it('latency_ms: the reply waits that long', async () => {
    await addReplies({ reply: { content: 'slow', latency_ms: 150 } });
    const t0 = performance.now();
    expect((await sdk().chat.completions.create(ask('hi'))).choices[0]?.message.content).toBe('slow');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await request(file.mock.url).delete('/_mock/replies').expect(200);
    await addReplies({ reply: { error: { status: 500, message: 'slow failure' }, latency_ms: 100 } });
    const t1 = performance.now();
    expect(((await sdk(0).chat.completions.create(ask('hi')).catch((e: unknown) => e)) as APIError).status).toBe(500);
    expect(performance.now() - t1).toBeGreaterThanOrEqual(90);
  });

  it('key_prefix and group match the caller', async () => {
    const prefix = apiKey.slice(0, 16);
    await addReplies([
      { match: { key_prefix: 'sky_nobody' }, reply: { content: 'not me' } },
      { match: { key_prefix: prefix, group: groupId }, reply: { content: 'me' } },
    ]);
    expect((await sdk().chat.completions.create(ask('hi'))).choices[0]?.message.content).toBe('me');
  });
});

describe('the X-Fgw-Mock-Reply header', () => {
  const withHeader = (value: string, extra: Record<string, unknown> = {}) => sdk(0).chat.completions.create(ask('hi', extra), { headers: { 'X-Fgw-Mock-Reply': value } });

  it('a one-off reply: content, tool calls or an error; before any rule', async () => {
    await addReplies({ reply: { content: 'from a rule' } });
    const { data, response } = await withHeader('{"content":"from the header"}').withResponse();
    expect(data.choices[0]?.message.content).toBe('from the header');
    expect(response.headers.get('x-fgw-scripted-reply')).toBe('header');
    const tool = await withHeader(JSON.stringify({ tool_calls: [{ name: 'lookup', arguments: '{"id":7}' }] }));
    const call = tool.choices[0]?.message.tool_calls?.[0];
    expect(call && 'function' in call ? call.function : undefined).toEqual({ name: 'lookup', arguments: '{"id":7}' });
    const err = (await withHeader('{"error":{"status":503,"message":"down for a test"}}').catch((e: unknown) => e)) as APIError;
    expect([err.status, err.message]).toEqual([503, expect.stringContaining('down for a test')]);
    expect(await chatEntries()).toEqual([
      [200, 'header'],
      [200, 'header'],
      [503, 'header'],
    ]);
    // The header takes no rule's turn.
    expect((await listed())[0]?.hits).toBe(0);
  });

  it('an invalid header is a 400 naming it; too large too; on other routes it is ignored', async () => {
    const chat = (value: string) => request(file.mock.url).post('/v1/chat/completions').set('Authorization', `Bearer ${apiKey}`).set('X-Fgw-Mock-Reply', value).send(ask('hi'));
    for (const [value, message, param] of [
      ['not json', /X-Fgw-Mock-Reply must be a JSON reply such as \{"content":"hi"\}/, 'X-Fgw-Mock-Reply'],
      ['{"content":"a","error":{"status":500,"message":"b"}}', /X-Fgw-Mock-Reply must have exactly one of content, tool_calls or error/, 'X-Fgw-Mock-Reply'],
      ['{"error":{"status":200,"message":"b"}}', /X-Fgw-Mock-Reply\.error\.status must be a whole number from 400 to 599/, 'X-Fgw-Mock-Reply.error.status'],
      [JSON.stringify({ content: 'x'.repeat(9 * 1024) }), /X-Fgw-Mock-Reply is \d+ bytes; at most 8192/, 'X-Fgw-Mock-Reply'],
    ] as const) {
      const res = await chat(value);
      expect(res.status, value.slice(0, 40)).toBe(400);
      const e = errorOf(res);
      expect(e.message).toMatch(message);
      expect([e.code, e.param]).toEqual(['invalid_reply_header', param]);
    }
    expect(await billed()).toEqual([]);
    const models = await request(file.mock.url).get('/v1/models').set('Authorization', `Bearer ${apiKey}`).set('X-Fgw-Mock-Reply', 'not json');
    expect(models.status).toBe(200);
  });

  it('--no-reply-header (inference.replyHeader: false) ignores it, as the live service does', async () => {
    const m = await start({ inference: { replyHeader: false } });
    const key = await keyOn(m);
    const { data, response } = await sdk(0, m.url, key).chat.completions.create(ask('hi'), { headers: { 'X-Fgw-Mock-Reply': 'not even json' } }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Echo: hi');
    expect(response.headers.get('x-fgw-scripted-reply')).toBeNull();
  });

  it('on the command line: --no-reply-header or FGW_NO_REPLY_HEADER=1; honoured by default', () => {
    const replyHeader = (argv: string[], env: Record<string, string> = {}) => {
      const parsed = parseCli(argv, env);
      return typeof parsed === 'string' ? parsed : parsed.options.inference?.replyHeader;
    };
    expect([replyHeader([]), replyHeader(['--no-reply-header']), replyHeader([], { FGW_NO_REPLY_HEADER: '1' })]).toEqual([true, false, false]);
  });
});

describe('the admin route refuses what it cannot serve, with a message that says why', () => {
  const refused = async (body: unknown, status: number, message: RegExp, param?: string, query = '') => {
    const res = await addReplies(body, query);
    expect(res.status, JSON.stringify(body)).toBe(status);
    const e = errorOf(res);
    expect(e.message).toMatch(message);
    if (param !== undefined) expect(e.param).toBe(param);
  };

  it('each problem is a 400 naming the field; nothing of a refused list is added', async () => {
    await refused({ match: { message_contains: 'x' } }, 400, /reply/);
    await refused({ reply: {} }, 400, /reply must have exactly one of content, tool_calls or error/, 'reply');
    await refused({ reply: { content: 'a', tool_calls: [{ name: 'f' }] } }, 400, /it has content and tool_calls/);
    await refused({ reply: { content: 'a' }, match: { colour: 'red' } }, 400, /colour/);
    await refused({ id: 'has space', reply: { content: 'a' } }, 400, /^id must be 1 to 64 letters, digits/, 'id');
    await refused([{ reply: { content: 'a' } }, { reply: { contnt: 'x' } }], 400, /^\[1\]\.reply\.contnt is not a known field/, '[1].reply.contnt');
    await refused({ reply: { tool_calls: [{ name: 'bad name' }] } }, 400, /must be a function name/, 'reply.tool_calls[0].name');
    await refused({ reply: { content: 'a' }, match: { message_matches: '(unclosed' } }, 400, /match\.message_matches is not a valid regular expression/, 'match.message_matches');
    await refused({ reply: { content: 'a' }, match: { message_matches: '(a+)+$' } }, 400, /match\.message_matches is refused: a repeated group that holds a repetition/, 'match.message_matches');
    await refused({ reply: { tool_calls: [{ name: 'f', arguments: '{not json' }] } }, 400, /reply\.tool_calls\[0\]\.arguments is not JSON text/, 'reply.tool_calls[0].arguments');
    await refused({ reply: { error: { status: 200, message: 'ok?' } } }, 400, /status/);
    await refused({ reply: { error: { status: 503, message: 'x' }, cached_tokens: 3 } }, 400, /an error reply is not charged/);
    await refused([{ id: 'a', reply: { content: 'a' } }, { id: 'a', reply: { content: 'b' } }], 400, /^\[1\]\.id "a" is already the id of a rule/, '[1].id');
    await refused({ reply: { content: 'a' } }, 400, /position must be from 0 to 0/, 'position', '?position=1');
    await refused([], 400, /^The request body must hold at least one rule, not an empty list\.$/);
    await refused(Array.from({ length: 1001 }, () => ({ reply: { content: 'a' } })), 400, /^The request body must hold at most 1000 rules\.$/);
    expect(await listed()).toEqual([]);
  });

  it('remove one (404 for an unknown id), clear all', async () => {
    await addReplies([{ id: 'a', reply: { content: 'a' } }, { reply: { content: 'b' } }]);
    const removed = await request(file.mock.url).delete('/_mock/replies/a');
    expect([removed.status, removed.body.id]).toEqual([200, 'a']);
    const missing = await request(file.mock.url).delete('/_mock/replies/a');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).message).toMatch(/No reply rule a; GET \/_mock\/replies lists them/);
    expect((await listed()).map((r) => r.id)).toEqual(['reply_1']);
    await request(file.mock.url).delete('/_mock/replies').expect(200);
    expect(await listed()).toEqual([]);
  });
});

describe('where rules come from', () => {
  const hello = (m: RunningMock, key: string, text = 'hi') => sdk(0, m.url, key).chat.completions.create(ask(text));

  it('startMock({ replies }): active at start, and POST /_mock/reset goes back to them with their counts at zero', async () => {
    const m = await start({ replies: [{ id: 'boot', reply: { content: 'from startMock' }, times: 1 }] });
    const key = await keyOn(m);
    expect((await hello(m, key)).choices[0]?.message.content).toBe('from startMock');
    await addReplies({ id: 'later', reply: { content: 'added later' } }, '', m.url);
    expect((await listed(m.url)).map((r) => [r.id, r.remaining])).toEqual([
      ['boot', 0],
      ['later', null],
    ]);
    await request(m.url).post('/_mock/reset').expect(200);
    expect((await listed(m.url)).map((r) => [r.id, r.hits, r.remaining])).toEqual([['boot', 0, 1]]);
    // mock.mock.replies is the list itself, for a test that scripts without HTTP.
    m.mock.replies.add([{ id: 'direct', reply: { content: 'added in process' } }], 0);
    expect((await hello(m, await keyOn(m))).choices[0]?.message.content).toBe('added in process');
  });

  it('startMock refuses an invalid rule, saying which and why', async () => {
    const err = await startMock({ replies: [{ reply: { content: 'ok' } }, { reply: { error: { status: 700, message: 'x' } } }] }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/replies\[1\]\.reply\.error\.status must be a whole number from 400 to 599/);
  });

  it('a scenario loaded at run time adds its replies (a local group name matches that group); a bad one loads nothing', async () => {
    const scenario = {
      workspaces: [{ id: 'workspace-a' }],
      groups: [{ name: 'agent-team', models: [{ slug: 'acme/agent' }], keys: [{ api_key: 'sky_agentteam001.AgentTeamScenarioSecret01' }] }],
      replies: [{ id: 'team-tool', match: { group: 'agent-team', has_tools: true }, reply: { tool_calls: [{ name: 'search', arguments: { q: 'docs' } }] } }],
    };
    const res = await request(file.mock.url).post('/_mock/scenarios').send(scenario);
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('replies');
    const teamId = res.body.groups[0].id;
    expect(await listed()).toEqual([expect.objectContaining({ id: 'team-tool', match: { group: teamId, has_tools: true } })]);
    const c = await sdk(0, file.mock.url, 'sky_agentteam001.AgentTeamScenarioSecret01').chat.completions.create({ model: 'acme/agent', messages: [{ role: 'user', content: 'find the docs' }], tools: [WEATHER_TOOL] });
    expect(c.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'search', arguments: '{"q":"docs"}' } });

    // An id already active, or a bad rule: 400, and neither the groups nor the rules are loaded.
    const again = await request(file.mock.url)
      .post('/_mock/scenarios')
      .send({ ...scenario, groups: [{ ...scenario.groups[0], name: 'agent-team-2', keys: [] }] });
    expect(again.status).toBe(400);
    expect(errorOf(again).message).toMatch(/replies\[0\]\.id "team-tool" is already the id of a rule/);
    const bad = await request(file.mock.url)
      .post('/_mock/scenarios')
      .send({ groups: [{ name: 'x', workspace: 'workspace-a', models: [{ slug: 'acme/agent' }] }], replies: [{ reply: { content: 'a' }, match: { message_matches: '(\\w+\\s?)*$' } }] });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).message).toMatch(/Scenario refused, nothing was loaded: .*replies\[0\]\.match\.message_matches is refused/);
    const groups = (await request(file.mock.url).get('/v1/gateway/groups?external_entity_id=x').set(auth)).body.items;
    expect(groups).toEqual([]);
    expect((await listed()).map((r) => r.id)).toEqual(['team-tool']);
  });

  it('the shipped saas-tiers scenario scripts a tool call for Acme and an outage drill, through the SDK', async () => {
    const m = await start({ scenarios: ['saas-tiers'] });
    const acme = sdk(0, m.url, 'sky_acmeprod0001.AcmeProTierProductionSecret1');
    const c = await acme.chat.completions.create({ model: 'saas-co/chat-large', messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [WEATHER_TOOL] });
    const call = c.choices[0]?.message.tool_calls?.[0];
    expect(call && 'function' in call ? [call.function.name, JSON.parse(call.function.arguments)] : undefined).toEqual(['get_weather', { city: 'Paris', unit: 'celsius' }]);
    // Globex asks the same: the rule is Acme's alone.
    const globex = await sdk(0, m.url, 'sky_globex000001.GlobexProTierSecret000000001')
      .chat.completions.create({ model: 'saas-co/chat-large', messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [WEATHER_TOOL] })
      .withResponse();
    expect(globex.response.headers.get('x-fgw-scripted-reply')).toBeNull();
    expect((await listed(m.url)).map((r) => [r.id, r.hits])).toEqual([
      ['acme-weather-tool', 1],
      ['free-tier-outage-drill', 0],
    ]);
    const err = (await sdk(0, m.url, 'sky_hobbyist0001.HobbyistFreeTierSecret0001')
      .chat.completions.create({ model: 'saas-co/chat-small', messages: [{ role: 'user', content: 'hello #outage' }] })
      .catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(503);
    // Start-up scenario rules survive a reset.
    await request(m.url).post('/_mock/reset').expect(200);
    expect((await listed(m.url)).map((r) => r.id)).toEqual(['acme-weather-tool', 'free-tier-outage-drill']);
  });
});

describe('the conformance suite is unaffected', () => {
  it('never scripts a reply: no admin route, header or scenario section of this feature appears in it', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk('test/conformance');
    expect(files.length).toBeGreaterThan(5);
    const using = files.filter((f) => /_mock\/replies|X-Fgw-Mock-Reply|x-fgw-mock-reply|scripted/i.test(readFileSync(f, 'utf8')));
    expect(using).toEqual([]);
  });
});
