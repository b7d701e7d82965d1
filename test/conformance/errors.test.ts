import { describe, expect } from 'vitest';
import { model, retryAfterOf, rule, type Harness, type Res } from './support/harness.js';

/**
 * Error bodies and the management API's own rate limit, as Baseten documents them (facts
 * file, "Error bodies" and "Management API rate limit"; AMBIGUITIES.md #9, #88).
 */

/**
 * The inference errors page's form, `{"error": "<message>"}`. OpenAI's nested form (the
 * mock's `--error-format openai`, which OpenAI clients also read) is accepted with an
 * observation, except from the in-process mock, whose default is the documented form.
 */
function expectInferenceErrorForm(h: Harness, res: Res, label: string) {
  const error = res.body?.error;
  if (typeof error === 'string') {
    expect(error.length, `${label}: an empty message`).toBeGreaterThan(0);
    return;
  }
  const nested = typeof error?.message === 'string' && error.message.length > 0;
  expect(nested, `${label}: expected {"error": "<message>"}, got ${res.text.slice(0, 300)}`).toBe(true);
  expect(h.mock, `${label}: the mock answers the documented form by default, got ${res.text.slice(0, 300)}`).toBeUndefined();
  h.observe(`${label}: inference errors come in OpenAI's nested form {"error": {"message": ...}}, not the documented {"error": "<message>"}`);
}

describe('Error bodies', () => {
  rule('a failed inference response is JSON {"error": "<message>"} (a bad key, a limit exceeded)', ['inference'], async (h) => {
    const g = await h.group({ models: [model(h.slug(), [['REQUEST', 'MINUTE', 1]])] });
    const { api_key: key } = await h.key(g.id);
    const body = { model: h.slug(), messages: [{ role: 'user', content: 'Hello, world!' }] };
    const badKey = await h.inference.post('/v1/chat/completions', body, { key: 'sky_notakey00000.definitely-not-a-key' });
    expect(badKey.status >= 400 && badKey.status < 500, badKey.text).toBe(true);
    expectInferenceErrorForm(h, badKey, `a bad key (${badKey.status})`);
    expect((await h.inference.post('/v1/chat/completions', body, { key })).status).toBe(200);
    const limited = await h.inference.post('/v1/chat/completions', body, { key });
    expect(limited.status, limited.text).toBe(429);
    expectInferenceErrorForm(h, limited, 'a REQUEST limit exceeded (429)');
  });
});

describe('The management API rate limit', () => {
  rule(
    'above 100 requests per second on one route: 429 {"error": "Rate limit exceeded. Please try again later.", "retry_after": N}; other routes still answer; after retry_after seconds the route answers again',
    ['rate-limit-probe'],
    async (h) => {
      const g = await h.group();
      const list = () => h.api.get('/v1/gateway/groups', { query: { limit: 1 }, unpaced: true });
      // Bursts of 150 at once (unpaced) until one is refused; a burst may straddle two windows.
      let refused: Res | undefined;
      for (let round = 0; round < 5 && !refused; round++) refused = (await Promise.all(Array.from({ length: 150 }, list))).find((r) => r.status === 429);
      expect(refused, 'no 429 after 5 bursts of 150 requests on one route with one key').toBeDefined();
      const res = refused as Res;
      h.expectMessage(res, 'Rate limit exceeded. Please try again later.');
      expect(typeof res.body?.error === 'string' || typeof res.body?.error?.message === 'string', `an "error" message in ${res.text}`).toBe(true);
      if (typeof res.body?.error !== 'string') h.observe(`the management 429 has a nested error object, not the documented {"error": "<message>"}: ${res.text.slice(0, 200)}`);
      expect(Number.isInteger(res.body?.retry_after) && res.body.retry_after >= 0, `an integer retry_after in ${res.text}`).toBe(true);
      h.expectOrObserve(res.headers['retry-after'] === String(res.body.retry_after), `the management 429 has no Retry-After header equal to retry_after (${res.headers['retry-after'] ?? 'none'})`);
      // Each route is tracked separately.
      const other = await h.api.get(`/v1/gateway/groups/${g.id}`, { unpaced: true });
      expect(other.status, other.text).toBe(200);
      await new Promise((r) => setTimeout(r, Math.max(1, retryAfterOf(res) ?? 1) * 1000));
      const again = await list();
      expect(again.status, again.text).toBe(200);
    },
    { timeout: 120_000 },
  );
});
