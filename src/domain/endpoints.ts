import { badRequest } from './errors.js';

/**
 * The documented rules of endpoints: what a slug routes to. Pure functions from a
 * request's fields to a normalised target, or a 400 naming the rule; the store and the
 * 403/404 tenancy rules live in src/service/endpoints.ts.
 */

export type Region = 'UNRESTRICTED' | 'EU';
export type Provider = 'BASETEN' | 'BASETEN_MODEL_API' | 'ANTHROPIC' | 'OPENAI' | 'VERTEX' | 'OPENAI_COMPATIBLE';

export interface VertexConfig {
  project_id: string;
  location: string;
}

/** A target as stored and returned: every field present, null where it does not apply. */
export interface EndpointTarget {
  provider: Provider;
  model_id: string | null;
  environment_name: string | null;
  secret_id: string | null;
  target_model: string | null;
  vertex_config: VertexConfig | null;
  base_url: string | null;
}

export type EndpointTargetInput = { provider: Provider } & { [K in Exclude<keyof EndpointTarget, 'provider'>]?: EndpointTarget[K] | null };

/** What the caller's organisation has: the slug prefixes it owns and its Baseten environments. */
export interface Organisation {
  orgPrefixes: readonly string[];
  environments: readonly string[];
}

const EXTERNAL: ReadonlySet<Provider> = new Set(['ANTHROPIC', 'OPENAI', 'VERTEX', 'OPENAI_COMPATIBLE']);
const PRODUCTION = 'production';

type Field = Exclude<keyof EndpointTarget, 'provider'>;
type Need = 'required' | 'optional' | 'refused';

/** Which fields each provider needs, may take, or refuses. */
function needOf(provider: Provider, field: Field): Need {
  switch (field) {
    case 'model_id':
      return provider === 'BASETEN' ? 'required' : 'refused';
    case 'environment_name':
      return provider === 'BASETEN' ? 'optional' : 'refused';
    case 'secret_id':
      return EXTERNAL.has(provider) ? 'required' : 'refused';
    case 'target_model':
      return provider === 'BASETEN' ? 'optional' : 'required';
    case 'vertex_config':
      return provider === 'VERTEX' ? 'required' : 'refused';
    case 'base_url':
      return provider === 'OPENAI_COMPATIBLE' ? 'required' : 'refused';
  }
}

const FIELDS: readonly Field[] = ['model_id', 'environment_name', 'secret_id', 'target_model', 'vertex_config', 'base_url'];

/** Exactly one target today; each checked against its provider's rules and normalised. */
export function normalizeTargets(targets: readonly EndpointTargetInput[], org: Organisation): EndpointTarget[] {
  if (targets.length !== 1) {
    throw badRequest(`targets must hold exactly one target; this request has ${targets.length}.`, 'invalid_target_count', 'targets');
  }
  return targets.map((t, i) => normalizeTarget(t, org, `targets[${i}]`));
}

/** One target: required fields present, refused ones absent or null, values checked. */
export function normalizeTarget(input: EndpointTargetInput, org: Organisation, at = 'targets[0]'): EndpointTarget {
  const out: EndpointTarget = {
    provider: input.provider,
    model_id: null,
    environment_name: null,
    secret_id: null,
    target_model: null,
    vertex_config: null,
    base_url: null,
  };
  for (const field of FIELDS) {
    const value = input[field] ?? null;
    const need = needOf(input.provider, field);
    if (need === 'required' && value === null) {
      throw badRequest(`${at}.${field} is required for provider ${input.provider}.`, 'missing_target_field', `${at}.${field}`);
    }
    if (need === 'refused' && value !== null) {
      throw badRequest(`${at}.${field} does not apply to provider ${input.provider}; omit it or send null.`, 'field_not_applicable', `${at}.${field}`);
    }
    (out as unknown as Record<string, unknown>)[field] = value === null ? null : structuredClone(value);
  }
  if (out.provider === 'BASETEN') {
    const env = out.environment_name ?? PRODUCTION;
    if (!org.environments.includes(env)) {
      throw badRequest(
        `${at}.environment_name ${env} is not an environment of this organisation; known: ${org.environments.join(', ')}.`,
        'unknown_environment',
        `${at}.environment_name`,
      );
    }
    out.environment_name = env;
  }
  if (out.base_url !== null) checkBaseUrl(out.base_url, `${at}.base_url`);
  return out;
}

/** OPENAI_COMPATIBLE base URLs: HTTPS, no port, no credentials. */
export function checkBaseUrl(value: string, at = 'base_url'): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`${at} must be an absolute https:// URL.`, 'invalid_base_url', at);
  }
  if (url.protocol !== 'https:') throw badRequest(`${at} must use https://, not ${url.protocol}//.`, 'invalid_base_url', at);
  // URL drops a default port (443), so look at the authority as written.
  const authority = (value.replace(/^https:\/\//i, '').split(/[/?#]/)[0] ?? '').replace(/^.*@/, '');
  if (authority.replace(/^\[[^\]]*\]/, '').includes(':')) {
    throw badRequest(`${at} must not name a port.`, 'invalid_base_url', at);
  }
  if (url.username || url.password) throw badRequest(`${at} must not carry credentials; use secret_id.`, 'invalid_base_url', at);
}

/** The slug's `{org_prefix}` must be one the caller's organisation owns. */
export function checkSlugOwned(slug: string, org: Organisation, at = 'slug'): void {
  const prefix = slug.slice(0, slug.indexOf('/'));
  if (!org.orgPrefixes.includes(prefix)) {
    throw badRequest(
      `${at} prefix ${prefix} is not owned by your organisation; owned: ${org.orgPrefixes.join(', ') || 'none'}.`,
      'org_prefix_not_owned',
      at,
    );
  }
}

/** A one-line description of where a call is routed, for the X-Fgw-Endpoint-Target header. */
export function describeTarget(t: EndpointTarget): string {
  const parts: string[] = [t.provider];
  if (t.model_id !== null) parts.push(`model_id=${t.model_id}`);
  if (t.environment_name !== null) parts.push(`environment=${t.environment_name}`);
  if (t.target_model !== null) parts.push(`target_model=${t.target_model}`);
  if (t.vertex_config !== null) parts.push(`project_id=${t.vertex_config.project_id}`, `location=${t.vertex_config.location}`);
  if (t.base_url !== null) parts.push(`base_url=${t.base_url}`);
  // Header values must be visible ASCII; the spec's schemas allow any string.
  return parts.join(' ').replace(/[^\x20-\x7e]/g, '?');
}
