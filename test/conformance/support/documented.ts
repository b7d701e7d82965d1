import OpenAI from 'openai';
import type { Harness } from './harness.js';

/**
 * Small documented facts the rules of several files share.
 */

/**
 * The OpenAI SDK for a federated key, sending `Authorization: Api-Key <key>`: the scheme
 * the newer "Call your model" page requires of federated keys (Bearer rejected) and the
 * one both pages accept. Only a rule about Bearer itself uses the stock SDK.
 */
export function sdk(h: Harness, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: h.openaiBaseUrl, apiKey, maxRetries: 0, defaultHeaders: { Authorization: `Api-Key ${apiKey}` } });
}

/** Shared with the validating proxy (src/lib/documented-forms.ts). */
export { isRfc3339Utc, stringsWithPaths } from 'frontier-gateway-mock/testing';
