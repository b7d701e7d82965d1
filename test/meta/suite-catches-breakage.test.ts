import { afterAll, describe, expect, it } from 'vitest';
import { BREAKAGES, startBroken, type BrokenGateway } from './broken-proxy.js';
import { mockKeysEnv, registerSigning, runSuite } from './run-suite.js';

/**
 * The conformance suite is proven to fail: for each deliberately broken gateway, the
 * suite (run as a user would, in its own vitest, against the proxy's URL) must report the
 * named rules as failed; against the honest proxy it must pass everything.
 */

const open: BrokenGateway[] = [];
afterAll(async () => {
  for (const g of open) await g.close();
});

async function suiteAgainst(breakage: string, files: string[]) {
  const b = BREAKAGES[breakage]!;
  // Endpoint and key-registration rules need an owned prefix, a target and the signing key.
  const signing = registerSigning();
  const gw = await startBroken({ ...b, mock: { ...b.mock, register: { publicKey: signing.publicKey } } });
  open.push(gw);
  return runSuite(
    {
      ...mockKeysEnv(gw.url),
      // The suite may provoke the management rate limit here: the gateway is its own.
      FGW_CAPABILITIES: 'mock-admin,rate-limit-probe',
      ...signing.env,
      FGW_RUN_ID: `meta-${Math.random().toString(36).slice(2, 8)}`,
    },
    files,
  );
}

const C = 'test/conformance/';
/** Each breakage, the files that exercise its rule, and tests that must fail (by title substring). */
const CASES: [string, string[], string[]][] = [
  ['PATCH merges models instead of replacing the set', ['patch'], ['models replaces the whole set', '"models": [] clears every model']],
  ['source_group always names the group itself', ['hierarchy'], ['INDEPENDENT worked example', 'CASCADING worked example']],
  ['DELETE leaves descendants alive', ['delete'], ['every group of the subtree is 404']],
  ['DELETE keeps the external id taken', ['delete'], ['external ids can be used again']],
  ['CASCADING updates skip the ancestor and descendant check', ['cascade'], ['raising a descendant past an ancestor', 'lowering an ancestor below']],
  ['a child may be created above its CASCADING parent', ['cascade'], ['creating a child above its parent']],
  ['view-scope keys may write', ['auth'], ['view-scope key may list groups but not write']],
  ['workspaces that are not onboarded are let in', ['auth'], ['not onboarded gets 403']],
  ['a group of another workspace answers 404 instead of 403', ['auth'], ['another workspace is 403']],
  ['pagination stops after the first full page', ['pagination'], ['draining keys with small limits', 'draining groups with a small limit']],
  ['a revoked key keeps working for inference', ['keys'], ['a revoked key is refused by inference']],
  ['the secret is shown again on get and list', ['keys'], ['list and get never show the secret']],
  ['rate and usage limits are never enforced', ['inference'], ['admit exactly K', 'siblings share the ancestor pool', 'daily usage limit gives 429']],
  ['the INDEPENDENT inherited limit is shared with the parent', ['inference'], ['metered per group']],
  ['one bucket is shared by all slugs of a group', ['inference'], ['each slug has its own buckets']],
  ['a limit lets one request too many through', ['inference'], ['admit exactly K']],
  ['429 without Retry-After', ['inference'], ['RateLimitError (429), with Retry-After']],
  ['a management 429 without retry_after', ['errors'], ['above 100 requests per second on one route']],
  ['inference errors as {"detail": "..."} instead of the documented {"error": "<message>"}', ['errors'], ['a failed inference response is JSON']],
  ['usage counters never move', ['inference'], ['usage shows the counters move', 'TOKEN usage counts prompt plus completion']],
  ['webhooks are signed with the wrong secret', ['inference'], ['one signed API_BILLING_USAGE event']],
  ['create answers 201 instead of the documented 200', ['lifecycle'], ['seed quick-start and lifecycle']],
  ['responses lose their request id', ['responses'], ['carry X-Request-Id']],
  ['an invalid threshold is accepted', ['field-rules'], ['threshold is not negative']],
  ['a threshold of 0 is refused (the minimum before 2026-07-03)', ['field-rules', 'cascade', 'inference'], ['a threshold of 0 is valid', 'a threshold of 0 compares like any other', 'a limit of 0 admits nothing']],
  ['a limit of 0 lets traffic through', ['inference'], ['a limit of 0 admits nothing']],
  ['key registration accepts any signature', ['register'], ['re-serialised after signing', 'missing or non-base64 signature']],
  ['endpoint slugs are not unique', ['endpoints'], ['a slug already taken']],
  ['a revoked key can still be fetched and revoked again (200)', ['keys'], ['fetching or revoking a revoked key is 404']],
  ['a parent that does not exist is 400 instead of 404', ['hierarchy'], ['a parent that does not exist is 404', 'not visible to the workspace']],
  ['a PATCH naming neither name nor models is accepted', ['patch'], ['naming neither metadata.name nor models']],
  ['a deleted endpoint keeps its slug taken', ['endpoints'], ['deleting an endpoint frees its slug']],
  ['an endpoint slug may be renamed', ['endpoints'], ['an endpoint’s slug cannot be changed']],
  ["another workspace's endpoint answers 404 instead of 403", ['endpoints'], ["another workspace's endpoint is 403"]],
  ['fetched billing events leak requestMetadata', ['events'], ['no requestMetadata', 'the webhooks’ own']],
  ['billing events come back newest first', ['events'], ['ascending timestamp order']],
  ['the events end_time is inclusive', ['events'], ['end_time exclusive']],
  ['the secret hides in another field of key list and get', ['keys'], ['never show the secret, in any field']],
  ['deleted_at is not UTC (a local offset)', ['delete', 'lifecycle'], ['deleted_at as an RFC 3339 UTC timestamp', 'seed quick-start and lifecycle']],
  ['usage reset_at is not UTC (a local offset)', ['inference'], ['a daily usage limit gives 429']],
  ['billing event timestamps are not UTC (a local offset)', ['events'], ['becomes queryable within about a minute, with every documented field']],
  ['a PATCH whose only field is hierarchy is accepted', ['patch'], ['naming neither metadata.name nor models']],
  ['a key of exactly 32 characters is refused', ['register'], ['keys of exactly 32 and exactly 128 characters']],
  ['a key of exactly 128 characters is refused', ['register'], ['keys of exactly 32 and exactly 128 characters']],
  ['a key of entropy exactly 3.0 is refused', ['register'], ['exactly 3.0 bits per character registers']],
  ['a name of exactly 255 characters is refused', ['field-rules'], ['a name of exactly 255 characters']],
  ['an external_entity_id of exactly 255 characters is refused', ['field-rules'], ['an external_entity_id of exactly 255']],
  ['an endpoint PATCH leaves updated_at unchanged', ['endpoints'], ['moves updated_at forward']],
  ['an invalid create payload answers 422 instead of the documented 400', ['field-rules', 'hierarchy'], ['create: metadata is required', 'create: hierarchy is required', 'unique among live groups', 'another mode than its parent', 'at most five levels deep']],
  ['a duplicate external_entity_id answers 409 instead of the documented 400', ['field-rules'], ['unique among live groups']],
  ['a key is found under any group of its workspace', ['keys'], ['keys are addressed under their own group only']],
  ['a deleted endpoint can still be read', ['endpoints'], ['the deleted one is 404 on get']],
  ['a child declaring another mode than its parent is accepted (it takes the parent’s)', ['hierarchy'], ['another mode than its parent']],
];

describe('the conformance suite catches a broken gateway', () => {
  it('passes everything against an honest proxy (the control)', async () => {
    const outcome = await suiteAgainst('honest', CASES.flatMap(([, files]) => files).filter((f, i, a) => a.indexOf(f) === i).map((f) => `${C}${f}.test.ts`));
    expect(outcome.failed).toEqual([]);
    expect(outcome.skipped).toEqual([]);
    expect(outcome.passed.length).toBeGreaterThan(90);
  }, 180_000);

  it.concurrent.each(CASES)('%s', async (breakage, files, mustFail) => {
    const outcome = await suiteAgainst(breakage, files.map((f) => `${C}${f}.test.ts`));
    for (const title of mustFail) {
      expect(outcome.failed.filter((t) => t.includes(title)), `"${title}" should fail; failed: ${JSON.stringify(outcome.failed)}`).not.toHaveLength(0);
    }
  }, 180_000);
});
