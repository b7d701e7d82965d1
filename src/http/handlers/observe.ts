import { readFileSync } from 'node:fs';
import { rfc3339, rfc3339Millis } from '../../domain/clock.js';
import { describeTarget } from '../../domain/endpoints.js';
import type { EndpointRecord, GroupRecord } from '../../domain/records.js';
import { PACKAGE_ROOT } from '../../paths.js';
import type { JournalFilter } from '../journal.js';
import { lazyArray, mapped, streamJson } from '../json-stream.js';
import type { Ctx, HandlerMap } from '../registry.js';

/**
 * The mock's observation routes (openapi/mock-admin.yaml): the request journal, fault
 * injection, and the inspector page with the compact JSON it polls. None of them shows a
 * key secret: keys appear as prefixes and names, journal entries are redacted when taken.
 */

const INSPECTOR_PATH = new URL('inspector/index.html', PACKAGE_ROOT);
let inspectorHtml: string | undefined;
/** At most this many groups in one inspector document (all workspaces), keys per group, endpoints per workspace, and callers per endpoint. */
const MAX_GROUPS = 500;
const MAX_KEYS = 50;
const MAX_ENDPOINTS = 200;
const MAX_CALLERS = 50;

/** A group as a journal row or an endpoint names it. */
interface GroupName {
  id: string;
  name: string | null;
  external_entity_id: string | null;
}
const groupName = (g: GroupRecord): GroupName => ({ id: g.id, name: g.name, external_entity_id: g.externalEntityId });

export const observeHandlers: HandlerMap = {
  listMockRequests: (ctx) => {
    const { journal } = ctx.mock;
    const q = ctx.query;
    const filter: JournalFilter = { limit: q.limit };
    if (q.path !== undefined) filter.path = q.path;
    if (q.operation !== undefined) filter.operation = q.operation;
    if (q.status !== undefined) filter.status = q.status;
    return {
      body: {
        entries: journal.list(filter),
        size: journal.size,
        bytes: journal.bytes,
        dropped: journal.dropped,
        max_entries: journal.maxEntries,
        max_bytes: journal.maxBytes,
      },
    };
  },
  clearMockRequests: (ctx) => {
    ctx.mock.journal.clear();
    return { body: { ok: true } };
  },
  listMockFaults: (ctx) => ({ body: { faults: ctx.mock.faults.list() } }),
  addMockFault: (ctx) => ({ status: 201, body: ctx.mock.faults.add(ctx.body) }),
  clearMockFaults: (ctx) => {
    ctx.mock.faults.clear();
    return { body: { ok: true } };
  },
  removeMockFault: (ctx) => ({ body: ctx.mock.faults.remove(ctx.params.fault_id) }),
  getMockInspector: () => {
    inspectorHtml ??= readFileSync(INSPECTOR_PATH, 'utf8');
    return { text: inspectorHtml, contentType: 'text/html; charset=utf-8', headers: { 'Cache-Control': 'no-store' } };
  },
  // Streamed one workspace at a time (src/http/json-stream.ts).
  getMockInspectorData: (ctx) => streamJson(ctx.res, inspectorData(ctx, ctx.query.tail as number /* the spec's default applies */)),
};

/** Everything the inspector page shows, in one document: trees, keys, live usage, journal tail, webhooks, faults, clock. */
function inspectorData(ctx: Ctx, tail: number) {
  const { store, gateway, clock, journal, faults } = ctx.mock;
  // The page polls every second: a very large state is shown in part, never copied whole.
  let budget = MAX_GROUPS;
  // The groups shown of the workspace being written, by each slug their effective models hold.
  let callers = new Map<string, GroupName[]>();
  const node = (g: GroupRecord): unknown => {
    if (budget <= 0) return null;
    budget -= 1;
    const view = gateway.groups.view(g);
    for (const m of view.effective_models) {
      const list = callers.get(m.slug);
      if (list === undefined) callers.set(m.slug, [groupName(g)]);
      else list.push(groupName(g));
    }
    const keys = store.keysOf(g.id);
    const shownKeys: { prefix: string; name: string | null }[] = [];
    for (const k of keys ?? []) {
      if (shownKeys.length >= MAX_KEYS) break;
      shownKeys.push({ prefix: k.prefix, name: k.name });
    }
    return {
      id: g.id,
      name: g.name,
      external_entity_id: g.externalEntityId,
      limit_enforcement: g.mode,
      parent_group_id: g.parentId,
      models: view.models,
      effective_models: view.effective_models,
      keys: shownKeys,
      key_count: keys?.size ?? 0,
      usage: gateway.usage.liveUsage(g),
      children: store
        .childrenOf(g.id)
        .sort((a, b) => a.seq - b.seq)
        .map(node)
        .filter((n) => n !== null),
    };
  };
  const workspaces = mapped(store.workspaces(), (w) => {
    const all = store.groupsOf(w.id);
    const before = budget;
    callers = new Map();
    const groups = [...(all ?? [])]
      .filter((g) => g.parentId === null)
      .map(node)
      .filter((n) => n !== null);
    const groupsNotShown = (all?.size ?? 0) - (before - budget);
    const endpoints: unknown[] = [];
    for (const e of store.endpointsOf(w.id) ?? []) {
      if (endpoints.length >= MAX_ENDPOINTS) break;
      endpoints.push(endpointRow(e, callers.get(e.slug) ?? []));
    }
    return {
      id: w.id,
      onboarded: w.onboarded,
      webhook_url: w.webhookUrl,
      groups,
      groups_not_shown: groupsNotShown,
      endpoints,
      endpoints_not_shown: (store.endpointsOf(w.id)?.size ?? 0) - endpoints.length,
    };
  });
  const groupOf = (id: string | null): GroupName | null => {
    if (id === null) return null;
    const g = store.group(id);
    // A group deleted since the call: its id only.
    return g ? groupName(g) : { id, name: null, external_entity_id: null };
  };
  const webhooks = store.webhooks.tail(tail);
  const horizon = gateway.events.horizon();
  const span = store.webhooks.eventSpan(horizon);
  const stamp = (ms: number | null) => (ms === null ? null : rfc3339Millis(ms));
  return {
    now: rfc3339(clock.now()),
    offset_seconds: clock.offset / 1000,
    workspaces: lazyArray(workspaces),
    journal: journal.list({ limit: tail }).map((e) => ({
      seq: e.seq,
      at: e.at,
      method: e.method,
      path: e.path,
      operation: e.operation,
      status: e.status,
      duration_ms: e.duration_ms,
      outcome: e.outcome,
      request_id: e.request_id,
      fault: e.fault?.id ?? null,
      // Where the live gateway would have answered otherwise (a slug without an endpoint).
      note: e.response.headers['x-fgw-note'] ?? null,
      // Who called (a federated key's prefix and group), which limit refused it, and the
      // bodies, redacted when the journal took them (src/http/redact.ts).
      workspace_id: e.workspace_id,
      key_prefix: e.key_prefix,
      group: groupOf(e.group_id),
      refusal: e.refusal,
      request: e.request,
      response: e.response,
    })),
    webhooks: {
      total: webhooks.total,
      deliveries: webhooks.deliveries.map(({ signature: _s, payload, ...d }) => ({ ...d, events: payload.data.events.map((e) => ({ model: e.modelSlug, customer: e.externalEntityId, key_prefix: e.apiKeyPrefix, tokens: e.tokens })) })),
      dead_letter: webhooks.dead_letter.map(({ signature: _s, payload: _p, ...d }) => d),
    },
    // GET /v1/gateway/events serves the webhook log's events: how many it keeps, and up to where they are queryable.
    events: {
      retained: span.count,
      oldest: stamp(span.oldest),
      newest: stamp(span.newest),
      holdback_seconds: gateway.events.holdbackMs / 1000,
      queryable_until: rfc3339Millis(horizon),
      held_back: span.since,
    },
    faults: faults.list(),
  };
}

/**
 * An endpoint as the inspector shows it: its targets described as the X-Fgw-Endpoint-Target
 * header describes them, and the groups (among those shown) whose effective models hold
 * its slug, so whose keys may call it.
 */
function endpointRow(e: EndpointRecord, groups: GroupName[]) {
  return {
    id: e.id,
    slug: e.slug,
    region: e.region,
    targets: e.targets.map(describeTarget),
    callers: groups.slice(0, MAX_CALLERS),
    caller_count: groups.length,
  };
}
