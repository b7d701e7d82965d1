import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import type { EndpointTargetInput, Region } from '../../domain/endpoints.js';
import { GatewayError } from '../../domain/errors.js';
import type { ModelConfigInput } from '../../domain/limits.js';
import { checkRule, type ReplyRuleInput } from '../../domain/scripted-replies.js';
import { newAjv } from '../../lib/ajv.js';
import { PACKAGE_ROOT } from '../../paths.js';
import { ScenarioError } from './errors.js';

export { ScenarioError };

/**
 * The scenario format (scenarios/scenario.schema.json): what a file says, read from YAML
 * or JSON and checked against the schema and the file's own references (local group
 * names, parents, the workspace of each group). Every message names the entry and the
 * field, e.g. `groups[2] "pro-acme": models[0].rate_limits[0].threshold must be >= 0`.
 * Applying a checked scenario to the store is src/service/scenarios/apply.ts.
 */

export interface ScenarioGroup {
  name: string;
  workspace?: string;
  parent?: string;
  limit_enforcement?: 'INDEPENDENT' | 'CASCADING';
  metadata?: { name?: string | null; external_entity_id?: string };
  /** As in the API; the schema has checked the units of each list. */
  models: ModelConfigInput[];
  keys?: { api_key: string; name?: string | null }[];
  usage?: { slug: string; type: 'TOKEN' | 'REQUEST'; used: number }[];
}

export interface ScenarioWorkspace {
  id: string;
  onboarded?: boolean;
  webhook?: { url?: string | null; secret?: string };
  management_keys?: { key: string; scope?: 'management' | 'view' }[];
  org_prefixes?: string[];
  environments?: string[];
  /** Raw 32-byte Ed25519 public key, base64, that signs key registrations; null for none. */
  register_public_key?: string | null;
}

export interface ScenarioEndpoint {
  workspace?: string;
  slug: string;
  region?: Region;
  targets: EndpointTargetInput[];
}

export interface Scenario {
  description?: string;
  clock?: { start: string };
  workspaces?: ScenarioWorkspace[];
  endpoints?: ScenarioEndpoint[];
  groups?: ScenarioGroup[];
  /** Scripted reply rules; `match.group` may be a local group name of this scenario. */
  replies?: ReplyRuleInput[];
}

/** A scenario and where it came from (a file path, or how it was sent), for messages. */
export interface ScenarioSource {
  source: string;
  scenario: Scenario;
}

const MAX_PROBLEMS = 20;
let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(new URL('scenarios/scenario.schema.json', PACKAGE_ROOT), 'utf8')) as object;
    // allErrors: every problem of the file at once, not only the first.
    validator = newAjv({ allErrors: true }).compile({ ...schema, $id: undefined });
  }
  return validator;
}

/**
 * Bounds of a scenario file, checked before it is parsed. YAML costs about 120 times its
 * size in memory while it is parsed (a 5 MB file peaks near 600 MB), JSON a few times.
 */
export const MAX_YAML_SCENARIO_BYTES = 2 * 1024 * 1024;
export const MAX_JSON_SCENARIO_BYTES = 16 * 1024 * 1024;
/**
 * yaml's maxAliasCount: how far aliases (*name) may expand, counted as yaml does (each
 * alias times the aliases inside what it names). A file that reuses one anchor for every
 * group is far below it; a billion-laughs nest of aliases is far above it.
 */
export const MAX_YAML_ALIASES = 10_000;
/** At most this many values (objects, arrays, scalars) once aliases are expanded. */
export const MAX_SCENARIO_NODES = 1_000_000;

/** Reads a scenario file (.yaml, .yml or .json) and checks it; throws ScenarioError. */
export function loadScenarioFile(path: string): ScenarioSource {
  const json = extname(path).toLowerCase() === '.json';
  const max = json ? MAX_JSON_SCENARIO_BYTES : MAX_YAML_SCENARIO_BYTES;
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > max) {
      throw new ScenarioError(path, [`the file is ${size} bytes; a ${json ? 'JSON' : 'YAML'} scenario file may be at most ${max} bytes (${max / 1024 / 1024} MiB)`]);
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    throw new ScenarioError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = json ? JSON.parse(text) : parseYaml(text, { prettyErrors: true, maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    const message = (e as Error).message;
    if (/Excessive alias count/.test(message)) {
      throw new ScenarioError(path, [`its aliases (*name) expand beyond ${MAX_YAML_ALIASES} nodes (yaml maxAliasCount); a scenario may reuse anchors, but not nest them into an expansion this large`]);
    }
    throw new ScenarioError(path, [`not valid ${json ? 'JSON' : 'YAML'}: ${message}`]);
  }
  if (!json && !withinNodes(raw, MAX_SCENARIO_NODES)) {
    throw new ScenarioError(path, [`it holds more than ${MAX_SCENARIO_NODES} values once its aliases are expanded`]);
  }
  return { source: path, scenario: checkScenario(raw, path) };
}

/** Whether `value`, walked as a tree (a shared object counted at every place it appears), has at most `max` values; stops as soon as it has more. */
function withinNodes(value: unknown, max: number): boolean {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    if (++count > max) return false;
    const v = stack.pop();
    if (v !== null && typeof v === 'object') for (const child of Object.values(v)) stack.push(child);
  }
  return true;
}

/** `raw` as a Scenario, or a ScenarioError listing what is wrong with it. */
export function checkScenario(raw: unknown, source = 'scenario'): Scenario {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ScenarioError(source, ['a scenario must be an object (a YAML mapping or a JSON object)']);
  const validate = schemaValidator();
  if (!validate(raw)) throw new ScenarioError(source, unique((validate.errors ?? []).map((e) => describe(e, raw as Scenario))));
  const s = raw as Scenario;
  const problems = referenceProblems(s);
  if (problems.length) throw new ScenarioError(source, problems);
  return s;
}

type EntryList = 'groups' | 'workspaces' | 'endpoints';
const LABEL_FIELD: Record<EntryList, 'name' | 'id' | 'slug'> = { groups: 'name', workspaces: 'id', endpoints: 'slug' };

/** The label of a top-level entry: `groups[2] "pro-acme"`, `workspaces[0] "acme"`, `endpoints[0] "acme/chat"`. */
export function entryLabel(s: Scenario, list: EntryList, i: number): string {
  const entry = (s[list] as unknown[] | undefined)?.[i] as Record<string, unknown> | undefined;
  const name = entry?.[LABEL_FIELD[list]];
  return typeof name === 'string' ? `${list}[${i}] ${JSON.stringify(name)}` : `${list}[${i}]`;
}

/** The workspace a group or endpoint lives in: its own, or the file's only workspace. */
export function workspaceOf(s: Scenario, g: { workspace?: string }): string | undefined {
  return g.workspace ?? (s.workspaces?.length === 1 ? s.workspaces[0]?.id : undefined);
}

/** The file's own references: unique names and keys, parents that exist, no cycles. */
function referenceProblems(s: Scenario): string[] {
  const problems: string[] = [];
  const groups = s.groups ?? [];
  const byName = new Map<string, number>();
  groups.forEach((g, i) => {
    const at = entryLabel(s, 'groups', i);
    const first = byName.get(g.name);
    if (first !== undefined) problems.push(`${at}: name ${JSON.stringify(g.name)} is already used by groups[${first}]`);
    else byName.set(g.name, i);
    if (workspaceOf(s, g) === undefined) problems.push(`${at}: workspace is required when the file does not list exactly one workspace`);
  });
  groups.forEach((g, i) => {
    if (g.parent !== undefined && !byName.has(g.parent)) {
      problems.push(`${entryLabel(s, 'groups', i)}: parent ${JSON.stringify(g.parent)} is not the name of a group in this scenario`);
    }
  });
  groups.forEach((g, i) => {
    const seen = new Set<string>([g.name]);
    for (let at = g.parent; at !== undefined; at = groups[byName.get(at) ?? -1]?.parent) {
      if (seen.has(at)) {
        problems.push(`${entryLabel(s, 'groups', i)}: parent chain ${[...seen, at].join(' -> ')} is a cycle`);
        break;
      }
      seen.add(at);
    }
  });
  const replyIds = new Map<string, number>();
  (s.replies ?? []).forEach((r, i) => {
    try {
      checkRule(r, `replies[${i}]`);
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      problems.push(e.message.replace(/\.$/, ''));
    }
    if (r.id === undefined) return;
    const first = replyIds.get(r.id);
    if (first !== undefined) problems.push(`replies[${i}].id ${JSON.stringify(r.id)} is already used by replies[${first}]`);
    else replyIds.set(r.id, i);
  });
  (s.endpoints ?? []).forEach((e, i) => {
    if (workspaceOf(s, e) === undefined) problems.push(`${entryLabel(s, 'endpoints', i)}: workspace is required when the file does not list exactly one workspace`);
  });
  const wsIds = new Map<string, number>();
  const mgmtKeys = new Map<string, string>();
  (s.workspaces ?? []).forEach((w, i) => {
    const at = entryLabel(s, 'workspaces', i);
    if (wsIds.has(w.id)) problems.push(`${at}: id is already used by workspaces[${wsIds.get(w.id)}]`);
    else wsIds.set(w.id, i);
    (w.management_keys ?? []).forEach((k, j) => {
      const where = `${at}.management_keys[${j}]`;
      const first = mgmtKeys.get(k.key);
      if (first !== undefined) problems.push(`${at}: management_keys[${j}].key is the same key as ${first}`);
      else mgmtKeys.set(k.key, where);
    });
  });
  const prefixes = new Map<string, string>();
  groups.forEach((g, i) => {
    (g.keys ?? []).forEach((k, j) => {
      const at = `${entryLabel(s, 'groups', i)}: keys[${j}].api_key`;
      const prefix = k.api_key.slice(0, 16);
      const first = prefixes.get(prefix);
      if (first !== undefined) problems.push(`${at} has the prefix ${prefix} of ${first}; the first 16 characters of a key must be unique`);
      else prefixes.set(prefix, `${entryLabel(s, 'groups', i)} keys[${j}]`);
    });
  });
  return problems;
}

const FRIENDLY_PATTERN: Record<string, string> = {
  api_key: 'must be prefix.secret: 16 characters of [A-Za-z0-9_-], a dot, and a secret of 16 to 111 of them',
  slug: 'must be a model slug shaped org/name',
  name: "must be letters, digits, '.', '_' or '-', starting with a letter or digit",
  url: 'must be an http(s) URL',
  key: 'must not contain spaces',
  id: 'must not contain spaces',
};

/** One ajv error in the scenario's terms: the entry, then the field path, then the rule. */
function describe(e: ErrorObject, s: Scenario): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let head = '';
  let rest = parts;
  if ((parts[0] === 'groups' || parts[0] === 'workspaces' || parts[0] === 'endpoints') && parts[1] !== undefined) {
    head = entryLabel(s, parts[0], Number(parts[1]));
    rest = parts.slice(2);
  }
  let field = rest.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  const last = rest[rest.length - 1] ?? '';
  let rule: string;
  switch (e.keyword) {
    case 'required':
      field = field ? `${field}.${String(e.params.missingProperty)}` : String(e.params.missingProperty);
      rule = 'is required';
      break;
    case 'additionalProperties':
      rule = `has an unknown field ${JSON.stringify(e.params.additionalProperty)}`;
      break;
    case 'enum':
      rule = `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
      break;
    case 'const':
      rule = `must be ${String(e.params.allowedValue)}`;
      break;
    case 'pattern':
      rule = (parts[0] === 'replies' ? undefined : FRIENDLY_PATTERN[last]) ?? e.message ?? 'is malformed';
      break;
    case 'format':
      rule = e.params.format === 'date-time' ? 'must be an RFC 3339 date-time, e.g. 2026-11-23T09:00:00Z' : (e.message ?? 'is malformed');
      break;
    default:
      rule = e.message ?? 'is invalid';
  }
  const subject = field || (head ? '' : 'the scenario');
  const body = subject ? `${subject} ${rule}` : rule;
  return head ? `${head}: ${body}` : body;
}

function unique(messages: string[]): string[] {
  const out = [...new Set(messages)];
  return out.length > MAX_PROBLEMS ? [...out.slice(0, MAX_PROBLEMS), `... and ${out.length - MAX_PROBLEMS} more`] : out;
}
