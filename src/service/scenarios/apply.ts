import type { KeyObject } from 'node:crypto';
import { GatewayError } from '../../domain/errors.js';
import { parsePublicKey } from '../../domain/register.js';
import type { ReplyRuleInput } from '../../domain/scripted-replies.js';
import type { Store } from '../../store/store.js';
import { Gateway } from '../gateway.js';
import { entryLabel, ScenarioError, workspaceOf, type Scenario, type ScenarioGroup, type ScenarioSource } from './scenario.js';

/**
 * Applies checked scenarios to the store, all or nothing: they go, in order, through the
 * Gateway's own operations (so every rule of groups, hierarchies, cascades and keys
 * holds) on a fork of the store, and the store takes the fork over only when every one
 * of them went through. A refused scenario leaves the store exactly as it was.
 */

export interface ScenarioSummary {
  source: string;
  workspaces: string[];
  endpoints: { slug: string; id: string; workspace_id: string }[];
  /** Each group by its local name, with the id the mock gave it. */
  groups: { name: string; id: string; workspace_id: string; external_entity_id: string }[];
  api_keys: { group: string; prefix: string; name: string | null }[];
  /** The management keys the scenario defines, for the start-up banner (never sent by the admin route). */
  management_keys: { key: string; workspace: string; scope: 'management' | 'view' }[];
  /** The scenario's scripted reply rules, a local group name in `match.group` replaced by the group's id (never sent by the admin route). */
  replies: ReplyRuleInput[];
}

/**
 * What a workspace a scenario adds gets when the scenario does not say: the receiver,
 * signing secret and registration key of --webhook-url, --webhook-secret and
 * --register-public-key.
 */
export interface WorkspaceDefaults {
  webhookUrl: string | null;
  webhookSecret: string;
  registerPublicKey: KeyObject | null;
}

/** Applies `scenarios` in order, or throws the first one's ScenarioError and changes nothing. */
export function applyScenarios(store: Store, scenarios: readonly ScenarioSource[], defaults: WorkspaceDefaults): ScenarioSummary[] {
  const scratch = store.fork();
  const gateway = new Gateway(scratch);
  const summaries = scenarios.map(({ source, scenario }) => {
    try {
      return applyOne(scratch, gateway, scenario, source, defaults);
    } catch (e) {
      if (e instanceof ScenarioError) throw e;
      throw new ScenarioError(source, [(e as Error).message]);
    }
  });
  store.adopt(scratch);
  return summaries;
}

/** A problem of one entry: thrown with the entry's label, turned into a ScenarioError above. */
class EntryError extends Error {}

function applyOne(store: Store, gateway: Gateway, s: Scenario, source: string, defaults: WorkspaceDefaults): ScenarioSummary {
  const ids = new Map<string, { id: string; workspace: string }>();
  const managementKeys: ScenarioSummary['management_keys'] = [];
  const at = (label: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (e instanceof GatewayError || e instanceof EntryError) {
        const detail = e instanceof GatewayError && e.detail ? ` (${e.detail})` : '';
        // The API's field names in the scenario's terms.
        const message = `${e.message}${detail}`.replace(/hierarchy\.limit_enforcement/g, 'limit_enforcement').replace(/hierarchy\.parent_group_id/g, 'parent');
        throw new ScenarioError(source, [namesFor(`${label}: ${message}`, ids)]);
      }
      throw e;
    }
  };

  if (s.clock) {
    const start = Date.parse(s.clock.start);
    const timestamped = store.allGroups().length > 0 || store.webhooks.view().deliveries.length > 0 || hasCounters(store);
    if (start < store.clock.now() && timestamped) {
      throw new ScenarioError(source, [
        `clock.start ${s.clock.start} is before the mock's current time ${new Date(store.clock.now()).toISOString()}, and the mock already holds groups, counters or deliveries; the clock only moves backwards on an empty mock (POST /_mock/reset first)`,
      ]);
    }
    store.clock.restoreTo(start);
  }

  (s.workspaces ?? []).forEach((w, i) => {
    at(entryLabel(s, 'workspaces', i), () => {
      const existing = store.workspace(w.id);
      let registerPublicKey = existing ? existing.registerPublicKey : defaults.registerPublicKey;
      if (w.register_public_key !== undefined) {
        try {
          registerPublicKey = w.register_public_key === null ? null : parsePublicKey(w.register_public_key);
        } catch (e) {
          throw new EntryError(`register_public_key ${(e as Error).message}`);
        }
      }
      const orgPrefixes = w.org_prefixes ?? existing?.orgPrefixes ?? [w.id];
      for (const prefix of orgPrefixes) {
        const owner = store.workspaces().find((o) => o.id !== w.id && o.orgPrefixes.includes(prefix));
        if (owner) throw new EntryError(`org prefix ${JSON.stringify(prefix)} is already owned by workspace ${owner.id}; endpoint slugs are global, so a prefix has one owner`);
      }
      store.putWorkspace({
        id: w.id,
        onboarded: w.onboarded ?? existing?.onboarded ?? true,
        webhookUrl: w.webhook?.url !== undefined ? w.webhook.url : existing ? existing.webhookUrl : defaults.webhookUrl,
        webhookSecret: w.webhook?.secret ?? existing?.webhookSecret ?? defaults.webhookSecret,
        orgPrefixes: [...orgPrefixes],
        environments: [...(w.environments ?? existing?.environments ?? ['production', 'staging'])],
        registerPublicKey,
      });
      (w.management_keys ?? []).forEach((k, j) => {
        if (store.managementKey(k.key)) throw new EntryError(`management_keys[${j}].key is already a management key of the mock`);
        store.insertManagementKey(k.key, w.id, k.scope ?? 'management');
        managementKeys.push({ key: k.key, workspace: w.id, scope: k.scope ?? 'management' });
      });
    });
  });

  const summary: ScenarioSummary = { source, workspaces: (s.workspaces ?? []).map((w) => w.id), endpoints: [], groups: [], api_keys: [], management_keys: managementKeys, replies: [] };
  const book = gateway.endpoints;
  (s.endpoints ?? []).forEach((e, i) => {
    at(entryLabel(s, 'endpoints', i), () => {
      const workspace = workspaceOf(s, e) as string;
      if (!store.workspace(workspace)) throw new EntryError(`workspace ${JSON.stringify(workspace)} is neither in this scenario nor in the mock`);
      const view = book.create(workspace, { slug: e.slug, ...(e.region ? { region: e.region } : {}), targets: e.targets });
      summary.endpoints.push({ slug: view.slug, id: view.id, workspace_id: workspace });
    });
  });

  const groups = s.groups ?? [];
  for (const i of parentsFirst(groups)) {
    const g = groups[i] as ScenarioGroup;
    at(entryLabel(s, 'groups', i), () => {
      const workspace = workspaceOf(s, g) as string;
      if (!store.workspace(workspace)) throw new EntryError(`workspace ${JSON.stringify(workspace)} is neither in this scenario nor in the mock`);
      const parent = g.parent === undefined ? null : (ids.get(g.parent) as { id: string; workspace: string });
      if (parent && parent.workspace !== workspace) throw new EntryError(`parent ${JSON.stringify(g.parent)} is in workspace ${parent.workspace}, not ${workspace}`);
      const view = gateway.groups.create(workspace, {
        metadata: { name: g.metadata?.name ?? null, external_entity_id: g.metadata?.external_entity_id ?? g.name },
        models: g.models,
        hierarchy: { ...(g.limit_enforcement ? { limit_enforcement: g.limit_enforcement } : {}), parent_group_id: parent?.id ?? null },
      });
      ids.set(g.name, { id: view.id, workspace });
      summary.groups.push({ name: g.name, id: view.id, workspace_id: workspace, external_entity_id: view.metadata.external_entity_id });
    });
  }
  // Keys and usage once every group exists, so usage can count against inherited limits.
  groups.forEach((g, i) => {
    const { id, workspace } = ids.get(g.name) as { id: string; workspace: string };
    at(entryLabel(s, 'groups', i), () => {
      (g.keys ?? []).forEach((k, j) => {
        try {
          const key = gateway.keys.addKnown(workspace, id, k.api_key, k.name);
          summary.api_keys.push({ group: g.name, prefix: key.prefix, name: key.name });
        } catch (e) {
          throw new EntryError(`keys[${j}].api_key: ${(e as Error).message}`);
        }
      });
      (g.usage ?? []).forEach((u, j) => {
        try {
          gateway.usage.countDailyUsage(workspace, id, u.slug, u.type, u.used);
        } catch (e) {
          throw new EntryError(`usage[${j}]: ${(e as Error).message}`);
        }
      });
    });
  });
  // A rule's match.group may name a group of this scenario: it matches that group's id.
  summary.replies = (s.replies ?? []).map((r) => {
    const group = r.match?.group === undefined ? undefined : ids.get(r.match.group)?.id;
    return group === undefined ? r : { ...r, match: { ...r.match, group } };
  });
  return summary;
}

/** The groups' indexes with every parent before its children (the file may list them in any order). */
function parentsFirst(groups: readonly ScenarioGroup[]): number[] {
  const index = new Map(groups.map((g, i) => [g.name, i]));
  const done = new Set<number>();
  const order: number[] = [];
  const visit = (i: number) => {
    if (done.has(i)) return;
    done.add(i);
    const parent = groups[i]?.parent;
    if (parent !== undefined) visit(index.get(parent) as number);
    order.push(i);
  };
  groups.forEach((_, i) => visit(i));
  return order;
}

/** Replaces generated group ids in a message with the scenario's local names. */
function namesFor(message: string, ids: Map<string, { id: string }>): string {
  let out = message;
  for (const [name, { id }] of ids) out = out.split(id).join(JSON.stringify(name));
  return out;
}

function hasCounters(store: Store): boolean {
  const c = store.meter.snapshot(store.clock.now());
  return c.rolling.length > 0 || c.daily.length > 0;
}
