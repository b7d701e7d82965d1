import { beforeAll, describe, expect, it } from 'vitest';
import { choiceTokens, complete, textChoice, usageOf, type CompletionChoice } from '../../src/domain/completion.js';
import { GatewayError } from '../../src/domain/errors.js';
import { cachedTokensOf, DEFAULT_PROMPT_CACHE, promptPrefixes } from '../../src/domain/prompt-cache.js';
import { cutAtStop, isPlain, MAX_CHOICES, needsSchemaTools, replyFor, toolToCall, type ReplyRequest } from '../../src/domain/replies.js';
import { countTokens, promptTokens } from '../../src/domain/tokens.js';
import { newAjv, newAjvOfDraft } from '../../src/lib/ajv.js';
import { loadSchemaTools, MAX_INSTANCE_CHARS, MAX_SCHEMA_MINIMUM, type SchemaTools } from '../../src/lib/schema-tools.js';
import { PromptCache } from '../../src/store/prompt-cache.js';

const ajv = newAjv();
let schemas: SchemaTools;
beforeAll(async () => {
  schemas = await loadSchemaTools();
});

const user = (content: string) => ({ role: 'user', content });
const reply = (body: Omit<ReplyRequest, 'model'>, maxTokens: number | null = null, cached = 0) =>
  replyFor({ model: 'a/b', ...body }, maxTokens, { tokens: promptTokens(body.messages), cached }, schemas);
/** The GatewayError `fn` throws (fails when it throws none). */
function errorOf(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a GatewayError');
}

const SCHEMAS: Record<string, Record<string, unknown>> = {
  flat: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false },
  nested: {
    type: 'object',
    properties: { user: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, roles: { type: 'array', items: { enum: ['admin', 'viewer'] }, minItems: 1 } }, required: ['id', 'roles'] } },
    required: ['user'],
  },
  arrayOfObjects: { type: 'array', minItems: 2, maxItems: 4, items: { type: 'object', properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2}$' }, qty: { type: 'integer', minimum: 1 } }, required: ['sku', 'qty'] } },
  enumsAndConst: { type: 'object', properties: { kind: { const: 'order' }, state: { enum: ['open', 'closed'] }, at: { type: 'string', format: 'date-time' }, mail: { type: 'string', format: 'email' } }, required: ['kind', 'state', 'at', 'mail'] },
  refs: { $defs: { node: { type: 'object', properties: { v: { type: 'integer' } }, required: ['v'] } }, type: 'object', properties: { left: { $ref: '#/$defs/node' }, right: { $ref: '#/$defs/node' } }, required: ['left', 'right'] },
};

describe('the completion shape: choices and usage', () => {
  it('textChoice cuts to max tokens with finish_reason length, pieces concatenating to the content', () => {
    expect(textChoice('Echo: one two three', null)).toEqual({ pieces: ['Echo', ':', ' one', ' two', ' three'], content: 'Echo: one two three', toolCalls: [], finishReason: 'stop' });
    expect(textChoice('Echo: one two three', 3)).toMatchObject({ content: 'Echo: one', finishReason: 'length' });
    expect(textChoice('Echo: one', 3).finishReason).toBe('stop');
  });

  it('usage: the prompt once, completion tokens summed over choices, tool calls counted by name and arguments, cached clamped to the prompt', () => {
    const call: CompletionChoice = { pieces: [], content: null, toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], finishReason: 'tool_calls' };
    expect(choiceTokens(call)).toBe(countTokens('get_weather') + countTokens('{"city":"Paris"}'));
    expect(countTokens('{"city":"Paris"}')).toBe(9);
    expect(countTokens('get_weather')).toBe(3);
    const text = textChoice('Echo: hi', null);
    expect(usageOf(10, [text, call], 4)).toEqual({ prompt_tokens: 10, completion_tokens: 3 + 3 + 9, total_tokens: 25, cached_tokens: 4 });
    expect(usageOf(10, [text], 99).cached_tokens).toBe(10);
    expect(usageOf(10, [text], -3).cached_tokens).toBe(0);
  });

  it('the echo answers the latest user or tool message', () => {
    expect(complete([user('q'), { role: 'assistant', content: null }, { role: 'tool', content: 'result 42' }], null).choices[0]!.content).toBe('Echo: result 42');
    expect(complete([{ role: 'tool', content: 'old' }, user('new')], null).choices[0]!.content).toBe('Echo: new');
  });
});

describe('replies that honour the request', () => {
  it('plain requests stay on the echo path and need no schema tools', () => {
    const plain: ReplyRequest = { model: 'a/b', messages: [user('x')] };
    expect(isPlain(plain)).toBe(true);
    expect(isPlain({ ...plain, n: 1, stop: [], response_format: { type: 'text' }, tools: [] })).toBe(true);
    expect(isPlain({ ...plain, n: 2 })).toBe(false);
    expect(needsSchemaTools({ ...plain, response_format: { type: 'json_object' } })).toBe(false);
    expect(needsSchemaTools({ ...plain, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' })).toBe(false);
    expect(needsSchemaTools({ ...plain, tools: [{ type: 'function', function: { name: 'f' } }] })).toBe(true);
  });

  it.each(Object.entries(SCHEMAS))('json_schema %s: content parses, validates, and is the same for the same request', (name, schema) => {
    const body = { messages: [user('go')], response_format: { type: 'json_schema' as const, json_schema: { name, schema } } };
    const a = reply(body);
    const value = JSON.parse(a.choices[0]!.content!);
    expect(ajv.validate(schema, value), ajv.errorsText()).toBe(true);
    expect(reply(body)).toEqual(a);
    expect(a.usage.completion_tokens).toBe(countTokens(a.choices[0]!.content!));
  });

  it('seed varies the instance (same seed, same instance); n choices differ and sum their tokens', () => {
    const body = { messages: [user('go')], response_format: { type: 'json_schema' as const, json_schema: { name: 'n', schema: SCHEMAS.nested! } } };
    const seeded = (seed: number) => reply({ ...body, seed }).choices[0]!.content;
    expect(seeded(1)).toBe(seeded(1));
    expect(new Set([seeded(1), seeded(2), seeded(3), seeded(4)]).size).toBeGreaterThan(1);
    const three = reply({ ...body, n: 3 });
    expect(three.choices).toHaveLength(3);
    expect(three.usage.completion_tokens).toBe(three.choices.reduce((s, c) => s + countTokens(c.content!), 0));
    expect(three.usage.total_tokens).toBe(three.usage.prompt_tokens + three.usage.completion_tokens);
    expect(errorOf(() => reply({ ...body, n: MAX_CHOICES + 1 })).param).toBe('n');
  });

  it('json_object: a small object carrying the echo', () => {
    expect(JSON.parse(reply({ messages: [user('hello there')], response_format: { type: 'json_object' } }).choices[0]!.content!)).toEqual({ echo: 'Echo: hello there' });
  });

  it('stop cuts before the earliest stop string; at most 4, none empty', () => {
    expect(cutAtStop('a b c d', ['c', ' b'])).toBe('a');
    expect(cutAtStop('a b c d', ['x'])).toBe('a b c d');
    const r = reply({ messages: [user('alpha beta gamma')], stop: 'gamma' });
    expect(r.choices[0]).toMatchObject({ content: 'Echo: alpha beta', finishReason: 'stop' });
    expect(r.usage.completion_tokens).toBe(4);
    // max tokens cut first when the stop string lies beyond them.
    expect(reply({ messages: [user('alpha beta gamma')], stop: 'gamma' }, 2).choices[0]).toMatchObject({ content: 'Echo:', finishReason: 'length' });
    expect(errorOf(() => reply({ messages: [user('x')], stop: ['a', 'b', 'c', 'd', 'e'] })).param).toBe('stop');
    expect(errorOf(() => reply({ messages: [user('x')], stop: [''] })).param).toBe('stop');
  });

  const tools = [
    { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } } },
    { type: 'function' as const, function: { name: 'lookup_order', parameters: SCHEMAS.nested } },
    { type: 'function' as const, function: { name: 'ping' } },
  ];

  it('tool_choice: auto calls after a user message (the tool named in it, else the first), text after a tool or assistant message; none never; required and named always', () => {
    const ask = (messages: { role: string; content: string | null }[], tool_choice?: ReplyRequest['tool_choice']) => toolToCall({ model: 'a/b', messages, tools, ...(tool_choice !== undefined ? { tool_choice } : {}) })?.tool.function.name ?? null;
    expect(ask([user('what time is it')])).toBe('get_time');
    expect(ask([user('please LOOKUP_ORDER 7')])).toBe('lookup_order');
    expect(ask([user('x'), { role: 'assistant', content: 'y' }])).toBeNull();
    expect(ask([user('x'), { role: 'assistant', content: 'y' }], 'required')).toBe('get_time');
    expect(ask([user('x')], 'none')).toBeNull();
    expect(ask([user('x')], { type: 'function', function: { name: 'ping' } })).toBe('ping');
    expect(ask([user('x'), { role: 'assistant', content: null }, { role: 'tool', content: 'done' }], 'required')).toBeNull();
    expect(errorOf(() => ask([user('x')], { type: 'function', function: { name: 'nope' } })).param).toBe('tool_choice');
  });

  it('a tool call: arguments valid against the parameters, finish_reason tool_calls, a stable id, usage counting name and arguments', () => {
    const body = { messages: [user('lookup_order please')], tools, tool_choice: 'required' as const };
    const r = reply(body);
    const c = r.choices[0]!;
    expect(c).toMatchObject({ content: null, pieces: [], finishReason: 'tool_calls' });
    expect(c.toolCalls).toHaveLength(1);
    const call = c.toolCalls[0]!;
    expect(call.name).toBe('lookup_order');
    expect(call.id).toMatch(/^call_[0-9a-f]{16}$/);
    expect(ajv.validate(SCHEMAS.nested!, JSON.parse(call.arguments)), ajv.errorsText()).toBe(true);
    expect(r.usage.completion_tokens).toBe(countTokens('lookup_order') + countTokens(call.arguments));
    expect(reply(body)).toEqual(r);
    // No parameters: an empty object.
    expect(reply({ messages: [user('ping')], tools, tool_choice: { type: 'function', function: { name: 'ping' } } }).choices[0]!.toolCalls[0]!.arguments).toBe('{}');
  });

  it('a schema the generator cannot satisfy, an invalid one, or one asking too much is a 400 naming its field', () => {
    const fmt = (schema: Record<string, unknown>) => ({ messages: [user('x')], response_format: { type: 'json_schema' as const, json_schema: { name: 's', schema } } });
    const unsat = errorOf(() => reply(fmt({ type: 'object', properties: { x: { type: 'string', minLength: 5, maxLength: 2 } }, required: ['x'] })));
    expect(unsat).toMatchObject({ kind: 'invalid_request', code: 'unsatisfiable_schema', param: 'response_format.json_schema.schema' });
    expect(unsat.message).toContain('cannot be satisfied');
    expect(errorOf(() => reply(fmt({ type: 'nope' }))).message).toContain('is not a valid JSON Schema');
    expect(errorOf(() => reply(fmt({ type: 'array', minItems: MAX_SCHEMA_MINIMUM + 1 }))).message).toContain(`at most ${MAX_SCHEMA_MINIMUM}`);
    expect(errorOf(() => reply(fmt({ $ref: 'https://example.com/remote.json' }))).param).toBe('response_format.json_schema.schema');
    const badTool = errorOf(() => reply({ messages: [user('x')], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'integer', minimum: 3, maximum: 1 } } }], tool_choice: 'required' }));
    expect(badTool.param).toBe('tools[0].function.parameters');
    // Hostile schemas: a recursive $ref, nothing valid, an instance too large.
    for (const schema of [{ $ref: '#' }, { not: {} }, { type: 'string', pattern: 'a{100000}' }, { $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' }]) {
      expect(errorOf(() => reply(fmt(schema))).code, JSON.stringify(schema)).toBe('unsatisfiable_schema');
    }
    // The same $id twice: users' schemas are not kept by ajv between requests.
    const withId = fmt({ $id: 'https://example.com/p', type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] });
    expect(reply(withId)).toEqual(reply(withId));
  });
});

describe('users\' schemas: drafts, bounds before generating, nothing kept', () => {
  const fmt = (schema: Record<string, unknown>) => ({ messages: [user('x')], response_format: { type: 'json_schema' as const, json_schema: { name: 's', schema } } });
  const content = (schema: Record<string, unknown>) => JSON.parse(reply(fmt(schema)).choices[0]!.content!) as unknown;

  it('$schema draft-07 (what the OpenAI SDK\'s zod helpers send, tuples as items: [...]) and 2019-09 are read in their own draft; an unknown one is a 400 naming it', () => {
    const draft07 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { pair: { type: 'array', minItems: 2, maxItems: 2, items: [{ type: 'string' }, { type: 'integer' }] }, more: { type: 'array', items: [{ const: 1 }], additionalItems: { type: 'boolean' }, minItems: 3 } },
      required: ['pair', 'more'],
      additionalProperties: false,
    };
    const value = content(draft07) as { pair: unknown[]; more: unknown[] };
    expect(newAjvOfDraft('draft-07').validate(draft07, value)).toBe(true);
    expect(typeof value.pair[0]).toBe('string');
    expect(Number.isInteger(value.pair[1])).toBe(true);
    expect(value.more[0]).toBe(1);
    expect(value.more.slice(1).every((b) => typeof b === 'boolean')).toBe(true);
    const draft2019 = { $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], unevaluatedProperties: false };
    expect(newAjvOfDraft('2019-09').validate(draft2019, content(draft2019))).toBe(true);
    const tool = reply({ messages: [user('x')], tools: [{ type: 'function', function: { name: 'f', parameters: { ...draft07, $schema: 'http://json-schema.org/draft-07/schema' } } }], tool_choice: 'required' });
    expect(newAjvOfDraft('draft-07').validate(draft07, JSON.parse(tool.choices[0]!.toolCalls[0]!.arguments))).toBe(true);
    const unknown = errorOf(() => reply(fmt({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' })));
    expect(unknown).toMatchObject({ code: 'unsatisfiable_schema', param: 'response_format.json_schema.schema' });
    expect(unknown.message).toContain('names $schema "http://json-schema.org/draft-04/schema#"');
  });

  it('minimums that multiply down a path past the instance bound are a 400 naming the path, before anything is generated (also through a $ref)', () => {
    const grid = errorOf(() => reply(fmt({ type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'integer' } } })));
    expect(grid).toMatchObject({ code: 'unsatisfiable_schema', param: 'response_format.json_schema.schema' });
    expect(grid.message).toContain(`asks for at least 1000000 items or characters along /items`);
    expect(grid.message).toContain(`over the ${MAX_INSTANCE_CHARS} characters`);
    const viaRef = errorOf(() => reply(fmt({ $defs: { row: { type: 'array', minItems: 100, items: { type: 'string', minLength: 100 } } }, type: 'object', properties: { rows: { type: 'array', minItems: 100, items: { $ref: '#/$defs/row' } } } })));
    expect(viaRef.message).toContain('asks for at least 1000000 items or characters along /$defs/row/items');
    expect(errorOf(() => reply(fmt({ type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000 } } } } } }))).message).toContain('asks for at least 1000000 items or characters along /items/items/items/items');
    const strings = errorOf(() => reply(fmt({ type: 'array', minItems: 100, items: { type: 'string', minLength: 1000 } })));
    expect(strings.message).toContain('asks for at least 100000 items or characters along /items');
    // Within the bound but generated over 64 KiB, and not valid either: refused at the first seed, not generated four times.
    const big = errorOf(() => reply(fmt({ type: 'array', minItems: 256, items: { type: 'array', minItems: 256, items: { type: 'integer' } }, contains: { const: 'never' } })));
    expect(big.message).toContain(`the mock generates at most ${MAX_INSTANCE_CHARS}`);
    // Within the bound, and a $ref cycle, still generate.
    expect((content({ type: 'array', minItems: 200, items: { type: 'array', minItems: 2, items: { type: 'integer' } } }) as unknown[]).length).toBeGreaterThanOrEqual(200);
    expect(content({ $defs: { n: { type: 'object', properties: { next: { $ref: '#/$defs/n' } } } }, $ref: '#/$defs/n' })).toBeTypeOf('object');
  });

  it('schemas with nested $ids leave nothing in ajv: its refs are the same size after many', () => {
    const draft07 = (i: number) => ({ messages: [user('x')], tools: [{ type: 'function' as const, function: { name: 'f', parameters: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { a: { $id: `https://example.com/d7-${i}`, type: 'integer' } } } } }], tool_choice: 'required' as const });
    reply(draft07(-1)); // makes draft-07's instance, with its meta-schemas, if no test did
    const before = schemas.heldRefs();
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 50; i += 1) {
      const nested = { $id: `https://example.com/nested-${i}`, type: 'object', properties: { v: { type: 'integer' } }, required: ['v'] };
      reply(fmt({ $id: `https://example.com/root-${i}`, type: 'object', properties: { a: nested, b: { $id: `https://example.com/other-${i}`, type: 'string' } }, required: ['a', 'b'] }));
      reply(draft07(i));
    }
    expect(schemas.heldRefs()).toBe(before);
    // A nested $id seen before, now with another schema: not "resolves to more than one schema".
    expect(content({ type: 'object', properties: { a: { $id: 'https://example.com/nested-0', type: 'integer' } }, required: ['a'] })).toEqual({ a: expect.any(Number) });
    expect(schemas.heldRefs()).toBe(before);
  });

  it('a schema naming a property __proto__ is a 400 naming the field, never an instance that does not fit (both libraries would drop the property)', () => {
    for (const text of ['{"type":"object","properties":{"__proto__":{"type":"integer"}},"required":["__proto__"]}', '{"type":"object","required":["__proto__"]}', '{"type":"object","properties":{"a":{"properties":{"__proto__":{"const":1}}}}}']) {
      const e = errorOf(() => reply(fmt(JSON.parse(text) as Record<string, unknown>)));
      expect(e, text).toMatchObject({ code: 'unsatisfiable_schema', param: 'response_format.json_schema.schema' });
      expect(e.message).toContain('names a property __proto__');
    }
    // The name as a mere value is fine.
    expect(content({ type: 'string', enum: ['__proto__'] })).toBe('__proto__');
  });
});

describe('cached tokens: the prompt-prefix rule', () => {
  const sys = { role: 'system', content: 'Be brief. '.repeat(5) };
  const rule = { minTokens: 0, windowMs: 1000 };

  it('prefix tokens follow the prompt count; keys differ by scope and by any message', () => {
    const p = promptPrefixes('g1', [sys, user('hi')]);
    expect(p.tokens).toEqual([3 + 3 + 15, promptTokens([sys, user('hi')])]);
    expect(promptPrefixes('g1', [sys, user('hi')])).toEqual(p);
    expect(promptPrefixes('g2', [sys, user('hi')]).keys[0]).not.toBe(p.keys[0]);
    const other = promptPrefixes('g1', [sys, user('ho')]);
    expect(other.keys[0]).toBe(p.keys[0]);
    expect(other.keys[1]).not.toBe(p.keys[1]);
    expect(promptPrefixes('g1', [{ ...sys, role: 'user' }]).keys[0]).not.toBe(p.keys[0]);
    expect(promptPrefixes('g1', [sys, { role: 'assistant', content: null, tool_calls: [{ id: 'a' }] } as never]).keys[1]).not.toBe(promptPrefixes('g1', [sys, { role: 'assistant', content: null }]).keys[1]);
  });

  it('the longest prefix seen within the window counts, from the minimum on', () => {
    const cache = new PromptCache();
    const first = promptPrefixes('g', [sys, user('one')]);
    expect(cache.longest(first.keys, 0, rule.windowMs)).toBe(-1);
    cache.remember(first.keys, 0);
    const second = promptPrefixes('g', [sys, user('two')]);
    expect(cachedTokensOf(second, cache.longest(second.keys, 500, rule.windowMs), rule)).toBe(21);
    expect(cachedTokensOf(first, cache.longest(first.keys, 500, rule.windowMs), rule)).toBe(first.tokens[1]);
    expect(cache.longest(first.keys, 1001, rule.windowMs)).toBe(-1);
    // A clock moved back before the prefix was sent does not see it.
    expect(cache.longest(first.keys, -1, rule.windowMs)).toBe(-1);
    expect(cachedTokensOf(second, 0, { ...rule, minTokens: 22 })).toBe(0);
    expect(DEFAULT_PROMPT_CACHE).toEqual({ minTokens: 1024, windowMs: 300_000 });
  });

  it('the cache is bounded: the prefixes sent longest ago go first', () => {
    const cache = new PromptCache(3);
    cache.remember([1, 2], 0);
    cache.remember([3], 1);
    cache.remember([1], 2);
    cache.remember([4], 3);
    expect(cache.size).toBe(3);
    expect(cache.longest([2], 3, 10)).toBe(-1);
    expect(cache.longest([1], 3, 10)).toBe(0);
    expect(cache.longest([3], 3, 10)).toBe(0);
  });
});
