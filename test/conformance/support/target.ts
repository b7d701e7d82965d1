import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

/**
 * What the conformance suite runs against. Described from the environment alone (no
 * network), so a dry run can say what would run without touching the target.
 *
 * Default: the mock, started in-process on a free port (every capability).
 * Live: FGW_BASE_URL and FGW_API_KEY, plus optional FGW_INFERENCE_BASE_URL,
 * FGW_VIEW_KEY, FGW_OTHER_WORKSPACE_KEY, FGW_NOT_ONBOARDED_KEY, FGW_MODEL_SLUG (one slug
 * or a comma list), and FGW_CAPABILITIES (comma list of `mock-admin`: the target is a
 * frontier-gateway-mock with its /_mock/ routes, giving reset, clock and webhook inbox,
 * and asking the suite to assert the mock's own choices too).
 * FGW_INFERENCE_BASE_URL may end in /v1 or not.
 * Endpoints: FGW_ENDPOINT_PREFIX (an org prefix the workspace owns) and
 * FGW_ENDPOINT_TARGET (one target as JSON, e.g. {"provider":"BASETEN","model_id":"abc123"}).
 * Key registration: FGW_REGISTER_PRIVATE_KEY (the Ed25519 private key, PEM text or a
 * path to a PEM file, whose public key the workspace has on file).
 */

export type Capability =
  | 'view-key'
  | 'other-workspace'
  | 'not-onboarded'
  | 'inference'
  | 'two-slugs'
  | 'clock'
  | 'webhook-inbox'
  | 'admin'
  | 'endpoints'
  | 'register'
  /** The suite may burst past the management API's rate limit (FGW_CAPABILITIES=rate-limit-probe). */
  | 'rate-limit-probe'
  /** The target is this mock, so its own choices (AMBIGUITIES.md) are asserted too. */
  | 'mock';

export const CAPABILITY_HELP: Record<Capability, string> = {
  'view-key': 'a view-scope key (FGW_VIEW_KEY)',
  'other-workspace': 'a key of a second workspace (FGW_OTHER_WORKSPACE_KEY)',
  'not-onboarded': 'a key of a workspace that is not onboarded (FGW_NOT_ONBOARDED_KEY)',
  inference: 'a model slug to call (FGW_MODEL_SLUG)',
  'two-slugs': 'two model slugs (FGW_MODEL_SLUG=a/b,c/d)',
  clock: 'a test clock (FGW_CAPABILITIES=mock-admin)',
  'webhook-inbox': 'a webhook inbox (FGW_CAPABILITIES=mock-admin)',
  admin: 'the mock admin routes (FGW_CAPABILITIES=mock-admin)',
  endpoints: 'an org prefix and a target to create endpoints with (FGW_ENDPOINT_PREFIX and FGW_ENDPOINT_TARGET)',
  'rate-limit-probe': 'leave to provoke the management rate limit with a burst (FGW_CAPABILITIES=rate-limit-probe)',
  register: "the Ed25519 private key of the workspace's registration key (FGW_REGISTER_PRIVATE_KEY)",
  mock: "the target to be this mock: it checks one of the mock's own choices where the docs are silent (in-process, or FGW_CAPABILITIES=mock-admin)",
};

export interface TargetDescription {
  kind: 'in-process mock' | 'remote';
  baseUrl: string | undefined;
  inferenceBaseUrl: string | undefined;
  keys: { management: string; view?: string; otherWorkspace?: string; notOnboarded?: string };
  slugs: string[];
  capabilities: Set<Capability>;
  /** Prefix of every external id this run creates, so it can find and delete them. */
  runId: string;
  dryRun: boolean;
  /** What endpoints may be created with: an owned org prefix and one valid target. */
  endpoints?: { prefix: string; target: Record<string, unknown> };
  /** The key pair that signs key registrations (the public key: raw 32 bytes, base64). */
  register?: { privateKey: KeyObject; publicKey: string };
}

/** The raw 32-byte public key, base64, of an Ed25519 private key. */
const rawPublicKey = (privateKey: KeyObject) => createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');

const MOCK_SLUGS = ['acme-org/chat-model', 'acme-org/embed-model'];

export function describeTarget(env: NodeJS.ProcessEnv = process.env): TargetDescription {
  const runId = env.FGW_RUN_ID ?? `fgwct-${randomBytes(4).toString('hex')}`;
  const dryRun = /^(1|true|yes)$/i.test(env.FGW_DRY_RUN ?? '');
  if (!env.FGW_BASE_URL) {
    return {
      kind: 'in-process mock',
      baseUrl: undefined,
      inferenceBaseUrl: undefined,
      keys: {
        management: 'mock-management-key',
        view: 'mock-view-key',
        otherWorkspace: 'mock-other-workspace-key',
        notOnboarded: 'mock-not-onboarded-key',
      },
      slugs: MOCK_SLUGS,
      capabilities: new Set<Capability>(['view-key', 'other-workspace', 'not-onboarded', 'inference', 'two-slugs', 'clock', 'webhook-inbox', 'admin', 'endpoints', 'register', 'rate-limit-probe', 'mock']),
      runId,
      dryRun,
      endpoints: { prefix: 'your-org', target: { provider: 'BASETEN', model_id: 'abc123' } },
      register: (() => {
        const { privateKey } = generateKeyPairSync('ed25519');
        return { privateKey, publicKey: rawPublicKey(privateKey) };
      })(),
    };
  }
  if (!env.FGW_API_KEY) throw new Error('FGW_BASE_URL is set but FGW_API_KEY is not: the suite needs a management key.');
  const caps = new Set<Capability>();
  const listed = (env.FGW_CAPABILITIES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of listed) {
    if (c === 'rate-limit-probe') caps.add('rate-limit-probe');
    else if (c === 'mock-admin') caps.add('admin').add('clock').add('webhook-inbox').add('mock');
    else throw new Error(`FGW_CAPABILITIES: unknown capability "${c}" (known: mock-admin, rate-limit-probe)`);
  }
  const slugs = (env.FGW_MODEL_SLUG ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // A mock accepts any slug; a live deployment only the ones it serves.
  if (slugs.length === 0 && caps.has('admin')) slugs.push(...MOCK_SLUGS);
  if (slugs.length >= 1) caps.add('inference');
  if (slugs.length >= 2) caps.add('two-slugs');
  if (env.FGW_VIEW_KEY) caps.add('view-key');
  if (env.FGW_OTHER_WORKSPACE_KEY) caps.add('other-workspace');
  if (env.FGW_NOT_ONBOARDED_KEY) caps.add('not-onboarded');
  let endpoints: TargetDescription['endpoints'];
  if (env.FGW_ENDPOINT_PREFIX && env.FGW_ENDPOINT_TARGET) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.FGW_ENDPOINT_TARGET);
    } catch (e) {
      throw new Error(`FGW_ENDPOINT_TARGET must be one target as JSON: ${(e as Error).message}`);
    }
    endpoints = { prefix: env.FGW_ENDPOINT_PREFIX, target: parsed as Record<string, unknown> };
    caps.add('endpoints');
  }
  let register: TargetDescription['register'];
  if (env.FGW_REGISTER_PRIVATE_KEY) {
    const pem = existsSync(env.FGW_REGISTER_PRIVATE_KEY) ? readFileSync(env.FGW_REGISTER_PRIVATE_KEY, 'utf8') : env.FGW_REGISTER_PRIVATE_KEY;
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('FGW_REGISTER_PRIVATE_KEY must be an Ed25519 private key (openssl genpkey -algorithm ed25519)');
    register = { privateKey, publicKey: rawPublicKey(privateKey) };
    caps.add('register');
  }
  const base = env.FGW_BASE_URL.replace(/\/+$/, '');
  return {
    kind: 'remote',
    baseUrl: base,
    inferenceBaseUrl: withoutV1(env.FGW_INFERENCE_BASE_URL ?? base),
    keys: {
      management: env.FGW_API_KEY,
      ...(env.FGW_VIEW_KEY ? { view: env.FGW_VIEW_KEY } : {}),
      ...(env.FGW_OTHER_WORKSPACE_KEY ? { otherWorkspace: env.FGW_OTHER_WORKSPACE_KEY } : {}),
      ...(env.FGW_NOT_ONBOARDED_KEY ? { notOnboarded: env.FGW_NOT_ONBOARDED_KEY } : {}),
    },
    slugs: slugs.length ? slugs : ['placeholder-org/placeholder-model'],
    capabilities: caps,
    runId,
    dryRun,
    ...(endpoints ? { endpoints } : {}),
    ...(register ? { register } : {}),
  };
}

/**
 * The inference base URL without its trailing /v1: users copy the OpenAI SDK's
 * base_url, which ends in /v1, and the suite adds /v1 itself.
 */
export function withoutV1(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

export const target = describeTarget();
