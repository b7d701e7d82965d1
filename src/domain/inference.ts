import { badRequest } from './errors.js';
import { jsonDepth } from './json-bounds.js';
import type { ChatMessageLike } from './tokens.js';

/**
 * The bounds of a chat-completion request: how large its `metadata` may be and how long
 * a completion it may ask for. The use case itself is src/service/inference.ts.
 */

/** The longest completion the mock produces, in tokens; max_tokens above it is a 400. */
export const MAX_COMPLETION_TOKENS = 4096;
/** `metadata` serialized as JSON may take at most this many bytes (UTF-8)... */
export const MAX_METADATA_BYTES = 16 * 1024;
/** ...and nest at most this deep (a flat object is depth 1). */
export const MAX_METADATA_DEPTH = 16;

export interface ChatRequest {
  model: string;
  messages: ChatMessageLike[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  metadata?: Record<string, unknown> | null;
}

/** 400 naming the field when `metadata` is over the documented size or depth. */
export function checkMetadata(metadata: unknown): void {
  if (metadata === null || metadata === undefined) return;
  const depth = jsonDepth(metadata);
  if (depth > MAX_METADATA_DEPTH) {
    throw badRequest(`metadata is nested ${depth} levels deep; at most ${MAX_METADATA_DEPTH} are allowed.`, 'metadata_too_deep', 'metadata');
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
  if (bytes > MAX_METADATA_BYTES) {
    throw badRequest(`metadata is ${bytes} bytes as JSON; at most ${MAX_METADATA_BYTES} are allowed.`, 'metadata_too_large', 'metadata');
  }
}

/** The completion length asked for, or 400 naming the field when it is over the maximum. */
export function requestedMaxTokens(body: Pick<ChatRequest, 'max_tokens' | 'max_completion_tokens'>): number {
  for (const field of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[field];
    if (v === null || v === undefined) continue;
    if (v > MAX_COMPLETION_TOKENS) {
      throw badRequest(`${field} must be at most ${MAX_COMPLETION_TOKENS}, the longest completion the mock produces.`, 'max_tokens_too_large', field);
    }
    return v;
  }
  return MAX_COMPLETION_TOKENS;
}
