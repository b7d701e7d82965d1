import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { countTokens, promptTokens } from '../../src/domain/tokens.js';
import {
  backtrackingProblem,
  checkReply,
  checkRule,
  compilePattern,
  globMatches,
  matchesWithin,
  PatternTimeout,
  REPLY_BOUNDS,
  ReplyBook,
  replyFromHeader,
  requestFacts,
  scriptedCompletion,
  type RequestFacts,
} from '../../src/domain/scripted-replies.js';
import { refusal } from '../support/refusal.js';

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  model: 'acme/chat',
  groupId: 'grp_1',
  externalEntityId: 'customer-1',
  keyPrefix: 'sky_abcdefghijkl',
  lastUserMessage: 'What is the weather in Paris?',
  hasTools: false,
  ...over,
});


describe('checkReply', () => {
  it('takes exactly one of content, tool_calls or error', () => {
    expect(checkReply({ content: 'hi', latency_ms: 5, cached_tokens: 3 })).toEqual({ content: 'hi', latency_ms: 5, cached_tokens: 3 });
    expect(refusal(() => checkReply({})).message).toMatch(/exactly one of content, tool_calls or error/);
    expect(refusal(() => checkReply({ content: 'a', error: { status: 500, message: 'x' } })).message).toMatch(/it has content and error/);
    expect(refusal(() => checkReply('hi')).param).toBe('reply');
    expect(refusal(() => checkReply({ content: 'a', colour: 'red' })).message).toMatch(/unknown field "colour"/);
  });

  it('tool-call arguments: an object becomes its JSON text; JSON text is kept; anything else is refused', () => {
    expect(checkReply({ tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] }).tool_calls).toEqual([{ name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(checkReply({ tool_calls: [{ name: 'f', arguments: '{ "a": 1 }' }, { name: 'g' }] }).tool_calls).toEqual([
      { name: 'f', arguments: '{ "a": 1 }' },
      { name: 'g', arguments: '{}' },
    ]);
    expect(refusal(() => checkReply({ tool_calls: [{ name: 'f', arguments: '{a:1}' }] })).param).toBe('reply.tool_calls[0].arguments');
    expect(refusal(() => checkReply({ tool_calls: [{ name: 'f', arguments: '[1]' }] })).message).toMatch(/must be a JSON object/);
    expect(refusal(() => checkReply({ tool_calls: [{ name: 'no spaces', arguments: {} }] })).param).toBe('reply.tool_calls[0].name');
    expect(refusal(() => checkReply({ tool_calls: [] })).message).toMatch(/1 to 16 calls/);
    const big = 'x'.repeat(REPLY_BOUNDS.argumentsChars);
    expect(refusal(() => checkReply({ tool_calls: [{ name: 'f', arguments: { big } }] })).message).toMatch(/at most 65536/);
  });

  it('an error: status 400..599, a message, an optional code; no cached tokens', () => {
    expect(checkReply({ error: { status: 503, message: 'down', code: 'overloaded' } })).toEqual({ error: { status: 503, message: 'down', code: 'overloaded' } });
    expect(refusal(() => checkReply({ error: { status: 200, message: 'x' } })).param).toBe('reply.error.status');
    expect(refusal(() => checkReply({ error: { status: 600, message: 'x' } })).message).toMatch(/from 400 to 599/);
    expect(refusal(() => checkReply({ error: { status: 500 } })).param).toBe('reply.error.message');
    expect(refusal(() => checkReply({ error: { status: 500, message: 'x' }, cached_tokens: 1 })).message).toMatch(/not charged/);
  });

  it('latency is bounded', () => {
    expect(refusal(() => checkReply({ content: '', latency_ms: REPLY_BOUNDS.latencyMs + 1 })).param).toBe('reply.latency_ms');
    expect(refusal(() => checkReply({ content: '', latency_ms: 1.5 })).message).toMatch(/whole number/);
  });
});

describe('checkRule', () => {
  it('match fields are checked, unknown ones refused; times at least 1', () => {
    expect(checkRule({ match: { model: 'acme/*', has_tools: true }, reply: { content: 'x' }, times: 2 })).toEqual({
      match: { model: 'acme/*', has_tools: true },
      reply: { content: 'x' },
      times: 2,
    });
    expect(refusal(() => checkRule({ match: { modell: 'x' }, reply: { content: 'x' } })).message).toMatch(/unknown field "modell"/);
    expect(refusal(() => checkRule({ match: { has_tools: 'yes' }, reply: { content: 'x' } })).param).toBe('match.has_tools');
    expect(refusal(() => checkRule({ reply: { content: 'x' }, times: 0 })).param).toBe('times');
    expect(refusal(() => checkRule({ match: {} })).message).toMatch(/reply is required/);
    expect(refusal(() => checkRule({ id: 'has space', reply: { content: 'x' } })).param).toBe('id');
  });
});

describe('message_matches', () => {
  it('compiles once, with /pattern/flags for flags; an invalid one is a 400 naming the field', () => {
    expect(compilePattern('/paris/i').test('PARIS')).toBe(true);
    expect(compilePattern('weather in \\w+').test('the weather in Oslo')).toBe(true);
    expect(refusal(() => compilePattern('(unclosed')).message).toMatch(/not a valid regular expression/);
    expect(refusal(() => compilePattern('/x/g')).message).toMatch(/flags may be i, m, s and u/);
    expect(refusal(() => checkRule({ match: { message_matches: 'a'.repeat(257) }, reply: { content: '' } })).param).toBe('match.message_matches');
  });

  it('refuses nested quantifiers and backreferences, allows the common shapes', () => {
    for (const ok of ['^hello', 'a+b*c?', '(foo|bar)+', '(ab)+', '(a?b)+', '[(]+x*', 'x{2,3}(y)*', '\\(a+\\)+', '(a{1})+']) expect([ok, backtrackingProblem(ok)]).toEqual([ok, undefined]);
    for (const bad of ['(a+)+', '(\\w*\\s?)*$', '((ab)*c)+', '(a|b+){2,}', '(x)\\1', '(?<n>a)\\k<n>']) expect(backtrackingProblem(bad)).toBeDefined();
    expect(refusal(() => compilePattern('(a+)+$')).code).toBe('unsafe_pattern');
  });

  it('a run that backtracks too long is stopped by the time bound', () => {
    const t = performance.now();
    expect(() => matchesWithin(/^(a|aa)*$/, `${'a'.repeat(40)}!`, 30)).toThrow(PatternTimeout);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(matchesWithin(/par(is)?/i, 'to Paris')).toBe(true);
  });
});

describe('globMatches', () => {
  it('* is any run, ? one character, everything else literal; never exponential', () => {
    expect(globMatches('acme/*', 'acme/chat-v2')).toBe(true);
    expect(globMatches('acme/*', 'other/chat')).toBe(false);
    expect(globMatches('*/chat?', 'acme/chat2')).toBe(true);
    expect(globMatches('a.b/c', 'axb/c')).toBe(false);
    expect(globMatches('acme/chat', 'acme/chat-v2')).toBe(false);
    expect(globMatches('**', '')).toBe(true);
    expect(globMatches('a*b*c', 'aXbYc')).toBe(true);
    expect(globMatches('a*b*c', 'aXbY')).toBe(false);
    const t = performance.now();
    expect(globMatches(`${'*a'.repeat(100)}b`, 'a'.repeat(10_000))).toBe(false);
    expect(performance.now() - t).toBeLessThan(2_000);
  });
});

describe('ReplyBook', () => {
  it('first match wins, in order; every match field must hold', () => {
    const book = new ReplyBook();
    book.add([
      { id: 'tools', match: { has_tools: true }, reply: { content: 'tools' } },
      { id: 'paris', match: { message_contains: 'Paris', model: 'acme/*' }, reply: { content: 'paris' } },
      { id: 'catch-all', reply: { content: 'any' } },
    ]);
    expect(book.pick(facts())?.id).toBe('paris');
    expect(book.pick(facts({ hasTools: true }))?.id).toBe('tools');
    expect(book.pick(facts({ model: 'other/chat' }))?.id).toBe('catch-all');
    expect(book.list().map((r) => [r.id, r.hits])).toEqual([
      ['tools', 1],
      ['paris', 1],
      ['catch-all', 1],
    ]);
  });

  it('group matches the id or the external entity id; key_prefix is a prefix of the key prefix', () => {
    const book = new ReplyBook();
    book.add([{ id: 'g', match: { group: 'customer-1', key_prefix: 'sky_abc' }, reply: { content: 'g' } }]);
    expect(book.pick(facts())?.id).toBe('g');
    expect(book.pick(facts({ externalEntityId: 'customer-2' }))).toBeUndefined();
    const byId = new ReplyBook();
    byId.add([{ match: { group: 'grp_1' }, reply: { content: 'g' } }]);
    expect(byId.pick(facts({ externalEntityId: null }))?.id).toBe('reply_1');
    expect(book.pick(facts({ keyPrefix: 'sky_zzzzzzzzzzzz' }))).toBeUndefined();
  });

  it('times: answers the first N matches, then stays listed used up and matches nothing', () => {
    const book = new ReplyBook();
    book.add([{ id: 'twice', reply: { error: { status: 503, message: 'busy' } }, times: 2 }]);
    expect([book.pick(facts())?.id, book.pick(facts())?.id, book.pick(facts())]).toEqual(['twice', 'twice', undefined]);
    expect(book.list()[0]).toMatchObject({ id: 'twice', times: 2, hits: 2, remaining: 0 });
  });

  it('match picks without counting; hit counts the rule picked, and nothing for the header reply even beside a rule named header', () => {
    const book = new ReplyBook();
    book.add([{ id: 'header', reply: { content: 'a rule' }, times: 1 }]);
    const picked = book.match(facts());
    expect([picked?.id, book.match(facts())?.id, book.list()[0]?.hits]).toEqual(['header', 'header', 0]);
    book.hit(replyFromHeader('{"content":"one-off"}'));
    expect(book.list()[0]).toMatchObject({ hits: 0, remaining: 1 });
    book.hit(picked!);
    expect(book.list()[0]).toMatchObject({ hits: 1, remaining: 0 });
    expect(book.match(facts())).toBeUndefined();
  });

  it('add: generated ids, position, all or none, duplicate ids and the bound refused', () => {
    const book = new ReplyBook();
    book.add([{ reply: { content: 'a' } }, { id: 'reply_2', reply: { content: 'b' } }]);
    expect(book.list().map((r) => r.id)).toEqual(['reply_1', 'reply_2']);
    book.add([{ reply: { content: 'c' } }], 0);
    expect(book.list().map((r) => r.id)).toEqual(['reply_3', 'reply_1', 'reply_2']);
    expect(refusal(() => book.add([{ reply: { content: 'd' } }], 4)).param).toBe('position');
    const dup = refusal(() => book.add([{ id: 'new', reply: { content: 'x' } }, { id: 'reply_1', reply: { content: 'y' } }]));
    expect([dup.code, dup.param]).toEqual(['duplicate_reply_id', 'replies[1].id']);
    expect(book.size).toBe(3); // none of the two was added
    expect(refusal(() => book.add([{ reply: { content: 'x' } }, { reply: {} }])).param).toBe('replies[1].reply');
    expect(book.size).toBe(3);
    expect(refusal(() => book.add(Array.from({ length: REPLY_BOUNDS.rules }, () => ({ reply: { content: '' } })))).code).toBe('too_many_replies');
  });

  it('remove and clear', () => {
    const book = new ReplyBook();
    book.add([{ id: 'a', reply: { content: 'a' } }, { id: 'b', reply: { content: 'b' } }]);
    expect(book.remove('a').id).toBe('a');
    expect(() => book.remove('a')).toThrow(/No reply rule a/);
    book.clear();
    expect(book.list()).toEqual([]);
  });

  it('a pattern that runs out of time on a message is a 400 naming the rule', () => {
    const book = new ReplyBook();
    book.add([{ id: 'slow', match: { message_matches: '^(a|aa)*$' }, reply: { content: 'x' } }]);
    expect(book.pick(facts({ lastUserMessage: 'aaaa' }))?.id).toBe('slow');
    const r = refusal(() => book.pick(facts({ lastUserMessage: `${'a'.repeat(60)}!` })));
    expect([r.code, r.message]).toEqual(['reply_pattern_timeout', expect.stringContaining('Reply rule slow')]);
  });
});

describe('requestFacts', () => {
  it('reads the last user message (text parts joined) and whether tools are given', () => {
    const f = requestFacts(
      {
        model: 'm/x',
        messages: [
          { role: 'user', content: 'first' },
          { role: 'user', content: [{ type: 'text', text: 'second' }, { type: 'text', text: 'part' }] },
          { role: 'assistant', content: 'ok' },
        ],
        tools: [{ type: 'function', function: { name: 'f' } }],
      },
      { groupId: 'g', externalEntityId: null, keyPrefix: 'sky_x' },
    );
    expect([f.lastUserMessage, f.hasTools]).toEqual(['second part', true]);
    expect(requestFacts({ model: 'm/x', messages: [{ role: 'system', content: 's' }], tools: [] }, { groupId: 'g', externalEntityId: null, keyPrefix: 'k' })).toMatchObject({
      lastUserMessage: '',
      hasTools: false,
    });
  });
});

describe('scriptedCompletion', () => {
  const tokens = promptTokens([{ role: 'user', content: 'What is the weather?' }]);
  const prompt = { tokens, cached: 0 };

  it('content: cut to max tokens like any completion; usage from the scripted text; cached tokens the rule sets (at most the prompt) or else the prompt cache counts', () => {
    const c = scriptedCompletion({ id: 'r', reply: { content: 'Sunny and warm.', cached_tokens: 1_000 } }, prompt, null);
    expect(c.choices).toEqual([{ pieces: ['Sunny', ' and', ' warm', '.'], content: 'Sunny and warm.', toolCalls: [], finishReason: 'stop' }]);
    expect(c.usage).toEqual({ prompt_tokens: tokens, completion_tokens: 4, total_tokens: tokens + 4, cached_tokens: tokens });
    const cut = scriptedCompletion({ id: 'r', reply: { content: 'Sunny and warm.' } }, prompt, 2);
    expect([cut.choices[0]?.content, cut.choices[0]?.finishReason, cut.usage.completion_tokens, cut.usage.cached_tokens]).toEqual(['Sunny and', 'length', 2, 0]);
    // Without cached_tokens of its own, the prompt cache's count stands; with them, the rule's.
    expect(scriptedCompletion({ id: 'r', reply: { content: 'x' } }, { tokens, cached: 5 }, null).usage.cached_tokens).toBe(5);
    expect(scriptedCompletion({ id: 'r', reply: { content: 'x', cached_tokens: 0 } }, { tokens, cached: 5 }, null).usage.cached_tokens).toBe(0);
  });

  it('tool calls: content null, finish_reason tool_calls, stable ids, tokens of each name plus its arguments text; n identical choices', () => {
    const picked = { id: 'tools', reply: { tool_calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }, { name: 'get_time', arguments: '{}' }] } };
    const c = scriptedCompletion(picked, prompt, 1, 2);
    expect(c.choices).toHaveLength(2);
    const [first] = c.choices;
    expect(first).toMatchObject({ content: null, pieces: [], finishReason: 'tool_calls' });
    expect(first?.toolCalls.map((t) => [t.name, t.arguments])).toEqual([
      ['get_weather', '{"city":"Paris"}'],
      ['get_time', '{}'],
    ]);
    const ids = first?.toolCalls.map((t) => t.id) ?? [];
    expect(new Set(ids).size).toBe(2);
    expect(scriptedCompletion(picked, prompt, null).choices[0]?.toolCalls.map((t) => t.id)).toEqual(ids);
    // Another turn of the conversation (another request's seed): new ids, the same ones each time.
    const nextTurn = scriptedCompletion(picked, prompt, null, 1, [], 12345).choices[0]?.toolCalls.map((t) => t.id) ?? [];
    expect(nextTurn.filter((id) => ids.includes(id))).toEqual([]);
    expect(scriptedCompletion(picked, prompt, null, 1, [], 12345).choices[0]?.toolCalls.map((t) => t.id)).toEqual(nextTurn);
    const perChoice = countTokens('get_weather') + countTokens('{"city":"Paris"}') + countTokens('get_time') + countTokens('{}');
    expect(c.usage.completion_tokens).toBe(2 * perChoice);
  });

  it('an error reply is no completion', () => {
    expect(() => scriptedCompletion({ id: 'e', reply: { error: { status: 503, message: 'x' } } }, prompt, null)).toThrow(/answers with an error/);
  });
});

describe('replyFromHeader', () => {
  it('a reply as JSON, named header; a 400 naming the header otherwise', () => {
    expect(replyFromHeader('{"content":"hi","latency_ms":5}')).toEqual({ id: 'header', reply: { content: 'hi', latency_ms: 5 } });
    expect(refusal(() => replyFromHeader('{'))).toMatchObject({ code: 'invalid_reply_header', param: 'X-Fgw-Mock-Reply' });
    expect(refusal(() => replyFromHeader('{"content":1}'))).toMatchObject({ code: 'invalid_reply_header', param: 'X-Fgw-Mock-Reply.content' });
    expect(refusal(() => replyFromHeader(JSON.stringify({ content: 'x'.repeat(9000) }))).message).toMatch(/at most 8192/);
  });
});

describe('one schema for a rule', () => {
  it("the scenario schema's reply definitions are the admin spec's ReplyRuleInput, ReplyMatch and ReplyInput", () => {
    const admin = (parse(readFileSync('openapi/mock-admin.yaml', 'utf8')) as { components: { schemas: Record<string, unknown> } }).components.schemas;
    const scenario = JSON.parse(readFileSync('scenarios/scenario.schema.json', 'utf8')) as { $defs: Record<string, unknown>; properties: Record<string, { items?: unknown }> };
    const names: Record<string, string> = { ReplyRuleInput: 'reply_rule', ReplyMatch: 'reply_match', ReplyInput: 'reply' };
    // The admin document's references, in the scenario schema's terms.
    const asScenario = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(asScenario)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => (k === '$ref' ? [k, `#/$defs/${names[String(x).split('/').pop() as string]}`] : [k, asScenario(x)])))
          : v;
    for (const [adminName, scenarioName] of Object.entries(names)) expect(scenario.$defs[scenarioName], scenarioName).toEqual(asScenario(admin[adminName]));
    expect(scenario.properties.replies?.items).toEqual({ $ref: '#/$defs/reply_rule' });
    // ...and the domain's bounds are the schema's.
    const input = admin.ReplyInput as { properties: Record<string, { maximum?: number; maxLength?: number; maxItems?: number }> };
    expect([input.properties.latency_ms?.maximum, input.properties.content?.maxLength, input.properties.tool_calls?.maxItems]).toEqual([
      REPLY_BOUNDS.latencyMs,
      REPLY_BOUNDS.contentChars,
      REPLY_BOUNDS.toolCalls,
    ]);
    const match = admin.ReplyMatch as { properties: Record<string, { maxLength?: number }> };
    expect([match.properties.message_matches?.maxLength, match.properties.model?.maxLength]).toEqual([REPLY_BOUNDS.patternLength, REPLY_BOUNDS.matchFieldLength]);
  });
});
