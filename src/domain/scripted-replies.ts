import { createHash } from 'node:crypto';
import { createContext, Script } from 'node:vm';
import { textChoice, usageOf, type Completion, type CompletionChoice } from './completion.js';
import { cutAtStop } from './replies.js';
import { badRequest, GatewayError, notFound } from './errors.js';
import { messageText, type ChatMessageLike } from './tokens.js';
import type { ReplyInput, ReplyMatch, ReplyRule, ReplyRuleInput } from '../generated/mock-admin.js';

/**
 * Scripted replies: rules that match a chat-completion request and say how the mock
 * answers it instead of its deterministic echo (docs/guide.md, "Scripted replies").
 *
 * A rule has an `id` (given, or `reply_N`), a `match` (every field it names must hold;
 * none matches every request) and a `reply`: exactly one of `content`, `tool_calls` or
 * `error`, with an optional `latency_ms` and `cached_tokens`; `times` makes it answer only
 * its first N matches, after which it stays listed, used up (`remaining: 0`), and matches
 * nothing. Rules are tried in order; the first that matches answers.
 *
 * Everything here is checked when a rule is added (a 400 naming the field): the rule
 * store, the admin route, startMock({ replies }), a scenario's `replies:` and the one-off
 * request header all take the same shape through checkRule / checkReply.
 */

/** A rule as it is given, and as it is kept and listed (generated from the admin spec, `components/schemas/Reply*`). */
export type { ReplyInput, ReplyMatch, ReplyRule, ReplyRuleInput };
/** A reply as it is kept and listed: tool-call arguments as JSON text. */
export type Reply = ReplyRule['reply'];
export type ScriptedToolCall = NonNullable<Reply['tool_calls']>[number];
export type ScriptedError = NonNullable<Reply['error']>;

/** What a rule can match on, read from one authenticated chat-completion request. */
export interface RequestFacts {
  model: string;
  groupId: string;
  externalEntityId: string | null;
  keyPrefix: string;
  /** The text of the last user message ('' when there is none). */
  lastUserMessage: string;
  hasTools: boolean;
}

/** Bounds, each a 400 when exceeded (AMBIGUITIES.md #98). */
export const REPLY_BOUNDS = {
  rules: 1000,
  idLength: 64,
  matchFieldLength: 4096,
  /** message_matches, in characters of its source. */
  patternLength: 256,
  /** How long one message_matches test may run on one message before the request is refused. */
  patternRunMs: 100,
  contentChars: 256 * 1024,
  toolCalls: 16,
  /** All of a reply's tool-call arguments together, as JSON text, in characters. */
  argumentsChars: 64 * 1024,
  errorMessageLength: 4096,
  latencyMs: 60_000,
  times: 1_000_000_000,
  cachedTokens: 1_000_000_000,
} as const;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,100}$/;
const MATCH_FIELDS = ['model', 'group', 'key_prefix', 'message_contains', 'message_matches', 'has_tools'] as const;
const REPLY_FIELDS = ['content', 'tool_calls', 'error', 'latency_ms', 'cached_tokens'] as const;
const RULE_FIELDS = ['id', 'match', 'reply', 'times'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const bad = (message: string, param: string, code = 'invalid_reply') => badRequest(message, code, param);

function onlyFields(value: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) throw bad(`${at || 'the rule'}: unknown field "${k}"; allowed: ${allowed.join(', ')}.`, at ? `${at}.${k}` : k);
  }
}

function wholeNumber(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${at} must be a whole number from ${min} to ${max}.`, at);
  return v;
}

function text(v: unknown, at: string, max: number, min = 1): string {
  if (typeof v !== 'string') throw bad(`${at} must be a string.`, at);
  if (v.length < min || v.length > max) throw bad(`${at} must be ${min} to ${max} characters long (it is ${v.length}).`, at);
  return v;
}

/** A reply (`reply` of a rule, or the one-off header's JSON) checked and normalised, or a 400 naming the field under `at`. */
export function checkReply(raw: unknown, at = 'reply'): Reply {
  if (!isObject(raw)) throw bad(`${at} must be an object with one of content, tool_calls or error.`, at);
  onlyFields(raw, REPLY_FIELDS, at);
  const kinds = (['content', 'tool_calls', 'error'] as const).filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    throw bad(`${at} must have exactly one of content, tool_calls or error${kinds.length ? ` (it has ${kinds.join(' and ')})` : ''}.`, at);
  }
  const reply: Reply = {};
  if (raw.content !== undefined) reply.content = text(raw.content, `${at}.content`, REPLY_BOUNDS.contentChars, 0);
  if (raw.tool_calls !== undefined) reply.tool_calls = checkToolCalls(raw.tool_calls, `${at}.tool_calls`);
  if (raw.error !== undefined) reply.error = checkError(raw.error, `${at}.error`);
  if (raw.latency_ms !== undefined) reply.latency_ms = wholeNumber(raw.latency_ms, `${at}.latency_ms`, 0, REPLY_BOUNDS.latencyMs);
  if (raw.cached_tokens !== undefined) {
    if (reply.error) throw bad(`${at}.cached_tokens: an error reply is not charged, so it has no tokens to cache.`, `${at}.cached_tokens`);
    reply.cached_tokens = wholeNumber(raw.cached_tokens, `${at}.cached_tokens`, 0, REPLY_BOUNDS.cachedTokens);
  }
  return reply;
}

function checkToolCalls(raw: unknown, at: string): ScriptedToolCall[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > REPLY_BOUNDS.toolCalls) {
    throw bad(`${at} must be a list of 1 to ${REPLY_BOUNDS.toolCalls} calls, each {name, arguments}.`, at);
  }
  let chars = 0;
  const calls = raw.map((c, i) => {
    const where = `${at}[${i}]`;
    if (!isObject(c)) throw bad(`${where} must be an object {name, arguments}.`, where);
    onlyFields(c, ['name', 'arguments'], where);
    if (typeof c.name !== 'string' || !FUNCTION_NAME.test(c.name)) {
      throw bad(`${where}.name must be a function name: 1 to 64 letters, digits, _ or -.`, `${where}.name`);
    }
    let args: string;
    if (c.arguments === undefined) args = '{}';
    else if (typeof c.arguments === 'string') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(c.arguments);
      } catch (e) {
        throw bad(`${where}.arguments is not JSON text: ${(e as Error).message}.`, `${where}.arguments`);
      }
      if (!isObject(parsed)) throw bad(`${where}.arguments must be a JSON object (as an object, or as its JSON text).`, `${where}.arguments`);
      args = c.arguments;
    } else if (isObject(c.arguments)) args = JSON.stringify(c.arguments);
    else throw bad(`${where}.arguments must be a JSON object (as an object, or as its JSON text).`, `${where}.arguments`);
    chars += args.length;
    return { name: c.name, arguments: args };
  });
  if (chars > REPLY_BOUNDS.argumentsChars) throw bad(`${at}: the arguments take ${chars} characters as JSON; at most ${REPLY_BOUNDS.argumentsChars} are allowed.`, at);
  return calls;
}

function checkError(raw: unknown, at: string): ScriptedError {
  if (!isObject(raw)) throw bad(`${at} must be an object {status, message, code?}.`, at);
  onlyFields(raw, ['status', 'message', 'code'], at);
  const error: ScriptedError = {
    status: wholeNumber(raw.status, `${at}.status`, 400, 599),
    message: text(raw.message, `${at}.message`, REPLY_BOUNDS.errorMessageLength),
  };
  if (raw.code !== undefined) {
    if (typeof raw.code !== 'string' || !ERROR_CODE.test(raw.code)) throw bad(`${at}.code must be 1 to 100 letters, digits, _, . or -.`, `${at}.code`);
    error.code = raw.code;
  }
  return error;
}

function checkMatch(raw: unknown, at: string): ReplyMatch {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw bad(`${at} must be an object with any of ${MATCH_FIELDS.join(', ')}.`, at);
  onlyFields(raw, MATCH_FIELDS, at);
  const match: ReplyMatch = {};
  for (const f of ['model', 'group', 'key_prefix', 'message_contains'] as const) {
    if (raw[f] !== undefined) match[f] = text(raw[f], `${at}.${f}`, REPLY_BOUNDS.matchFieldLength);
  }
  if (raw.message_matches !== undefined) {
    const source = text(raw.message_matches, `${at}.message_matches`, REPLY_BOUNDS.patternLength);
    compilePattern(source, `${at}.message_matches`);
    match.message_matches = source;
  }
  if (raw.has_tools !== undefined) {
    if (typeof raw.has_tools !== 'boolean') throw bad(`${at}.has_tools must be true or false.`, `${at}.has_tools`);
    match.has_tools = raw.has_tools;
  }
  return match;
}

/** A rule's input checked (not yet given an id when it has none), or a 400 naming the field under `at`. */
export function checkRule(raw: unknown, at = ''): Omit<ReplyRule, 'id' | 'hits' | 'remaining'> & { id?: string } {
  const prefix = at ? `${at}.` : '';
  if (!isObject(raw)) throw bad(`${at || 'a rule'} must be an object {id?, match?, reply, times?}.`, at || 'rule');
  onlyFields(raw, RULE_FIELDS, at);
  let id: string | undefined;
  if (raw.id !== undefined) {
    if (typeof raw.id !== 'string' || raw.id.length > REPLY_BOUNDS.idLength || !ID.test(raw.id)) {
      throw bad(`${prefix}id must be 1 to ${REPLY_BOUNDS.idLength} letters, digits, '.', '_' or '-', starting with a letter or digit.`, `${prefix}id`);
    }
    id = raw.id;
  }
  if (raw.reply === undefined) throw bad(`${prefix}reply is required: one of content, tool_calls or error.`, `${prefix}reply`);
  const rule = {
    match: checkMatch(raw.match, `${prefix}match`),
    reply: checkReply(raw.reply, `${prefix}reply`),
    times: raw.times === undefined ? null : wholeNumber(raw.times, `${prefix}times`, 1, REPLY_BOUNDS.times),
  };
  return id === undefined ? rule : { id, ...rule };
}

// --- message_matches: checked when added, bounded when run ---------------------------

/**
 * Compiles a message_matches pattern, or throws a 400 naming `at` when it is invalid or
 * can backtrack catastrophically as far as a static look can tell: a backreference, or a
 * quantifier applied to a group that holds a quantifier (`(a+)+`, `(\w*\s?)*`). What the
 * look misses (`(a|aa)*$`) is stopped by the run-time bound (matchesWithin).
 */
export function compilePattern(source: string, at = 'message_matches'): RegExp {
  let body = source;
  let flags = '';
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(source);
  if (literal) {
    body = literal[1] as string;
    flags = literal[2] as string;
    if (!/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length) throw bad(`${at}: flags may be i, m, s and u, each once (got "${flags}").`, at);
  }
  let re: RegExp;
  try {
    re = new RegExp(body, flags);
  } catch (e) {
    throw bad(`${at} is not a valid regular expression: ${(e as Error).message}.`, at);
  }
  const problem = backtrackingProblem(body);
  if (problem) throw bad(`${at} is refused: ${problem}; such a pattern can take exponential time. Rewrite it without that.`, at, 'unsafe_pattern');
  return re;
}

/** Why a pattern's source may backtrack catastrophically, or undefined. */
export function backtrackingProblem(source: string): string | undefined {
  // Per open group: whether something inside it repeats (a `?` or `{0,1}` does not).
  const stack: boolean[] = [];
  let quantifiedInside = false;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || next === 'k')) return `a backreference (\\${next}) at character ${i + 1}`;
      i += 1;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c === '(') {
      stack.push(quantifiedInside);
      quantifiedInside = false;
      continue;
    }
    if (c === ')') {
      const inner = quantifiedInside;
      quantifiedInside = stack.pop() ?? false;
      const q = quantifierAt(source, i + 1);
      if (q?.unbounded) {
        if (inner) return `a repeated group that holds a repetition itself ("${source.slice(0, i + 1 + q.length)}" nests quantifiers)`;
        quantifiedInside = true;
      }
      if (inner) quantifiedInside = true;
      continue;
    }
    if (quantifierAt(source, i)?.unbounded) quantifiedInside = true;
  }
  return undefined;
}

/** The quantifier starting at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`), if any; `unbounded` when it may repeat more than once. */
function quantifierAt(source: string, i: number): { length: number; unbounded: boolean } | undefined {
  const c = source[i];
  if (c === '*' || c === '+') return { length: source[i + 1] === '?' ? 2 : 1, unbounded: true };
  if (c === '?') return { length: 1, unbounded: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}\??/.exec(source.slice(i));
    if (!m) return undefined;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    return { length: m[0].length, unbounded: max > 1 };
  }
  return undefined;
}

/** Thrown when a pattern ran past REPLY_BOUNDS.patternRunMs on a message. */
export class PatternTimeout extends Error {}

let sandbox: { re: RegExp | null; s: string; r: boolean } | undefined;
let tester: Script | undefined;

/**
 * `re.test(text)`, stopped after `ms` milliseconds (node:vm's timeout interrupts a
 * backtracking regular expression): throws PatternTimeout then.
 */
export function matchesWithin(re: RegExp, text: string, ms: number = REPLY_BOUNDS.patternRunMs): boolean {
  sandbox ??= createContext({ re: null, s: '', r: false }) as { re: RegExp | null; s: string; r: boolean };
  tester ??= new Script('r = re.test(s)');
  sandbox.re = re;
  sandbox.s = text;
  re.lastIndex = 0;
  try {
    tester.runInContext(sandbox as object, { timeout: ms });
    return sandbox.r;
  } catch (e) {
    // The error comes from the sandbox's realm: not an instance of this realm's Error.
    if ((e as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new PatternTimeout(`took more than ${ms} ms`);
    throw e;
  } finally {
    sandbox.re = null;
    sandbox.s = '';
  }
}

/**
 * Whether `text` matches the glob (`*` any run of characters, `?` one, everything else
 * itself), without a regular expression: a star backtracks only to its last position, so
 * the cost is at most the product of the two lengths, never exponential.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = glob[g];
    if (c === '*') {
      star = g++;
      resume = t;
    } else if (g < glob.length && (c === '?' || c === text[t])) {
      g += 1;
      t += 1;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else return false;
  }
  while (glob[g] === '*') g += 1;
  return g === glob.length;
}

// --- the rule list ---------------------------------------------------------------------

interface Entry {
  rule: ReplyRule;
  pattern: RegExp | null;
}

/** What picked a reply: the rule, or the one-off request header. */
export interface Picked {
  /** The rule's id. */
  id: string;
  reply: Reply;
}

/**
 * The active rules, in order. `add` checks every rule first and adds all or none; `match`
 * finds the first rule that matches a request, `hit` counts it once its reply is served.
 */
export class ReplyBook {
  private entries: Entry[] = [];
  private counter = 0;
  private baseline: { entries: Entry[]; counter: number } = { entries: [], counter: 0 };

  /** Checks `inputs` (each named `at[i]`, or by its fields alone when `at` is null) as add() would, without adding them; throws the 400. */
  check(inputs: readonly unknown[], at: string | null = 'replies'): void {
    this.prepare(inputs, at);
  }

  /**
   * Adds rules at `position` (0 = tried first; default: after the others), all or none;
   * throws a 400 naming the field of the first problem. Returns the added rules.
   */
  add(inputs: readonly unknown[], position?: number, at: string | null = 'replies'): ReplyRule[] {
    const prepared = this.prepare(inputs, at);
    if (position !== undefined && (!Number.isInteger(position) || position < 0 || position > this.entries.length)) {
      throw bad(`position must be from 0 to ${this.entries.length} (the number of rules).`, 'position');
    }
    const entries = prepared.map((p) => {
      const id = p.rule.id ?? this.nextId(prepared);
      return { rule: { id, match: p.rule.match, reply: p.rule.reply, times: p.rule.times, hits: 0, remaining: p.rule.times }, pattern: p.pattern };
    });
    this.entries.splice(position ?? this.entries.length, 0, ...entries);
    return entries.map((e) => structuredClone(e.rule));
  }

  list(): ReplyRule[] {
    return this.entries.map((e) => structuredClone(e.rule));
  }

  get size(): number {
    return this.entries.length;
  }

  remove(id: string): ReplyRule {
    const i = this.entries.findIndex((e) => e.rule.id === id);
    if (i < 0) throw notFound(`No reply rule ${id}; GET /_mock/replies lists them.`, 'reply_not_found', 'reply_id');
    return (this.entries.splice(i, 1)[0] as Entry).rule;
  }

  clear(): void {
    this.entries = [];
  }

  /** The rules reset() goes back to: the ones active now. */
  markBaseline(): void {
    this.baseline = { entries: this.entries.map(cloneEntry), counter: this.counter };
  }

  /** Back to the rules of markBaseline() (none without one), every count at zero. */
  reset(): void {
    this.entries = this.baseline.entries.map(cloneEntry);
    this.counter = this.baseline.counter;
    for (const e of this.entries) {
      e.rule.hits = 0;
      e.rule.remaining = e.rule.times;
    }
  }

  /**
   * The first rule with answers left that matches the request, its hit not yet counted
   * (hit() counts it once the reply is served); undefined when none does. Throws a 400
   * when a message_matches pattern runs out of time on it.
   */
  match(facts: RequestFacts): Picked | undefined {
    for (const e of this.entries) {
      const r = e.rule;
      if (r.remaining === 0 || !matches(e, facts)) continue;
      return { id: r.id, reply: r.reply };
    }
    return undefined;
  }

  /**
   * Counts a hit on the rule match() picked (found by its reply, which only that rule
   * holds; a reply that is no rule's, the one-off header's, counts nothing). Call it in
   * the same turn as match(), so that `times` N answers exactly N requests.
   */
  hit(picked: Picked): void {
    const r = this.entries.find((e) => e.rule.reply === picked.reply)?.rule;
    if (!r) return;
    r.hits += 1;
    if (r.remaining !== null) r.remaining -= 1;
  }

  /** match() and hit() at once: the first matching rule with answers left, its hit counted. */
  pick(facts: RequestFacts): Picked | undefined {
    const picked = this.match(facts);
    if (picked) this.hit(picked);
    return picked;
  }

  private prepare(inputs: readonly unknown[], at: string | null): { rule: ReturnType<typeof checkRule>; pattern: RegExp | null }[] {
    if (this.entries.length + inputs.length > REPLY_BOUNDS.rules) {
      throw badRequest(`At most ${REPLY_BOUNDS.rules} reply rules may be active at once (${this.entries.length} are); remove some first (DELETE /_mock/replies).`, 'too_many_replies', at || null);
    }
    const ids = new Set(this.entries.map((e) => e.rule.id));
    return inputs.map((raw, i) => {
      // `at` null names the fields of a lone rule as they are (`reply.content`); '' those of a list's rules as `[i].reply.content`.
      const where = at === null ? '' : `${at}[${i}]`;
      const rule = checkRule(raw, where);
      if (rule.id !== undefined) {
        const field = where ? `${where}.id` : 'id';
        if (ids.has(rule.id)) throw bad(`${field} "${rule.id}" is already the id of a rule; remove it first or choose another.`, field, 'duplicate_reply_id');
        ids.add(rule.id);
      }
      const { message_matches } = rule.match;
      return { rule, pattern: message_matches === undefined ? null : compilePattern(message_matches) };
    });
  }

  private nextId(prepared: { rule: { id?: string } }[]): string {
    const taken = (id: string) => this.entries.some((e) => e.rule.id === id) || prepared.some((p) => p.rule.id === id);
    let id: string;
    do id = `reply_${++this.counter}`;
    while (taken(id));
    return id;
  }
}

const cloneEntry = (e: Entry): Entry => ({ rule: structuredClone(e.rule), pattern: e.pattern });

function matches(e: Entry, f: RequestFacts): boolean {
  const m = e.rule.match;
  if (m.model !== undefined && !globMatches(m.model, f.model)) return false;
  if (m.group !== undefined && m.group !== f.groupId && m.group !== f.externalEntityId) return false;
  if (m.key_prefix !== undefined && !f.keyPrefix.startsWith(m.key_prefix)) return false;
  if (m.has_tools !== undefined && m.has_tools !== f.hasTools) return false;
  if (m.message_contains !== undefined && !f.lastUserMessage.includes(m.message_contains)) return false;
  if (e.pattern) {
    try {
      return matchesWithin(e.pattern, f.lastUserMessage);
    } catch (err) {
      if (!(err instanceof PatternTimeout)) throw err;
      throw new GatewayError(
        'invalid_request',
        `Reply rule ${e.rule.id}: its message_matches pattern ${err.message} on this message (at most ${REPLY_BOUNDS.patternRunMs} ms); simplify the pattern or send a shorter message.`,
        'reply_pattern_timeout',
        'messages',
      );
    }
  }
  return true;
}

/** The facts a rule matches on, from a chat request and its caller. */
export function requestFacts(
  body: { model: string; messages: readonly ChatMessageLike[]; tools?: unknown },
  caller: { groupId: string; externalEntityId: string | null; keyPrefix: string },
): RequestFacts {
  let last: ChatMessageLike | undefined;
  for (let i = body.messages.length - 1; i >= 0 && !last; i--) if (body.messages[i]?.role === 'user') last = body.messages[i];
  return {
    model: body.model,
    ...caller,
    lastUserMessage: last ? messageText(last.content) : '',
    hasTools: Array.isArray(body.tools) && body.tools.length > 0,
  };
}

/**
 * A content or tool-call reply as a completion, charged like any other: prompt tokens as
 * always, completion tokens counted from the scripted text (content cut to `maxTokens` as
 * usual; each tool call counts the tokens of its name plus those of its arguments' JSON
 * text, never cut); `prompt` is the request's prompt count, its cached tokens by the
 * prompt-cache rule unless the reply sets `cached_tokens` (at most the prompt's tokens);
 * `n` identical choices; `stops` cut the content as they cut any.
 * A tool call's id is derived from the rule, the call's place and text, and `requestSeed`
 * (the request's own hash, src/domain/replies.ts): the same request gets the same ids run
 * after run, and each turn of an agent's conversation gets new ones, as OpenAI's ids are
 * unique within a conversation.
 */
export function scriptedCompletion(
  picked: Picked,
  prompt: { tokens: number; cached: number },
  maxTokens: number | null,
  n = 1,
  stops: readonly string[] = [],
  requestSeed = 0,
): Completion {
  const { reply } = picked;
  if (reply.error) throw new Error(`scriptedCompletion: rule ${picked.id} answers with an error, not a completion`);
  let choice: CompletionChoice;
  if (reply.tool_calls) {
    const toolCalls = reply.tool_calls.map((c, i) => ({ id: toolCallId(picked.id, i, c, requestSeed), name: c.name, arguments: c.arguments }));
    choice = { pieces: [], content: null, toolCalls, finishReason: 'tool_calls' };
  } else choice = textChoice(cutAtStop(reply.content ?? '', stops), maxTokens);
  const choices = Array.from({ length: n }, () => ({ ...choice, pieces: [...choice.pieces], toolCalls: choice.toolCalls.map((t) => ({ ...t })) }));
  return { choices, usage: usageOf(prompt.tokens, choices, reply.cached_tokens ?? prompt.cached) };
}

function toolCallId(ruleId: string, index: number, call: ScriptedToolCall, requestSeed: number): string {
  return `call_${createHash('sha256').update(`${ruleId}\0${index}\0${call.name}\0${call.arguments}\0${requestSeed}`).digest('hex').slice(0, 24)}`;
}

/** The id under which the one-off request header's reply is journaled and named in X-Fgw-Scripted-Reply. */
export const HEADER_RULE_ID = 'header';
/**
 * The one-off reply header, and the most bytes its value may hold (Node refuses a request
 * whose headers together pass 16 KiB with 431 before the mock sees it).
 */
export const REPLY_HEADER = 'X-Fgw-Mock-Reply';
export const MAX_REPLY_HEADER_BYTES = 8 * 1024;

/** The one-off reply the request header carries, or a 400 naming the header. */
export function replyFromHeader(value: string): Picked {
  const where = REPLY_HEADER;
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_REPLY_HEADER_BYTES) throw bad(`${where} is ${bytes} bytes; at most ${MAX_REPLY_HEADER_BYTES} are allowed.`, where, 'invalid_reply_header');
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (e) {
    throw bad(`${where} must be a JSON reply such as {"content":"hi"}: ${(e as Error).message}.`, where, 'invalid_reply_header');
  }
  try {
    return { id: HEADER_RULE_ID, reply: checkReply(raw, where) };
  } catch (e) {
    if (e instanceof GatewayError) throw bad(e.message, e.param ?? where, 'invalid_reply_header');
    throw e;
  }
}
