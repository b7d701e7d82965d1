import { InvalidInstantError, rfc3339, wholeMillisecondsOf } from '../../domain/clock.js';
import { badRequest, notFound } from '../../domain/errors.js';
import { parsePublicKey, publicKeyBase64 } from '../../domain/register.js';
import { endpointView } from '../../service/endpoints.js';
import { ScenarioError } from '../../service/scenarios/errors.js';
import { rotateWebhookSecret } from '../../service/webhook-secrets.js';
import { SnapshotError } from '../../store/snapshot.js';
import { lazyArray, mapped, streamJson } from '../json-stream.js';
import type { Ctx, HandlerMap } from '../registry.js';

/** The mock's own routes under /_mock/ (openapi/mock-admin.yaml). */

const clockView = (ctx: Ctx) => ({
  now: new Date(ctx.mock.clock.now()).toISOString(),
  offset_seconds: ctx.mock.clock.offset / 1000,
});

export const adminHandlers: HandlerMap = {
  resetMock: (ctx) => {
    ctx.mock.reset();
    return { body: { ok: true } };
  },
  // Streamed (src/http/json-stream.ts): the whole state may be hundreds of MB as JSON.
  getMockState: (ctx) => {
    const { store, gateway, meter, clock } = ctx.mock;
    const now = clock.now();
    return streamJson(ctx.res, {
      now: rfc3339(now),
      workspaces: store.workspaces().map((w) => ({
        id: w.id,
        onboarded: w.onboarded,
        webhook_url: w.webhookUrl,
        org_prefixes: w.orgPrefixes,
        environments: w.environments,
        register_public_key: w.registerPublicKey ? publicKeyBase64(w.registerPublicKey) : null,
      })),
      groups: lazyArray(mapped(store.allGroups(), (g) => ({ workspace_id: g.workspaceId, group: gateway.groups.view(g) }))),
      api_keys: lazyArray(mapped(store.allKeys(), (k) => ({ workspace_id: k.workspaceId, group_id: k.groupId, prefix: k.prefix, name: k.name, created_at: rfc3339(k.createdAt) }))),
      endpoints: lazyArray(mapped(store.allEndpoints(), (e) => ({ workspace_id: e.workspaceId, endpoint: endpointView(e) }))),
      usage: meter.dailySnapshot(now).map((u) => ({
        group_id: u.groupId,
        slug: u.slug,
        type: u.type,
        unit: u.unit,
        current_usage: u.used,
        reset_at: rfc3339(u.resetAt),
      })),
    });
  },
  getMockClock: (ctx) => ({ body: clockView(ctx) }),
  setMockClock: (ctx) => {
    const { advance_seconds, now } = ctx.body;
    // The clock holds whole milliseconds (a fraction would poison every snapshot and state file).
    const advanceMs = advance_seconds === undefined ? undefined : wholeMillisecondsOf(advance_seconds);
    if (advance_seconds !== undefined && advanceMs === undefined) {
      throw badRequest(`advance_seconds ${advance_seconds} is not a whole number of milliseconds; the mock clock moves in steps of 0.001 s (at most three decimal places).`, 'invalid_time', 'advance_seconds');
    }
    try {
      if (advanceMs !== undefined) ctx.mock.clock.advance(advanceMs);
      else ctx.mock.clock.setNow(Date.parse(now as string));
    } catch (e) {
      // The clock refuses a time that is no instant (a leap second such as 23:59:60 parses
      // to NaN) and a move backwards; say so in the caller's terms.
      if (e instanceof InvalidInstantError) {
        throw advance_seconds !== undefined
          ? badRequest(`advance_seconds ${advance_seconds} takes the mock clock past the last time it can represent.`, 'invalid_time', 'advance_seconds')
          : badRequest(`now ${now} is not a time the mock can use (leap seconds such as 23:59:60 included); send an RFC 3339 time such as 2030-07-01T00:00:00Z.`, 'invalid_time', 'now');
      }
      if (!(e instanceof RangeError)) throw e;
      throw badRequest(`now ${now} is before the mock's current time ${clockView(ctx).now}; the mock clock only moves forward (POST /_mock/reset puts it back to real time).`, 'clock_backwards', 'now');
    }
    return { body: clockView(ctx) };
  },
  getMockSnapshot: (ctx) => ({ body: ctx.mock.snapshot() }),
  restoreMockSnapshot: (ctx) => {
    try {
      ctx.mock.restore(ctx.body);
    } catch (e) {
      if (e instanceof SnapshotError) throw badRequest(e.message, 'invalid_snapshot', null);
      throw e;
    }
    return { body: { ok: true } };
  },
  loadMockScenario: async (ctx) => {
    try {
      const { workspaces, endpoints, groups, api_keys } = await ctx.mock.loadScenario(ctx.body, 'scenario');
      return { body: { ok: true, workspaces, endpoints, groups, api_keys } };
    } catch (e) {
      if (e instanceof ScenarioError) throw badRequest(`Scenario refused, nothing was loaded: ${e.problems.join('; ')}`, 'invalid_scenario', null);
      throw e;
    }
  },
  rotateMockWebhookSecret: (ctx) => ({
    body: rotateWebhookSecret(ctx.mock.store, ctx.params.workspace_id, ctx.body?.secret),
  }),
  setRegisterPublicKey: (ctx) => {
    const id = ctx.params.workspace_id;
    if (!ctx.mock.store.workspace(id)) throw notFound(`No workspace ${id}.`, 'workspace_not_found', 'workspace_id');
    const given = ctx.body.public_key;
    let key;
    try {
      key = given === null ? null : parsePublicKey(given);
    } catch (e) {
      throw badRequest(`public_key ${(e as Error).message}.`, 'invalid_public_key', 'public_key');
    }
    ctx.mock.store.setRegisterPublicKey(id, key);
    return { body: { workspace_id: id, public_key: key ? publicKeyBase64(key) : null } };
  },
  // Streamed: the log holds up to 32 MiB of payloads, and its dead-letter queue as much.
  listMockWebhooks: (ctx) => {
    const { deliveries, dead_letter } = ctx.mock.store.webhooks.viewLazily();
    return streamJson(ctx.res, { deliveries: lazyArray(deliveries), dead_letter: lazyArray(dead_letter) });
  },
};
