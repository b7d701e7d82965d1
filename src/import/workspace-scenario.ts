import { Document, isScalar, visit } from 'yaml';
import { IdSource } from '../domain/ids.js';
import { KEY_PREFIX_TAG, PREFIX_LENGTH } from '../domain/keys.js';
import type { Enforcement, Limit, LimitUnit, ModelConfigInput, RateUnit, UsageUnit } from '../domain/limits.js';
import { checkScenario, type Scenario, type ScenarioEndpoint, type ScenarioGroup } from '../service/scenarios/scenario.js';

/**
 * A workspace as the gateway API shows it (groups, endpoints, key prefixes and names),
 * turned into a scenario document the mock loads (scenarios/scenario.schema.json). Pure:
 * no I/O; fresh secrets come from an injectable IdSource. Used by
 * `frontier-gateway-mock import` (src/cli-import.ts, over src/import/fetch-workspace.ts)
 * and by the proxy's `--record`.
 *
 * What the API shows is kept: each group's external id, name, models with their rate and
 * usage limits, its place in the hierarchy and its tree's enforcement mode; each
 * endpoint's slug, region and target; each key's prefix and name. What it cannot give is
 * listed as a warning, never dropped silently: key secrets (each key gets a fresh local
 * one, kept in the scenario), usage already counted, workspace settings. See
 * AMBIGUITIES.md #112-#115.
 */

export interface ObservedWorkspace {
  /** Group objects as the gateway API returns them (GET /v1/gateway/groups items). */
  groups: unknown[];
  /** Endpoint objects as the API returns them (GET /v1/gateway/endpoints items). */
  endpoints: unknown[];
  /** Key prefixes and names (GET /v1/gateway/groups/{id}/api_keys items), never a secret. */
  keys: { group_id: string; prefix: string; name: string | null }[];
}

export interface WorkspaceScenarioOptions {
  /** The workspace id everything is put in (default `imported`). */
  workspace?: string;
  /** The scenario's description. */
  description?: string;
  /** Where fresh secrets come from (default: the OS's secure random source). */
  ids?: IdSource;
}

/** A fresh key secret, to print once: `key` is the whole `prefix.secret`. */
export interface ImportedSecret {
  prefix: string;
  /** The group's local name in the scenario. */
  group: string;
  key: string;
  name: string | null;
}

export interface WorkspaceScenario {
  /** Valid against scenarios/scenario.schema.json (checked before it is returned). */
  scenario: Scenario;
  /** One per imported key, in the scenario's order. */
  secrets: ImportedSecret[];
  /** The fresh management key of the scenario's workspace. */
  managementKey: string;
  /** What the scenario could not express, one line each. */
  warnings: string[];
}

export const DEFAULT_IMPORT_WORKSPACE = 'imported';
/** As long as a minted key's secret (src/domain/keys.ts): 43 characters of base62. */
const SECRET_LENGTH = 43;
const PREFIX_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${PREFIX_LENGTH}}$`);
const NAME_MAX = 200;
const TARGET_FIELDS = ['model_id', 'environment_name', 'secret_id', 'target_model', 'vertex_config', 'base_url'] as const;
const DEFAULT_ENVIRONMENTS = ['production', 'staging'];

interface ObservedGroup {
  id: string;
  externalId: string;
  name: string | null;
  parentId: string | null;
  mode: Enforcement | undefined;
  models: ModelConfigInput[];
}

const q = (s: string) => JSON.stringify(s);
/** `1 group`, `2 groups`. */
export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Each limit's three fields, as observed; the schema check at the end refuses a bad one. */
function limitsOf<U extends LimitUnit>(v: unknown): Limit<U>[] {
  if (!Array.isArray(v)) return [];
  return v.map((l) => {
    const r = record(l);
    return { type: r?.type, unit: r?.unit, threshold: r?.threshold } as Limit<U>;
  });
}

/** A model as the scenario writes it: only the limits it declares (empty lists left out). */
function modelOf(v: unknown): ModelConfigInput {
  const m = record(v) ?? {};
  const rate = limitsOf<RateUnit>(m.rate_limits);
  const usage = limitsOf<UsageUnit>(m.usage_limits);
  return { slug: m.slug as string, ...(rate.length ? { rate_limits: rate } : {}), ...(usage.length ? { usage_limits: usage } : {}) };
}

function groupOf(v: unknown, i: number, warnings: string[]): ObservedGroup | undefined {
  const g = record(v);
  const metadata = record(g?.metadata);
  const hierarchy = record(g?.hierarchy);
  if (!g || typeof g.id !== 'string' || typeof metadata?.external_entity_id !== 'string' || !Array.isArray(g.models)) {
    warnings.push(`groups[${i}] is not a group object (id, metadata.external_entity_id, models); skipped`);
    return undefined;
  }
  const mode = hierarchy?.limit_enforcement === 'CASCADING' || hierarchy?.limit_enforcement === 'INDEPENDENT' ? hierarchy.limit_enforcement : undefined;
  return {
    id: g.id,
    externalId: metadata.external_entity_id,
    name: typeof metadata.name === 'string' ? metadata.name : null,
    parentId: typeof hierarchy?.parent_group_id === 'string' ? hierarchy.parent_group_id : null,
    mode,
    models: g.models.map(modelOf),
  };
}

/** The group's name in the file: its external id (or name) in the scenario's name alphabet, unique. */
function localNames(groups: readonly ObservedGroup[]): Map<string, string> {
  const taken = new Set<string>();
  const out = new Map<string, string>();
  const clean = (s: string | null) => (s ?? '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, NAME_MAX);
  for (const g of groups) {
    const base = clean(g.externalId) || clean(g.name) || 'group';
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    out.set(g.id, name);
  }
  return out;
}

/**
 * The groups with every parent before its children (each root, then its subtree, in the
 * order observed). A group whose parent was not observed, or that sits on a cycle, is
 * written as a root, with a warning.
 */
function parentsFirst(groups: readonly ObservedGroup[], warnings: string[]): { group: ObservedGroup; root: boolean }[] {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const children = new Map<string, ObservedGroup[]>();
  for (const g of groups) {
    if (g.parentId !== null && byId.has(g.parentId)) children.set(g.parentId, [...(children.get(g.parentId) ?? []), g]);
  }
  const out: { group: ObservedGroup; root: boolean }[] = [];
  const seen = new Set<string>();
  const visit = (g: ObservedGroup, root: boolean) => {
    const stack = [{ g, root }];
    while (stack.length) {
      const at = stack.pop() as { g: ObservedGroup; root: boolean };
      if (seen.has(at.g.id)) continue;
      seen.add(at.g.id);
      out.push({ group: at.g, root: at.root });
      // Reversed onto the stack, so children come out in the order observed.
      for (const c of [...(children.get(at.g.id) ?? [])].reverse()) stack.push({ g: c, root: false });
    }
  };
  for (const g of groups) {
    if (g.parentId === null) visit(g, true);
    else if (!byId.has(g.parentId)) {
      warnings.push(`group ${q(g.externalId)}: its parent ${q(g.parentId)} was not observed; written as a root group`);
      visit(g, true);
    }
  }
  for (const g of groups) {
    if (!seen.has(g.id)) {
      warnings.push(`group ${q(g.externalId)}: its parent chain is a cycle; written as a root group`);
      visit(g, true);
    }
  }
  return out;
}

function endpointOf(v: unknown, i: number, warnings: string[]): ScenarioEndpoint | undefined {
  const e = record(v);
  const targets = Array.isArray(e?.targets) ? e.targets : [];
  if (!e || typeof e.slug !== 'string' || targets.length === 0) {
    warnings.push(`endpoints[${i}] has no slug or no target; skipped`);
    return undefined;
  }
  if (targets.length > 1) {
    warnings.push(`endpoint ${q(e.slug)}: ${targets.length} targets, a scenario (and the mock) takes one; only the first (highest priority) is kept`);
  }
  const t = record(targets[0]) ?? {};
  const target: Record<string, unknown> = { provider: t.provider };
  for (const field of TARGET_FIELDS) {
    const value = t[field];
    if (value === null || value === undefined) continue;
    const vertex = field === 'vertex_config' ? record(value) : undefined;
    target[field] = vertex ? { project_id: vertex.project_id, location: vertex.location } : value;
  }
  return {
    slug: e.slug,
    ...(e.region === 'EU' || e.region === 'UNRESTRICTED' ? { region: e.region } : {}),
    targets: [target as ScenarioEndpoint['targets'][number]],
  };
}

/**
 * The scenario for an observed workspace, with the fresh secrets it holds. Throws a
 * ScenarioError when what was observed cannot make a valid scenario even so (e.g. a
 * model slug the schema refuses).
 */
export function scenarioFromWorkspace(ws: ObservedWorkspace, opts: WorkspaceScenarioOptions = {}): WorkspaceScenario {
  const ids = opts.ids ?? new IdSource();
  const workspaceId = opts.workspace ?? DEFAULT_IMPORT_WORKSPACE;
  const warnings: string[] = [];

  // Endpoints, and what the workspace must own and know for them.
  const endpoints = ws.endpoints.map((e, i) => endpointOf(e, i, warnings)).filter((e) => e !== undefined);
  const orgPrefixes = [...new Set(endpoints.map((e) => e.slug.split('/')[0] as string))];
  const environments = [...new Set([...DEFAULT_ENVIRONMENTS, ...endpoints.flatMap((e) => (typeof e.targets[0]?.environment_name === 'string' ? [e.targets[0].environment_name] : []))])];

  // Groups, parents first; a group without models (a scenario group needs one) is left out with its subtree.
  const observed = ws.groups.map((g, i) => groupOf(g, i, warnings)).filter((g) => g !== undefined);
  const names = localNames(observed);
  const modeOf = new Map(observed.map((g) => [g.id, g.mode]));
  const left = new Set<string>();
  const groups: ScenarioGroup[] = [];
  for (const { group: g, root } of parentsFirst(observed, warnings)) {
    const name = names.get(g.id) as string;
    if (!root && g.parentId !== null && left.has(g.parentId)) {
      left.add(g.id);
      warnings.push(`group ${q(g.externalId)}: left out with its parent`);
      continue;
    }
    if (g.models.length === 0) {
      left.add(g.id);
      warnings.push(`group ${q(g.externalId)}: no models, and a scenario group needs at least one; left out, with its subtree and keys`);
      continue;
    }
    const parentMode = g.parentId === null ? undefined : modeOf.get(g.parentId);
    if (!root && g.mode !== undefined && parentMode !== undefined && g.mode !== parentMode) {
      warnings.push(`group ${q(g.externalId)}: mode ${g.mode} differs from its parent's ${parentMode}; a child takes its tree's mode, so it will be ${parentMode}`);
    }
    groups.push({
      name,
      ...(root ? {} : { parent: names.get(g.parentId as string) as string }),
      ...(root && g.mode !== undefined ? { limit_enforcement: g.mode } : {}),
      metadata: { name: g.name, external_entity_id: g.externalId },
      models: g.models,
    });
  }

  // Keys: prefix and name kept, a fresh secret each.
  const groupByName = new Map(groups.map((g) => [g.name, g]));
  const prefixes = new Set<string>();
  const secrets: ImportedSecret[] = [];
  for (const k of ws.keys) {
    const name = names.get(k.group_id);
    const group = name === undefined ? undefined : groupByName.get(name);
    if (!group) {
      warnings.push(`key ${q(k.prefix)}: its group ${q(k.group_id)} is not in the scenario; skipped`);
      continue;
    }
    let prefix = k.prefix;
    if (!PREFIX_SHAPE.test(prefix) || prefixes.has(prefix)) {
      const why = prefixes.has(prefix) ? 'is used by another key' : `is not ${PREFIX_LENGTH} characters of [A-Za-z0-9_-], the shape the mock finds keys by`;
      do prefix = `${KEY_PREFIX_TAG}${ids.string(PREFIX_LENGTH - KEY_PREFIX_TAG.length)}`;
      while (prefixes.has(prefix));
      warnings.push(`key ${q(k.prefix)} of group ${q(group.name)}: the prefix ${why}; it gets the new prefix ${prefix}`);
    }
    prefixes.add(prefix);
    const key = `${prefix}.${ids.string(SECRET_LENGTH)}`;
    (group.keys ??= []).push({ name: k.name, api_key: key });
    secrets.push({ prefix, group: group.name, key, name: k.name });
  }

  const managementKey = `mk_${ids.string(40)}`;
  if (secrets.length) {
    warnings.push(`key secrets cannot be read from the API: each of the ${count(secrets.length, 'key')} has a fresh local secret (kept in the scenario); the real keys do not work on the mock, nor these on the gateway`);
  }
  warnings.push('usage already counted today is not imported: the mock counts from zero');
  warnings.push(
    'workspace settings the API does not show are not imported (webhook receiver and signing secret, management keys and their scopes, registration public key, org prefixes no endpoint uses): the workspace gets the mock\'s defaults and a fresh management key',
  );
  warnings.push('group and endpoint ids and creation times are new on the mock; match groups by external_entity_id');

  const raw: Scenario = {
    description: opts.description ?? `Workspace imported by frontier-gateway-mock: ${count(groups.length, 'group')}, ${count(endpoints.length, 'endpoint')}, ${count(secrets.length, 'key')}.`,
    workspaces: [
      {
        id: workspaceId,
        management_keys: [{ key: managementKey, scope: 'management' }],
        ...(orgPrefixes.length ? { org_prefixes: orgPrefixes } : {}),
        ...(environments.length > DEFAULT_ENVIRONMENTS.length ? { environments } : {}),
      },
    ],
    endpoints,
    groups,
  };
  return { scenario: checkScenario(raw, 'the imported scenario'), secrets, managementKey, warnings };
}

/**
 * The scenario as a YAML file: a header saying where and when it was imported from, what
 * was not, and that the secrets in it are local; then the document.
 */
export function scenarioYaml(result: WorkspaceScenario, from: { source: string; at: number; by?: string }): string {
  const line = (s: string) => s.replace(/[\r\n\u2028\u2029]+/g, ' ');
  const header = [
    `# Imported from ${line(from.source)} at ${new Date(from.at).toISOString()}`,
    `# by ${line(from.by ?? 'frontier-gateway-mock import (read-only calls)')}. Load it with:`,
    '#   npx frontier-gateway-mock --scenario THIS_FILE',
    '#',
    '# The secrets below (the management key and every federated key) were made here: the',
    "# real ones cannot be read back. Share this file with your team; it grants nothing on",
    '# the real gateway.',
    ...(result.warnings.length ? ['#', '# Not imported:', ...result.warnings.map((w) => `#   - ${line(w)}`)] : []),
    '',
  ];
  // Small maps of plain values on one line, as the shipped scenarios write them: `{ type: TOKEN, unit: DAY, threshold: 1000 }`.
  const doc = new Document(result.scenario);
  visit(doc, {
    Map(_, node) {
      if (node.items.length <= 4 && node.items.every((p) => p.value === null || (isScalar(p.value) && !/[\r\n]/.test(String(p.value.value))))) node.flow = true;
    },
  });
  return `${header.join('\n')}${doc.toString({ lineWidth: 0 })}`;
}
