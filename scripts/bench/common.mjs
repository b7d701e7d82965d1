// What the two measuring scripts share (scripts/bench.mjs, scripts/instructions.mjs): the
// requests each route sends, the mock's set-up for them (a group, a key, and the bodies the
// baselines answer so payload sizes match), starting a server, and the usage text.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MGMT = { Authorization: 'Api-Key mock-management-key', 'Content-Type': 'application/json' };
/** Every create sends its hierarchy block, which the live API requires. */
export const ROOT = { limit_enforcement: 'INDEPENDENT', parent_group_id: null };
export const ROUTES = ['list', 'one', 'create', 'chat'];
/**
 * Flags every measured mock starts with. The management API's own rate limit (100
 * requests per second per key per route, on by default as on the service) would answer
 * most of a load run's requests with 429 from one key: it is off, so the figures measure
 * the routes, not the limiter. The scripts say so when they start.
 */
export const MOCK_BENCH_FLAGS = ['--management-rate-limit', 'off'];
export const MOCK_BENCH_NOTE = 'mock started with --management-rate-limit off (its 100 req/s per key per route limit would refuse most of a load run)';
const UNLIMITED = [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1e12 }, { type: 'REQUEST', unit: 'MINUTE', threshold: 1e12 }];
const BENCH_MODELS = [{ slug: 'bench/model', rate_limits: UNLIMITED, usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 1e12 }] }];
const CHAT_BODY = JSON.stringify({ model: 'bench/model', messages: [{ role: 'user', content: 'Hello, world! How are you today?' }] });

/** Prints the comment at the top of `scriptUrl` (its usage) and exits. */
export function printUsage(scriptUrl) {
  const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
  console.log(lines.slice(1, lines.findIndex((l, i) => i > 0 && !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

/** Resolves with the URL a spawned server prints ("listening on <url>"); rejects when it exits first or is late (then it is killed). */
export function whenListening(child, label, timeoutMs, detail = () => '') {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`${label} did not start within ${timeoutMs} ms${detail()}`))), timeoutMs);
    child.stdout.on('data', (c) => {
      const m = /listening on (http:\/\/[^\s/]+)/.exec((out += c));
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${label} exited ${code} before listening${detail()}`))));
  });
}

/** One JSON call; a status of 300 or more is an error. */
export async function api(url, method, path, body, { headers = MGMT, timeoutMs = 30_000 } = {}) {
  const res = await fetch(`${url}${path}`, { method, headers, signal: AbortSignal.timeout(timeoutMs), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * On the mock: a group with a key whose limits never trip, and what the mock answers on
 * each route, which the baselines return verbatim (BENCH_FIXED_JSON).
 */
export async function setUpRoutes(url, timeoutMs) {
  const group = await api(url, 'POST', '/v1/gateway/groups', { metadata: { name: 'bench', external_entity_id: 'bench-root' }, models: BENCH_MODELS, hierarchy: ROOT }, { timeoutMs });
  const { api_key: key } = await api(url, 'POST', `/v1/gateway/groups/${group.id}/api_keys`, { name: 'bench' }, { timeoutMs });
  const fixed = {
    list: await api(url, 'GET', '/v1/gateway/groups', undefined, { timeoutMs }),
    one: await api(url, 'GET', `/v1/gateway/groups/${group.id}`, undefined, { timeoutMs }),
    create: group,
    chat: await api(url, 'POST', '/v1/chat/completions', JSON.parse(CHAT_BODY), { headers: chatHeaders(key), timeoutMs }),
  };
  return { group, key, fixed };
}

let unique = 0;
/** A create body with an external id of its own (`<prefix>-<n>`). */
export const createBody = (prefix) => JSON.stringify({ metadata: { name: 'bench', external_entity_id: `${prefix}-${++unique}` }, models: [{ slug: 'bench/model' }], hierarchy: ROOT });

const chatHeaders = (key) => ({ Authorization: `Api-Key ${key}`, 'Content-Type': 'application/json' });

/** autocannon's options for one route: creates with unique ids (`prefix`), chat with the set-up's key. */
export function routeRequests(route, { group, key }, prefix) {
  switch (route) {
    case 'list':
      return { method: 'GET', path: '/v1/gateway/groups', headers: MGMT };
    case 'one':
      return { method: 'GET', path: `/v1/gateway/groups/${group.id}`, headers: MGMT };
    case 'create':
      return { method: 'POST', path: '/v1/gateway/groups', headers: MGMT, requests: [{ setupRequest: (req) => ({ ...req, body: createBody(prefix) }) }] };
    case 'chat':
      return { method: 'POST', path: '/v1/chat/completions', headers: chatHeaders(key), body: CHAT_BODY };
    default:
      throw new Error(`unknown route "${route}" (${ROUTES.join(', ')})`);
  }
}
