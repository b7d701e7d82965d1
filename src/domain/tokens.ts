/**
 * The mock's deterministic token counter and completion generator. Documented in the
 * guide (docs/guide.md, "Deterministic completions") so users can predict every number.
 *
 * - A token is a run of letters and digits, or one other non-space character:
 *   `Hello, world!` is 4 tokens (`Hello` `,` `world` `!`).
 * - prompt_tokens = 3 + the sum over messages of (3 + tokens of its text content).
 * - Completions themselves (their shape, the echo, usage) are in completion.ts.
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
