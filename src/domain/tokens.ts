/**
 * The mock's deterministic token counter and completion generator. Documented in the
 * guide (docs/guide.md, "Deterministic completions") so users can predict every number.
 *
 * - A token is a run of letters and digits, or one other non-space character:
 *   `Hello, world!` is 4 tokens (`Hello` `,` `world` `!`).
 * - prompt_tokens = 3 + the sum over messages of (3 + tokens of its text content).
 * - The reply is `Echo: ` followed by the text of the last user message (`Echo.` when
 *   there is none), cut to `max_completion_tokens` / `max_tokens` tokens, in which case
 *   finish_reason is `length`.
 */
const TOKEN = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

export function countTokens(text: string): number {
  let n = 0;
  TOKEN.lastIndex = 0;
  while (TOKEN.exec(text)) n += 1;
  return n;
}

/**
 * The text split into pieces of one token each, leading white space kept with its token;
 * at most `limit` pieces, so a huge prompt is never split further than the reply needs.
 */
export function tokenPieces(text: string, limit = Infinity): string[] {
  const pieces: string[] = [];
  let from = 0;
  // exec on the shared expression rather than matchAll, which clones it on every call.
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null && pieces.length < limit; m = TOKEN.exec(text)) {
    const end = m.index + m[0].length;
    pieces.push(text.slice(from, end));
    from = end;
  }
  return pieces;
}

export interface ChatMessageLike {
  role: string;
  content?: unknown;
}

/** The text of a message: a string, or the `text` of its content parts joined. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .filter(Boolean)
      .join(' ');
  }
  return '';
}

export function promptTokens(messages: readonly ChatMessageLike[]): number {
  return messages.reduce((sum, m) => sum + 3 + countTokens(messageText(m.content)), 3);
}

export interface Completion {
  pieces: string[];
  content: string;
  finishReason: 'stop' | 'length';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export function complete(messages: readonly ChatMessageLike[], maxTokens: number | null): Completion {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const said = lastUser ? messageText(lastUser.content).trim() : '';
  const full = said ? `Echo: ${said}` : 'Echo.';
  let pieces = tokenPieces(full, maxTokens === null ? Infinity : maxTokens + 1);
  let finishReason: Completion['finishReason'] = 'stop';
  if (maxTokens !== null && pieces.length > maxTokens) {
    pieces = pieces.slice(0, maxTokens);
    finishReason = 'length';
  }
  const prompt = promptTokens(messages);
  return {
    pieces,
    content: pieces.join(''),
    finishReason,
    usage: { prompt_tokens: prompt, completion_tokens: pieces.length, total_tokens: prompt + pieces.length },
  };
}
