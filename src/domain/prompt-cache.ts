import { countTokens, messageText, type ChatMessageLike } from './tokens.js';

/**
 * Which prompt tokens count as cached (the billing event's `cachedInputTokens`, the
 * response's `usage.prompt_tokens_details.cached_tokens`), deterministically, as the guide
 * documents it (docs/guide.md, "Cached tokens"):
 *
 * A request's cached tokens are the prompt tokens of the longest prefix of its messages
 * (the first k messages, k up to all of them) that the same group sent, as a prefix of a
 * served request, within the window (default 300 s of mock time), when that count is at
 * least the minimum (default 1024 tokens, OpenAI's); else 0. The prompt tokens of a
 * prefix follow the usual count: 3 + the sum over its messages of (3 + tokens of the
 * text). Two messages are the same when their role, text, `tool_calls` and
 * `tool_call_id` are.
 */

export interface PromptCacheRule {
  /** A prefix counts as cached only from this many prompt tokens on (default 1024). */
  minTokens: number;
  /** How long, in ms of mock time, a sent prefix stays cached (default 300 000). */
  windowMs: number;
}

export const DEFAULT_PROMPT_CACHE: PromptCacheRule = { minTokens: 1024, windowMs: 300_000 };

/** Each prefix of a prompt: `keys[k]` identifies messages 0..k within the scope, `tokens[k]` is their prompt tokens. */
export interface PromptPrefixes {
  keys: number[];
  tokens: number[];
}

/**
 * The prefixes of `messages` sent under `scope` (the group's id), hashed in one pass with
 * a 53-bit two-lane hash (cyrb53's mixing, carried from one message to the next).
 */
export function promptPrefixes(scope: string, messages: readonly ChatMessageLike[]): PromptPrefixes {
  const keys: number[] = new Array(messages.length);
  const tokens: number[] = new Array(messages.length);
  const lanes = { h1: 0xdeadbeef, h2: 0x41c6ce57 };
  mix(lanes, scope);
  let count = 3;
  for (let k = 0; k < messages.length; k += 1) {
    const m = messages[k] as ChatMessageLike & { tool_calls?: unknown; tool_call_id?: unknown };
    const text = messageText(m.content);
    mix(lanes, '\u0000');
    mix(lanes, m.role);
    mix(lanes, '\u0001');
    mix(lanes, text);
    if (m.tool_calls !== undefined && m.tool_calls !== null) mix(lanes, `\u0002${JSON.stringify(m.tool_calls)}`);
    if (typeof m.tool_call_id === 'string') mix(lanes, `\u0003${m.tool_call_id}`);
    count += 3 + countTokens(text);
    keys[k] = digest(lanes.h1, lanes.h2);
    tokens[k] = count;
  }
  return { keys, tokens };
}

/** The prompt tokens cached, given the index of the longest prefix seen within the window (-1 for none). */
export function cachedTokensOf(prefixes: PromptPrefixes, longestSeen: number, rule: PromptCacheRule): number {
  if (longestSeen < 0) return 0;
  const t = prefixes.tokens[longestSeen]!;
  return t >= rule.minTokens ? t : 0;
}

function mix(l: { h1: number; h2: number }, s: string): void {
  let { h1, h2 } = l;
  for (let i = 0; i < s.length; i += 1) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  l.h1 = h1;
  l.h2 = h2;
}

function digest(a: number, b: number): number {
  let h1 = Math.imul(a ^ (a >>> 16), 2246822507);
  h1 ^= Math.imul(b ^ (b >>> 13), 3266489909);
  let h2 = Math.imul(b ^ (b >>> 16), 2246822507);
  h2 ^= Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
