import { countTokens, messageText, promptTokens, tokenPieces, type ChatMessageLike } from './tokens.js';

/**
 * The shape of a completion, whoever produced it: the deterministic generator
 * (src/domain/replies.ts), the echo, or a scripted reply. The HTTP layer renders it as
 * JSON or as server-sent events; the service charges and bills it. Documented in the
 * guide (docs/guide.md, "Deterministic completions").
 */

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text, as OpenAI sends them. */
  arguments: string;
}

export interface CompletionChoice {
  /** The content's stream deltas, one token each; they concatenate to `content` (empty when it is null). */
  pieces: string[];
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: 'stop' | 'length' | 'tool_calls';
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens served from the prompt cache; part of prompt_tokens, never more. */
  cached_tokens: number;
}

export interface Completion {
  choices: CompletionChoice[];
  usage: CompletionUsage;
}

/** The text as one choice, cut to `maxTokens` tokens (finish_reason `length` when cut, else `stop`). */
export function textChoice(text: string, maxTokens: number | null): CompletionChoice {
  let pieces = tokenPieces(text, maxTokens === null ? Infinity : maxTokens + 1);
  let finishReason: CompletionChoice['finishReason'] = 'stop';
  if (maxTokens !== null && pieces.length > maxTokens) {
    pieces = pieces.slice(0, maxTokens);
    finishReason = 'length';
  }
  return { pieces, content: pieces.join(''), toolCalls: [], finishReason };
}

/**
 * The completion tokens of one choice: the tokens of its content, plus, for each tool
 * call, the tokens of the function's name and of its arguments' JSON text (the same
 * counter as everywhere: `get_weather` is 3 tokens, `{"city":"Paris"}` 9).
 */
export function choiceTokens(choice: CompletionChoice): number {
  let n = choice.content === null ? 0 : choice.pieces.length;
  for (const call of choice.toolCalls) n += countTokens(call.name) + countTokens(call.arguments);
  return n;
}

/**
 * Usage for a completion, as OpenAI counts it: the prompt once, completion tokens summed
 * over the choices; `cachedTokens` is clamped to [0, promptTokens].
 */
export function usageOf(promptTokens: number, choices: readonly CompletionChoice[], cachedTokens = 0): CompletionUsage {
  let completion = 0;
  for (const c of choices) completion += choiceTokens(c);
  const cached = Math.max(0, Math.min(promptTokens, Math.floor(cachedTokens)));
  return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion, cached_tokens: cached };
}

/**
 * The echo: `Echo: ` followed by the text of the last user or tool message, whichever
 * comes later (so the follow-up carrying a tool's result echoes that result), `Echo.` when
 * there is none or it is empty.
 */
export function echoText(messages: readonly ChatMessageLike[]): string {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const role = messages[i]!.role;
    if (role !== 'user' && role !== 'tool') continue;
    const said = messageText(messages[i]!.content).trim();
    return said ? `Echo: ${said}` : 'Echo.';
  }
  return 'Echo.';
}

/** The echo as a one-choice completion, cut to `maxTokens` tokens. */
export function complete(messages: readonly ChatMessageLike[], maxTokens: number | null): Completion {
  const choice = textChoice(echoText(messages), maxTokens);
  return { choices: [choice], usage: usageOf(promptTokens(messages), [choice]) };
}
