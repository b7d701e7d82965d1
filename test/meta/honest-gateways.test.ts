import { afterAll, describe, expect, it } from 'vitest';
import { startBroken, type Breakage, type BrokenGateway } from './broken-proxy.js';
import { ALL_AT_ONCE, HONEST } from './honest-gateways.js';
import { mockKeysEnv, registerSigning, runSuite } from './run-suite.js';

/**
 * The conformance suite judges a live target by the documentation only: against each
 * honest-but-different gateway (./honest-gateways.ts), run as a user would in live mode
 * (no FGW_CAPABILITIES=mock-admin), nothing fails; the mock's own choices are skipped
 * with their reason, and what differs is reported as observations.
 */

const open: BrokenGateway[] = [];
afterAll(async () => {
  for (const g of open) await g.close();
});

async function liveSuiteAgainst(gateway: Breakage, files: string[], extraEnv: (url: string) => Record<string, string> = () => ({})) {
  // The endpoint and key-registration rules run too: an owned prefix, a target, a signing key.
  const signing = registerSigning();
  // Events queryable after 2 s ("within about a minute"), so the events rules need not wait a minute.
  const gw = await startBroken({ ...gateway, mock: { events: { holdbackSeconds: 2 }, ...gateway.mock, register: { publicKey: signing.publicKey } } });
  open.push(gw);
  return runSuite(
    {
      ...mockKeysEnv(gw.url),
      ...signing.env,
      FGW_MODEL_SLUG: 'acme-org/chat-model,acme-org/embed-model',
      FGW_CAPABILITIES: '',
      FGW_RUN_ID: `honest-${Math.random().toString(36).slice(2, 8)}`,
      ...extraEnv(gw.url),
    },
    files.map((f) => `test/conformance/${f}.test.ts`),
  );
}

/** Each gateway, the files that exercise what it changes, and observations it must produce (substrings). */
const CASES: [string, string[], string[]][] = [
  ['no request id header, other headers instead', ['responses', 'inference'], ['no X-Request-Id header', 'a 429 without a Retry-After']],
  ['management errors as {"detail": "..."}', ['cascade', 'field-rules', 'auth', 'inference', 'errors'], []],
  ['management errors as {"message": ..., "status": ...} at the top level', ['cascade', 'keys', 'delete'], []],
  ["errors in the documented form without the mock's X-Fgw-Error-* headers", ['cascade', 'field-rules', 'auth', 'inference', 'errors'], []],
  ["errors in OpenAI's nested form (the mock's --error-format openai)", ['cascade', 'field-rules', 'inference', 'errors'], ["inference errors come in OpenAI's nested form"]],
  ['extra response fields everywhere', ['lifecycle', 'hierarchy', 'patch', 'keys', 'pagination', 'inference'], []],
  ['422 for schema errors where the docs name no status', ['field-rules', 'hierarchy', 'inference', 'keys', 'delete'], ['the target answered 422 where the mock answers 400']],
  ['lenient input: unknown fields ignored, immutable fields ignored on PATCH, list limits clamped', ['patch', 'field-rules', 'pagination'], ['was accepted and the change ignored']],
  ['shorter pages than the limit', ['pagination', 'field-rules'], []],
  ['cursors of another encoding', ['pagination'], []],
  ['group ids of another format', ['hierarchy', 'delete', 'lifecycle', 'cascade', 'auth'], []],
  ['federated keys must use Api-Key (Bearer refused, as the newer page says)', ['inference', 'keys', 'delete', 'register'], []],
  ['billing events in another envelope ({events, has_more, next_cursor}), federated keys refused with 403, events queryable after 2 s', ['events'], ['the target answered 403 where the mock answers 401']],
  ['errors in Baseten\'s {"error": "<message>"} form', ['cascade', 'register', 'inference'], []],
  ['optional fields omitted rather than null (parent_group_id, name, the last cursor, target fields)', ['lifecycle', 'hierarchy', 'keys', 'endpoints'], []],
  ['key prefixes of another shape (seven characters, as in the seeds)', ['keys', 'pagination', 'events'], []],
  ['timestamps of other precisions: microseconds and +00:00 for groups, whole seconds for endpoints', ['delete', 'endpoints', 'inference'], []],
  ['another order where the docs fix none: lists, models and limits reversed', ['lifecycle', 'hierarchy', 'patch', 'field-rules', 'pagination', 'cascade'], ['keys are not listed in creation order']],
  ['a 429 with another Retry-After and a retry_after field', ['inference'], []],
  ['a model that refuses tools and json_schema response formats (400)', ['inference'], ['tools with tool_choice auto: the target refused it (400', 'response_format json_schema: the target refused it (400']],
  ['a slow network: 150 ms before every call', ['auth', 'pagination', 'cascade'], []],
];

describe('the conformance suite passes honest gateways that differ from the mock only where the docs allow', () => {
  it.concurrent.each(CASES)('%s', async (name, files, observations) => {
    const outcome = await liveSuiteAgainst(HONEST[name]!, files);
    expect(outcome.failed, outcome.failures).toEqual([]);
    expect(outcome.passed.length).toBeGreaterThan(5);
    for (const o of observations) {
      expect(outcome.observations.some((x) => x.includes(o)), `observation "${o}" in ${JSON.stringify(outcome.observations)}`).toBe(true);
      expect(outcome.stdout).toContain(o);
    }
  }, 240_000);

  it('every difference at once, against the whole suite, with the inference base URL given as the SDK base_url (ending in /v1)', async () => {
    const outcome = await liveSuiteAgainst(ALL_AT_ONCE, [], (url) => ({ FGW_INFERENCE_BASE_URL: `${url}/v1` }));
    expect(outcome.failed, outcome.failures).toEqual([]);
    expect(outcome.passed.length).toBeGreaterThan(80);
    // The mock's own choices are skipped on a live target, each saying why.
    expect(outcome.stdout).toMatch(/\[mock choice #29\] a garbage cursor is 400: the mock's own choice where the docs are silent or disagree \(AMBIGUITIES\.md #29\)/);
    expect(outcome.stdout).toMatch(/\d+ observations \(not failures\)/);
  }, 240_000);
});
