import { readFileSync } from 'node:fs';
import { ORG_PREFIX } from './domain/patterns.js';
import type { Scope } from './domain/records.js';
import { parsePublicKey } from './domain/register.js';

/**
 * Who may call the mock: workspaces and their management keys. The embedded defaults
 * are printed in the start-up banner and the README; `--config FILE` or
 * `--management-key` replace them.
 */

export interface ManagementKeyConfig {
  key: string;
  workspace: string;
  scope: Scope;
}

export interface WorkspaceConfig {
  id: string;
  onboarded: boolean;
  /** Billing webhook receiver; falls back to --webhook-url. */
  webhook_url?: string | null;
  /** HMAC signing secret; falls back to --webhook-secret. */
  webhook_secret?: string;
  /** Slug prefixes the workspace's organisation owns for endpoints (default: its own id). */
  org_prefixes?: string[];
  /** Baseten environments its deployments know (default: production and staging). */
  environments?: string[];
  /** Raw 32-byte Ed25519 public key, base64, for key registration; falls back to --register-public-key. */
  register_public_key?: string | null;
}

export interface MockConfig {
  workspaces: WorkspaceConfig[];
  management_keys: ManagementKeyConfig[];
}

export const DEFAULT_WEBHOOK_SECRET = 'mock-webhook-secret';

export const DEFAULT_CONFIG: MockConfig = {
  workspaces: [
    { id: 'workspace-a', onboarded: true, org_prefixes: ['your-org', 'my-org'] },
    { id: 'workspace-b', onboarded: true, org_prefixes: ['other-org'] },
    { id: 'workspace-c', onboarded: false },
  ],
  management_keys: [
    { key: 'mock-management-key', workspace: 'workspace-a', scope: 'management' },
    { key: 'mock-view-key', workspace: 'workspace-a', scope: 'view' },
    { key: 'mock-other-workspace-key', workspace: 'workspace-b', scope: 'management' },
    { key: 'mock-not-onboarded-key', workspace: 'workspace-c', scope: 'management' },
  ],
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Checks a parsed config file and says exactly what is wrong with it. */
export function parseConfig(raw: unknown, source = 'config'): MockConfig {
  const fail = (msg: string): never => {
    throw new ConfigError(`${source}: ${msg}`);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('must be a JSON object with "workspaces" and "management_keys"');
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (k !== 'workspaces' && k !== 'management_keys' && k !== '$schema') fail(`unknown field "${k}"`);
  if (!Array.isArray(obj.management_keys) || obj.management_keys.length === 0) fail('"management_keys" must be a non-empty array');
  const workspaces: WorkspaceConfig[] = [];
  const wsIds = new Set<string>();
  (Array.isArray(obj.workspaces) ? obj.workspaces : obj.workspaces === undefined ? [] : fail('"workspaces" must be an array')).forEach(
    (w: unknown, i: number) => {
      const at = `workspaces[${i}]`;
      if (!w || typeof w !== 'object') fail(`${at} must be an object`);
      const x = w as Record<string, unknown>;
      if (typeof x.id !== 'string' || !x.id) fail(`${at}.id must be a non-empty string`);
      if (wsIds.has(x.id as string)) fail(`${at}.id "${String(x.id)}" is listed twice`);
      if (x.onboarded !== undefined && typeof x.onboarded !== 'boolean') fail(`${at}.onboarded must be true or false`);
      if (x.webhook_url != null && (typeof x.webhook_url !== 'string' || !isHttpUrl(x.webhook_url))) fail(`${at}.webhook_url must be an http(s) URL`);
      if (x.webhook_secret !== undefined && (typeof x.webhook_secret !== 'string' || !x.webhook_secret)) fail(`${at}.webhook_secret must be a non-empty string`);
      for (const list of ['org_prefixes', 'environments'] as const) {
        const v = x[list];
        if (v !== undefined && (!Array.isArray(v) || v.some((e) => typeof e !== 'string' || !ORG_PREFIX.test(e)))) {
          fail(`${at}.${list} must be an array of names made of letters, digits, '.', '_' and '-'`);
        }
      }
      if (x.register_public_key != null) {
        try {
          parsePublicKey(x.register_public_key);
        } catch (e) {
          fail(`${at}.register_public_key: ${(e as Error).message}`);
        }
      }
      wsIds.add(x.id as string);
      workspaces.push({
        id: x.id as string,
        onboarded: (x.onboarded as boolean | undefined) ?? true,
        ...(x.webhook_url != null ? { webhook_url: x.webhook_url as string } : {}),
        ...(x.webhook_secret !== undefined ? { webhook_secret: x.webhook_secret as string } : {}),
        ...(x.org_prefixes !== undefined ? { org_prefixes: x.org_prefixes as string[] } : {}),
        ...(x.environments !== undefined ? { environments: x.environments as string[] } : {}),
        ...(x.register_public_key != null ? { register_public_key: x.register_public_key as string } : {}),
      });
    },
  );
  const owners = new Map<string, string>();
  for (const w of workspaces) {
    for (const prefix of orgPrefixesOf(w)) {
      const other = owners.get(prefix);
      if (other !== undefined) fail(`org prefix "${prefix}" is owned by both ${other} and ${w.id}; slugs are global, so a prefix has one owner`);
      owners.set(prefix, w.id);
    }
  }
  const keys = new Set<string>();
  const management_keys = (obj.management_keys as unknown[]).map((k, i) => {
    const at = `management_keys[${i}]`;
    if (!k || typeof k !== 'object') fail(`${at} must be an object`);
    const x = k as Record<string, unknown>;
    if (typeof x.key !== 'string' || !/^\S+$/.test(x.key)) fail(`${at}.key must be a non-empty string without spaces`);
    if (keys.has(x.key as string)) fail(`${at}.key is listed twice`);
    if (typeof x.workspace !== 'string' || !x.workspace) fail(`${at}.workspace must be a non-empty string`);
    const scope = x.scope ?? 'management';
    if (scope !== 'management' && scope !== 'view') fail(`${at}.scope must be "management" or "view"`);
    keys.add(x.key as string);
    return { key: x.key as string, workspace: x.workspace as string, scope: scope as Scope };
  });
  // A key naming a workspace the file does not declare is most likely a typo: refused.
  // A file that declares no workspaces at all gets one (onboarded) per key's workspace.
  if (obj.workspaces !== undefined) {
    management_keys.forEach((k, i) => {
      if (!wsIds.has(k.workspace)) fail(`management_keys[${i}].workspace "${k.workspace}" is not declared in "workspaces"; declare it there (with "onboarded") or fix the name`);
    });
  }
  return withImplicitWorkspaces({ workspaces, management_keys });
}

export function loadConfigFile(path: string): MockConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, path);
}

/**
 * `--management-key KEY[:WORKSPACE[:SCOPE]]`: the workspace defaults to workspace-a and
 * the scope to management.
 */
export function parseKeyFlag(value: string): ManagementKeyConfig {
  const [key, workspace = 'workspace-a', scope = 'management', ...rest] = value.split(':');
  if (!key || rest.length > 0 || (scope !== 'management' && scope !== 'view')) {
    throw new ConfigError(`--management-key "${value}": expected KEY[:WORKSPACE[:management|view]]`);
  }
  return { key, workspace, scope };
}

/** Every workspace a key names exists; ones not listed are onboarded. */
export function withImplicitWorkspaces(config: MockConfig): MockConfig {
  const known = new Set(config.workspaces.map((w) => w.id));
  const extra = [...new Set(config.management_keys.map((k) => k.workspace))]
    .filter((id) => !known.has(id))
    .map((id) => ({ id, onboarded: true }));
  return { workspaces: [...config.workspaces, ...extra], management_keys: config.management_keys };
}

/** The endpoint slug prefixes a workspace owns: configured, or its own id. */
export function orgPrefixesOf(w: WorkspaceConfig): string[] {
  return w.org_prefixes ?? [w.id];
}

/** The Baseten environments a workspace knows: configured, or production and staging. */
export function environmentsOf(w: WorkspaceConfig): string[] {
  return w.environments ?? ['production', 'staging'];
}

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
