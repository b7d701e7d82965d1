import { afterAll, describe, expect } from 'vitest';
import { mockRule, rule, type Harness, type Res } from './support/harness.js';

/**
 * Endpoints: what a slug routes to. Documented rules are asserted on every target that
 * can create endpoints (an owned prefix and a valid target: FGW_ENDPOINT_PREFIX,
 * FGW_ENDPOINT_TARGET); the mock's own choices only on the mock. Every endpoint a rule
 * creates is deleted when the file ends.
 */

const created: { h: Harness; id: string }[] = [];
afterAll(async () => {
  for (const { h, id } of created.splice(0)) await h.api.del(`/v1/gateway/endpoints/${id}`).catch(() => undefined);
}, 60_000);

let n = 0;
const slugOf = (h: Harness, label = 'ep') => `${(h.t.endpoints as { prefix: string }).prefix}/${h.t.runId}-${label}-${++n}`;
const targetOf = (h: Harness) => (h.t.endpoints as { target: Record<string, unknown> }).target;

async function createEndpoint(h: Harness, body: Record<string, unknown>): Promise<Res> {
  const res = await h.api.post('/v1/gateway/endpoints', body);
  if (res.status === 200) created.push({ h, id: res.body.id });
  return res;
}

describe('Endpoints: create, read, list, update, delete', () => {
  rule('an endpoint is created with id, slug, region (UNRESTRICTED by default), targets and timestamps; read; deleted with id and slug', ['endpoints'], async (h) => {
    const slug = slugOf(h);
    const res = await createEndpoint(h, { slug, targets: [targetOf(h)] });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ slug, region: 'UNRESTRICTED' });
    expect(res.body.targets).toHaveLength(1);
    expect(res.body.targets[0]).toMatchObject(targetOf(h));
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(res.body.created_at));
    const got = await h.api.get(`/v1/gateway/endpoints/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: res.body.id, slug, region: 'UNRESTRICTED' });
    const deleted = await h.api.del(`/v1/gateway/endpoints/${res.body.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: res.body.id, slug });
    const gone = await h.api.get(`/v1/gateway/endpoints/${res.body.id}`);
    expect(gone.status).toBe(404);
  });

  rule('deleting an endpoint frees its slug; the deleted one is 404 on get, update and delete', ['endpoints'], async (h) => {
    const slug = slugOf(h, 'freed');
    const first = await createEndpoint(h, { slug, targets: [targetOf(h)] });
    expect(first.status, first.text).toBe(200);
    expect((await h.api.del(`/v1/gateway/endpoints/${first.body.id}`)).status).toBe(200);
    expect((await h.api.get(`/v1/gateway/endpoints/${first.body.id}`)).status, 'get').toBe(404);
    expect((await h.api.patch(`/v1/gateway/endpoints/${first.body.id}`, { targets: [targetOf(h)] })).status, 'update').toBe(404);
    expect((await h.api.del(`/v1/gateway/endpoints/${first.body.id}`)).status, 'delete again').toBe(404);
    const second = await createEndpoint(h, { slug, targets: [targetOf(h)] });
    expect(second.status, second.text).toBe(200);
    expect(second.body.slug).toBe(slug);
    expect(second.body.id).not.toBe(first.body.id);
  });

  rule('an endpoint’s slug cannot be changed by PATCH (immutable after creation, the published schema since 2026-06-25)', ['endpoints'], async (h) => {
    const made = await createEndpoint(h, { slug: slugOf(h), targets: [targetOf(h)] });
    const res = await h.api.patch(`/v1/gateway/endpoints/${made.body.id}`, { slug: slugOf(h, 'renamed'), targets: [targetOf(h)] });
    // The schema no longer lists slug: a target may refuse it (the mock: 400) or ignore it.
    if (res.status === 200) {
      expect(res.body.slug).toBe(made.body.slug);
      h.expectOrObserve(false, 'a PATCH carrying a new slug was accepted and the slug ignored, where the mock answers 400');
    } else h.expectRefused(res, 400, 'a PATCH changing the slug');
    expect((await h.api.get(`/v1/gateway/endpoints/${made.body.id}`)).body.slug).toBe(made.body.slug);
  });

  rule('region EU is accepted and returned', ['endpoints'], async (h) => {
    const res = await createEndpoint(h, { slug: slugOf(h), region: 'EU', targets: [targetOf(h)] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.region).toBe('EU');
  });

  rule('target fields that do not apply to the provider come back null (or absent)', ['endpoints'], async (h) => {
    const res = await createEndpoint(h, { slug: slugOf(h), targets: [targetOf(h)] });
    const t = res.body.targets[0] as Record<string, unknown>;
    const provider = t.provider as string;
    const notApplying = [
      ...(provider === 'BASETEN' ? [] : ['model_id', 'environment_name']),
      ...(provider === 'VERTEX' ? [] : ['vertex_config']),
      ...(provider === 'OPENAI_COMPATIBLE' ? [] : ['base_url']),
    ];
    for (const field of notApplying) expect(t[field] ?? null, field).toBeNull();
  });

  rule('the list is cursor-paginated with limit and cursor, and holds what was created', ['endpoints'], async (h) => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createEndpoint(h, { slug: slugOf(h, 'page'), targets: [targetOf(h)] })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const page: Res = await h.api.get('/v1/gateway/endpoints', { query: { limit: 1, ...(cursor ? { cursor } : {}) } });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((e: { id: string }) => e.id));
      cursor = page.body.pagination.cursor ?? null;
      if (!page.body.pagination.has_more) break;
    }
    expect(seen).toEqual(expect.arrayContaining(ids));
  });

  rule('PATCH replaces the targets and moves updated_at forward; created_at stays', ['endpoints'], async (h) => {
    const made = await createEndpoint(h, { slug: slugOf(h), targets: [targetOf(h)] });
    expect(made.status, made.text).toBe(200);
    // A later second than the creation, so a target with whole-second timestamps shows the change too.
    if (h.t.capabilities.has('clock')) await h.advanceClock(2);
    else await new Promise((r) => setTimeout(r, 1100));
    const patched = await h.api.patch(`/v1/gateway/endpoints/${made.body.id}`, { targets: [targetOf(h)] });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.slug).toBe(made.body.slug);
    expect(patched.body.targets).toHaveLength(1);
    expect(patched.body.targets[0]).toMatchObject(targetOf(h));
    expect(Date.parse(patched.body.created_at), 'created_at stays').toBe(Date.parse(made.body.created_at));
    expect(Date.parse(patched.body.updated_at), `updated_at ${patched.body.updated_at} after the update, was ${made.body.updated_at}`).toBeGreaterThan(Date.parse(made.body.updated_at));
    const got = await h.api.get(`/v1/gateway/endpoints/${made.body.id}`);
    expect(Date.parse(got.body.updated_at), 'a read after the update shows it').toBe(Date.parse(patched.body.updated_at));
  });
});

describe('Endpoints: documented refusals', () => {
  rule('a slug whose prefix the organisation does not own is refused (400)', ['endpoints'], async (h) => {
    const res = await createEndpoint(h, { slug: `${h.t.runId}-not-ours/${h.t.runId}`, targets: [targetOf(h)] });
    expect(res.status).toBe(400);
  });

  rule('a slug already taken is refused (400)', ['endpoints'], async (h) => {
    const slug = slugOf(h);
    expect((await createEndpoint(h, { slug, targets: [targetOf(h)] })).status).toBe(200);
    expect((await createEndpoint(h, { slug, targets: [targetOf(h)] })).status).toBe(400);
  });

  rule('targets must hold exactly one entry: none or two are refused (400)', ['endpoints'], async (h) => {
    expect((await createEndpoint(h, { slug: slugOf(h), targets: [] })).status).toBe(400);
    expect((await createEndpoint(h, { slug: slugOf(h), targets: [targetOf(h), targetOf(h)] })).status).toBe(400);
  });

  rule('an unknown Baseten environment is refused (400)', ['endpoints'], async (h, ctx) => {
    if (targetOf(h).provider !== 'BASETEN') ctx.skip('needs a BASETEN target (FGW_ENDPOINT_TARGET)');
    const res = await createEndpoint(h, { slug: slugOf(h), targets: [{ ...targetOf(h), environment_name: `${h.t.runId}-no-such-env` }] });
    expect(res.status).toBe(400);
  });

  rule('provider-specific fields are checked: an external provider without secret_id is refused (400)', ['endpoints'], async (h) => {
    const res = await createEndpoint(h, { slug: slugOf(h), targets: [{ provider: 'OPENAI', target_model: 'gpt-4o' }] });
    expect(res.status).toBe(400);
  });

  rule("another workspace's endpoint is 403 on get, update and delete; an id that does not exist is 404", ['endpoints', 'other-workspace'], async (h) => {
    const made = await createEndpoint(h, { slug: slugOf(h), targets: [targetOf(h)] });
    const theirs = { key: h.t.keys.otherWorkspace as string };
    expect((await h.api.get(`/v1/gateway/endpoints/${made.body.id}`, theirs)).status, 'get').toBe(403);
    expect((await h.api.patch(`/v1/gateway/endpoints/${made.body.id}`, { targets: [targetOf(h)] }, theirs)).status, 'update').toBe(403);
    expect((await h.api.del(`/v1/gateway/endpoints/${made.body.id}`, theirs)).status, 'delete').toBe(403);
    expect((await h.api.get(`/v1/gateway/endpoints/${made.body.id}`)).status, 'still there').toBe(200);
    expect((await h.api.get(`/v1/gateway/endpoints/${h.t.runId}-missing`)).status, 'missing').toBe(404);
  });

  rule('a view-scope key may not create an endpoint (403)', ['endpoints', 'view-key'], async (h) => {
    const res = await h.api.post('/v1/gateway/endpoints', { slug: slugOf(h), targets: [targetOf(h)] }, { key: h.t.keys.view as string });
    expect(res.status).toBe(403);
  });

  rule('a workspace that is not onboarded gets 403', ['not-onboarded'], async (h) => {
    expect((await h.api.get('/v1/gateway/endpoints', { key: h.t.keys.notOnboarded as string })).status).toBe(403);
  });
});

describe("Endpoints: the mock's own choices", () => {

  mockRule('a chat for a slug with an endpoint names its target in X-Fgw-Endpoint-Target, at once', 37, ['endpoints', 'inference'], async (h) => {
    const slug = slugOf(h, 'routed');
    const group = await h.group({ models: [{ slug }] });
    const { api_key } = await h.key(group.id);
    const chat = () => h.inference.post('/v1/chat/completions', { model: slug, messages: [{ role: 'user', content: 'hi' }] }, { key: api_key });
    expect((await chat()).headers['x-fgw-endpoint-target']).toBe('none');
    const made = await createEndpoint(h, { slug, targets: [{ provider: 'BASETEN', model_id: 'conformance' }] });
    expect((await chat()).headers['x-fgw-endpoint-target']).toBe('BASETEN model_id=conformance environment=production');
    await h.api.del(`/v1/gateway/endpoints/${made.body.id}`);
    expect((await chat()).headers['x-fgw-endpoint-target']).toBe('none');
  });
});
