import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMock, type RunningMock, type StartOptions } from '../../src/index.js';
import { errorMessage } from '../support/errors.js';
import type { EndpointRecord, GroupRecord } from '../../src/domain/records.js';

/**
 * A deliberately broken Frontier Gateway: the real mock behind a small proxy that
 * breaks one documented rule, by rewriting a request, a response, or the mock itself.
 * The meta tests run the conformance suite against it and check the break is caught.
 * The same proxy also makes honest-but-different gateways (./honest-gateways.ts).
 */

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface ProxiedResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed when JSON; rewrite it in place or replace it. */
  json: any;
  text: string;
}

export interface Breakage {
  /** Options of the mock behind the proxy. */
  mock?: StartOptions;
  /** Delay before each request is forwarded, in ms (a slow network). */
  delayMs?: number;
  /** Changes the mock itself (for rules a proxy cannot break from outside). */
  server?: (m: RunningMock) => void;
  request?: (r: ProxiedRequest) => void;
  response?: (r: ProxiedResponse, req: ProxiedRequest) => void;
}

export interface BrokenGateway {
  url: string;
  close(): Promise<void>;
}

const HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

export async function startBroken(breakage: Breakage): Promise<BrokenGateway> {
  const mock = await startMock(breakage.mock);
  breakage.server?.(mock);
  const server: Server = createServer(async (incoming: IncomingMessage, out) => {
    const chunks: Buffer[] = [];
    for await (const c of incoming) chunks.push(c as Buffer);
    const req: ProxiedRequest = {
      method: incoming.method ?? 'GET',
      path: incoming.url ?? '/',
      headers: Object.fromEntries(Object.entries(incoming.headers).filter(([k]) => !HOP.has(k)).map(([k, v]) => [k, String(v)])),
      body: Buffer.concat(chunks).toString('utf8'),
    };
    breakage.request?.(req);
    if (breakage.delayMs) await new Promise((r) => setTimeout(r, breakage.delayMs));
    try {
      const upstream = await fetch(`${mock.url}${req.path}`, {
        method: req.method,
        headers: req.headers,
        ...(req.body && req.method !== 'GET' && req.method !== 'HEAD' ? { body: req.body } : {}),
      });
      const text = await upstream.text();
      const headers = Object.fromEntries([...upstream.headers].filter(([k]) => !HOP.has(k) && k !== 'content-encoding'));
      const res: ProxiedResponse = { status: upstream.status, headers, text, json: undefined };
      if ((headers['content-type'] ?? '').includes('application/json') && text) res.json = JSON.parse(text);
      breakage.response?.(res, req);
      const body = res.json !== undefined ? JSON.stringify(res.json) : res.text;
      out.writeHead(res.status, res.headers);
      out.end(body);
    } catch (e) {
      out.writeHead(502, { 'content-type': 'application/json' });
      out.end(JSON.stringify({ error: { message: `proxy: ${(e as Error).message}`, type: 'api_error' } }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await mock.close();
    },
  };
}

const groupsIn = (json: any): any[] => (json?.items ? json.items : json?.effective_models ? [json] : []);

/** Replaces `obj[name]` by what `make` builds around the original method (bound to `obj`). */
function patch<T extends object, K extends keyof T>(obj: T, name: K, make: (original: T[K]) => T[K]): void {
  obj[name] = make((obj[name] as (...args: unknown[]) => unknown).bind(obj) as T[K]);
}

/** The same instant written with a local offset of +02:00 instead of UTC. */
const localOffset = (iso: string) => `${new Date(Date.parse(iso) + 7_200_000).toISOString().slice(0, 19)}+02:00`;

/** The JSON body of a request, or undefined. */
const bodyOf = (r: ProxiedRequest): any => {
  try {
    return r.body ? JSON.parse(r.body) : undefined;
  } catch {
    return undefined;
  }
};

/** Shannon entropy in bits per character, as the register page defines it. */
const entropy = (text: string) => {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts.values()].reduce((bits, n) => bits - (n / text.length) * Math.log2(n / text.length), 0);
};

/** A registration whose key matches `refuse` loses its signature: the gateway refuses it (400). */
const refuseRegistration = (refuse: (key: string) => boolean): Breakage => ({
  request: (r) => {
    if (r.method !== 'POST' || !/\/api_keys\/register$/.test(r.path.split('?')[0] as string)) return;
    const key = bodyOf(r)?.key;
    if (typeof key === 'string' && refuse(key)) delete r.headers['x-baseten-signature'];
  },
});

/** A group create or update whose metadata field `field` is exactly 255 characters is sent with 256: refused (400). */
const refuse255 = (field: 'name' | 'external_entity_id'): Breakage => ({
  request: (r) => {
    if ((r.method !== 'POST' && r.method !== 'PATCH') || !r.path.startsWith('/v1/gateway/groups')) return;
    const b = bodyOf(r);
    if (typeof b?.metadata?.[field] === 'string' && b.metadata[field].length === 255) {
      b.metadata[field] += 'x';
      r.body = JSON.stringify(b);
    }
  },
});

/** The catalogue of breakages, each named after the rule it breaks. */
export const BREAKAGES: Record<string, Breakage> = {
  honest: {},

  'key registration accepts any signature': {
    server: (m) => {
      const gw = m.mock.gateway;
      // Signs every registration itself, so whatever the caller sent verifies.
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      for (const w of m.mock.store.workspaces()) m.mock.store.setRegisterPublicKey(w.id, publicKey);
      patch(gw.keys, 'register', (original) => (ws, id, input, raw, _signature) => original(ws, id, input, raw, sign(null, raw, privateKey).toString('base64')));
    },
  },

  'endpoint slugs are not unique': {
    server: (m) => {
      const book = m.mock.gateway.endpoints;
      patch(book, 'create', (original) => (ws, input) => {
        const taken = m.mock.store.endpointBySlug(input.slug);
        if (!taken) return original(ws, input);
        m.mock.store.removeEndpoint(taken.id);
        const made = original(ws, input);
        m.mock.store.insertEndpoint({ ...taken, id: `${taken.id}x` });
        return made;
      });
    },
  },

  'PATCH merges models instead of replacing the set': {
    server: (m) => {
      const gw = m.mock.gateway;
      patch(gw.groups, 'update', (original) => (ws, id, input) => {
        if (input.models != null) {
          const current = gw.groups.get(ws, id).models;
          const incoming = new Set(input.models.map((x) => x.slug));
          input = { ...input, models: [...current.filter((x) => !incoming.has(x.slug)), ...input.models] };
        }
        return original(ws, id, input);
      });
    },
  },

  'source_group always names the group itself': {
    response: (r) => {
      for (const g of groupsIn(r.json)) {
        for (const m of g.effective_models ?? []) for (const l of [...m.rate_limits, ...m.usage_limits]) l.source_group = g.id;
      }
    },
  },

  'DELETE leaves descendants alive': {
    server: (m) => {
      const store = m.mock.store;
      patch(store, 'removeSubtree', (original) => (id) => {
        // The store sees no children while it deletes, so only the group itself goes.
        const childrenOf = store.childrenOf;
        store.childrenOf = () => [];
        try {
          return original(id);
        } finally {
          store.childrenOf = childrenOf;
        }
      });
    },
  },

  'DELETE keeps the external id taken': {
    server: (m) => {
      const { gateway: gw, store } = m.mock;
      const taken = new Map<string, GroupRecord>();
      patch(gw.groups, 'delete', (original) => (ws, id) => {
        const g = store.group(id);
        const out = original(ws, id);
        if (g) taken.set(`${ws}\u0000${g.externalEntityId}`, g);
        return out;
      });
      patch(store, 'groupByExternalId', (original) => (ws, ext) => original(ws, ext) ?? taken.get(`${ws}\u0000${ext}`));
    },
  },

  'CASCADING updates skip the ancestor and descendant check': {
    server: (m) => {
      const gw = m.mock.gateway;
      patch(gw.groups, 'update', (original) => (ws, id, input) => {
        const g = gw.store.group(id);
        const mode = g?.mode;
        if (g) g.mode = 'INDEPENDENT';
        try {
          return original(ws, id, input);
        } finally {
          if (g && mode) g.mode = mode;
        }
      });
    },
  },

  'view-scope keys may write': {
    request: (r) => {
      if (r.method !== 'GET' && r.headers.authorization?.includes('mock-view-key')) r.headers.authorization = 'Api-Key mock-management-key';
    },
  },

  'workspaces that are not onboarded are let in': {
    server: (m) => {
      const ws = m.mock.store.workspace('workspace-c');
      if (ws) ws.onboarded = true;
    },
  },

  'a group of another workspace answers 404 instead of 403': {
    response: (r) => {
      if (r.status === 403 && r.headers['x-fgw-error-code'] === 'group_in_other_workspace') r.status = 404;
    },
  },

  'pagination stops after the first full page': {
    response: (r) => {
      if (r.json?.pagination?.has_more) r.json.pagination = { has_more: false, cursor: null };
    },
  },

  'a revoked key keeps working for inference': {
    server: (m) => {
      const gw = m.mock.gateway;
      patch(gw.keys, 'revoke', (original) => (ws, groupId, prefix) => {
        const key = gw.store.key(prefix);
        const out = original(ws, groupId, prefix);
        if (key) gw.store.insertKey(key);
        return out;
      });
    },
  },

  'a revoked key can still be fetched and revoked again (200)': (() => {
    const revoked = new Set<string>();
    return {
      response: (r: ProxiedResponse, req: ProxiedRequest) => {
        const m = /^\/v1\/gateway\/groups\/[^/]+\/api_keys\/([^/?]+)$/.exec(req.path);
        if (!m) return;
        const prefix = decodeURIComponent(m[1] as string);
        if (req.method === 'DELETE' && r.status === 200) revoked.add(prefix);
        else if (r.status === 404 && revoked.has(prefix)) {
          r.status = 200;
          r.json = req.method === 'GET' ? { prefix, name: null } : { prefix };
        }
      },
    };
  })(),

  'a parent that does not exist is 400 instead of 404': {
    response: (r, req) => {
      if (req.method === 'POST' && req.path.split('?')[0] === '/v1/gateway/groups' && r.status === 404) r.status = 400;
    },
  },

  'a PATCH naming neither name nor models is accepted': {
    server: (m) => {
      const gw = m.mock.gateway;
      patch(gw.groups, 'update', (original) => (ws, id, input) => {
        const named = input.metadata != null && 'name' in input.metadata;
        if (!named && input.models == null) return gw.groups.get(ws, id);
        return original(ws, id, input);
      });
    },
  },

  'a deleted endpoint keeps its slug taken': {
    server: (m) => {
      const store = m.mock.store;
      const freed = new Map<string, EndpointRecord>();
      patch(store, 'removeEndpoint', (original) => (id) => {
        const gone = original(id);
        if (gone) freed.set(gone.slug, gone);
        return gone;
      });
      patch(store, 'endpointBySlug', (original) => (slug) => original(slug) ?? freed.get(slug));
    },
  },

  'an endpoint slug may be renamed': {
    mock: { endpoints: { immutableSlugs: false } },
  },

  "another workspace's endpoint answers 404 instead of 403": {
    response: (r, req) => {
      if (r.status === 403 && req.path.startsWith('/v1/gateway/endpoints/') && req.headers.authorization?.includes('mock-other-workspace-key')) r.status = 404;
    },
  },

  'the secret is shown again on get and list': (() => {
    const minted = new Map<string, string>();
    return {
      response: (r: ProxiedResponse, req: ProxiedRequest) => {
        if (req.method === 'POST' && r.json?.api_key) minted.set(r.json.prefix, r.json.api_key);
        const keys = r.json?.items ?? (r.json?.prefix && req.method === 'GET' ? [r.json] : []);
        for (const k of keys) if (minted.has(k.prefix)) k.api_key = minted.get(k.prefix);
      },
    };
  })(),

  'the secret hides in another field of key list and get': (() => {
    const minted = new Map<string, string>();
    return {
      response: (r: ProxiedResponse, req: ProxiedRequest) => {
        if (req.method === 'POST' && r.json?.api_key) minted.set(r.json.prefix, r.json.api_key);
        if (req.method !== 'GET' || !/\/api_keys(\/[^/?]+)?(\?|$)/.test(req.path)) return;
        const keys = r.json?.items ?? (r.json?.prefix ? [r.json] : []);
        for (const k of keys) {
          const key = minted.get(k.prefix);
          if (key) k.diagnostics = { hints: [{ last_used_with: key.slice(key.indexOf('.') + 1) }] };
        }
      },
    };
  })(),

  'deleted_at is not UTC (a local offset)': {
    response: (r, req) => {
      if (req.method === 'DELETE' && typeof r.json?.deleted_at === 'string') r.json.deleted_at = localOffset(r.json.deleted_at);
    },
  },

  'usage reset_at is not UTC (a local offset)': {
    response: (r, req) => {
      if (!req.path.includes('/usage') || !r.json?.usage) return;
      for (const entries of Object.values(r.json.usage) as any[]) for (const e of entries) if (typeof e.reset_at === 'string') e.reset_at = localOffset(e.reset_at);
    },
  },

  'billing event timestamps are not UTC (a local offset)': {
    response: (r, req) => {
      if (req.path.startsWith('/v1/gateway/events') && Array.isArray(r.json?.items)) for (const e of r.json.items) e.timestamp = localOffset(e.timestamp);
    },
  },

  'a PATCH whose only field is hierarchy is accepted': {
    request: (r) => {
      // Answered as a read of the group: 200, nothing changed.
      if (r.method === 'PATCH' && /^\/v1\/gateway\/groups\/[^/?]+$/.test(r.path) && JSON.stringify(Object.keys(bodyOf(r) ?? {})) === '["hierarchy"]') {
        r.method = 'GET';
        r.body = '';
      }
    },
  },

  'a key of exactly 32 characters is refused': refuseRegistration((key) => key.length === 32),

  'a key of exactly 128 characters is refused': refuseRegistration((key) => key.length === 128),

  'a key of entropy exactly 3.0 is refused': refuseRegistration((key) => entropy(key) <= 3),

  'a name of exactly 255 characters is refused': refuse255('name'),

  'an external_entity_id of exactly 255 characters is refused': refuse255('external_entity_id'),

  'an endpoint PATCH leaves updated_at unchanged': {
    server: (m) => {
      const store = m.mock.store;
      patch(store, 'updateEndpoint', (original) => (id, change) => {
        const before = store.endpoint(id)?.updatedAt;
        const out = original(id, change);
        if (before !== undefined) out.updatedAt = before;
        return out;
      });
    },
  },

  'an invalid create payload answers 422 instead of the documented 400': {
    response: (r, req) => {
      if (req.method === 'POST' && req.path.split('?')[0] === '/v1/gateway/groups' && r.status === 400 && !r.text.includes('Child group exceeds parent group limit.')) r.status = 422;
    },
  },

  'a duplicate external_entity_id answers 409 instead of the documented 400': {
    response: (r) => {
      // By the message, whichever error form the mock answers in.
      if (r.status === 400 && /external_entity_id .* is already used/.test(errorMessage(r.json) ?? '')) r.status = 409;
    },
  },

  'a key is found under any group of its workspace': {
    server: (m) => {
      const { gateway: gw, store } = m.mock;
      patch(gw.keys, 'get', (original) => (ws, groupId, prefix) => {
        const key = store.key(prefix);
        const owner = key ? store.group(key.groupId) : undefined;
        return original(ws, owner && owner.workspaceId === ws ? owner.id : groupId, prefix);
      });
    },
  },

  'a deleted endpoint can still be read': (() => {
    const gone = new Map<string, any>();
    return {
      response: (r: ProxiedResponse, req: ProxiedRequest) => {
        // The last body seen of each endpoint, served again once it is deleted.
        if (req.method === 'POST' && req.path === '/v1/gateway/endpoints' && r.status === 200) gone.set(r.json.id, r.json);
        const m = /^\/v1\/gateway\/endpoints\/([^/?]+)$/.exec(req.path);
        if (!m) return;
        const id = decodeURIComponent(m[1] as string);
        if ((req.method === 'GET' || req.method === 'PATCH') && r.status === 200) gone.set(id, r.json);
        if (req.method === 'GET' && r.status === 404 && gone.get(id)) {
          r.status = 200;
          r.json = gone.get(id);
        }
      },
    };
  })(),

  'a child declaring another mode than its parent is accepted (it takes the parent’s)': {
    request: (r) => {
      if (r.method !== 'POST' || r.path.split('?')[0] !== '/v1/gateway/groups') return;
      const b = bodyOf(r);
      if (typeof b?.hierarchy?.parent_group_id === 'string' && b.hierarchy.limit_enforcement) {
        delete b.hierarchy.limit_enforcement;
        r.body = JSON.stringify(b);
      }
    },
  },

  'rate and usage limits are never enforced': {
    server: (m) => {
      m.mock.meter.admit = () => ({ ok: true });
    },
  },

  'one bucket is shared by all slugs of a group': {
    server: (m) =>
      patch(m.mock.meter, 'admit', (original) => (now, charges) => original(now, charges.map((c) => ({ ...c, bucket: c.bucket.replace(/\|[^|]+\|/, '|*|') })))),
  },

  'a limit lets one request too many through': {
    server: (m) => {
      const spent = new Set<string>();
      patch(m.mock.meter, 'admit', (original) => (now, charges) => {
        const result = original(now, charges);
        if (!result.ok && !spent.has(result.refused.bucket)) {
          spent.add(result.refused.bucket);
          return { ok: true };
        }
        return result;
      });
    },
  },

  '429 without Retry-After': {
    response: (r) => {
      if (r.status === 429) delete r.headers['retry-after'];
    },
  },

  'a management 429 without retry_after': {
    response: (r, req) => {
      if (r.status === 429 && req.path.startsWith('/v1/gateway/') && r.json) delete r.json.retry_after;
    },
  },

  'inference errors as {"detail": "..."} instead of the documented {"error": "<message>"}': {
    response: (r, req) => {
      if (r.status >= 400 && req.path.startsWith('/v1/chat/') && r.json?.error) r.json = { detail: String(r.json.error) };
    },
  },

  'usage counters never move': {
    response: (r, req) => {
      if (req.path.includes('/usage') && r.json?.usage) {
        for (const entries of Object.values(r.json.usage) as any[]) for (const e of entries) Object.assign(e, { current_usage: null, reset_at: null });
      }
    },
  },

  'create answers 201 instead of the documented 200': {
    response: (r, req) => {
      if (req.method === 'POST' && req.path.split('?')[0] === '/v1/gateway/groups' && r.status === 200) r.status = 201;
    },
  },

  'responses lose their request id': {
    response: (r) => {
      delete r.headers['x-request-id'];
    },
  },

  'webhooks are signed with the wrong secret': {
    server: (m) => {
      for (const ws of m.mock.store.workspaces()) ws.webhookSecret = 'not-the-configured-secret';
    },
  },

  'a child may be created above its CASCADING parent': {
    server: (m) => {
      const gw = m.mock.gateway;
      patch(gw.groups, 'create', (original) => (ws, input) => {
        const parent = input.hierarchy?.parent_group_id ? gw.store.group(input.hierarchy.parent_group_id) : undefined;
        if (!parent || parent.mode !== 'CASCADING') return original(ws, input);
        const saved = parent.models;
        parent.models = [];
        try {
          return original(ws, input);
        } finally {
          parent.models = saved;
        }
      });
    },
  },

  'an invalid threshold is accepted': {
    request: (r) => {
      // A negative threshold reaches the mock as 1: accepted.
      if (r.method === 'POST' && /"threshold":-\d/.test(r.body)) r.body = r.body.replace(/"threshold":-\d+/g, '"threshold":1');
    },
  },

  'a threshold of 0 is refused (the minimum before 2026-07-03)': {
    request: (r) => {
      if ((r.method === 'POST' || r.method === 'PATCH') && r.body.includes('"threshold":0')) r.body = r.body.replace(/"threshold":0(?![.\d])/g, '"threshold":-1');
    },
  },

  'a limit of 0 lets traffic through': {
    server: (m) => patch(m.mock.meter, 'admit', (original) => (now, charges) => original(now, charges.filter((c) => c.threshold !== 0))),
  },

  'fetched billing events leak requestMetadata': {
    response: (r, req) => {
      if (req.path.startsWith('/v1/gateway/events') && Array.isArray(r.json?.items)) for (const e of r.json.items) e.requestMetadata = { order: 'leaked' };
    },
  },

  'billing events come back newest first': {
    response: (r, req) => {
      if (req.path.startsWith('/v1/gateway/events') && Array.isArray(r.json?.items)) r.json.items.reverse();
    },
  },

  'the events end_time is inclusive': {
    request: (r) => {
      if (!r.path.startsWith('/v1/gateway/events?')) return;
      // One millisecond added to end_time: an event stamped exactly at it is returned.
      r.path = r.path.replace(/([?&]end_time=)([^&]+)/, (_m, head: string, v: string) => `${head}${encodeURIComponent(new Date(Date.parse(decodeURIComponent(v)) + 1).toISOString())}`);
    },
  },

  'the INDEPENDENT inherited limit is shared with the parent': {
    server: (m) => {
      const gw = m.mock.gateway;
      patch(gw.usage, 'admit', (original) => (group, slug, tokens) => {
        if (group.mode === 'INDEPENDENT' && group.parentId) {
          const parent = gw.store.group(group.parentId);
          if (parent && !group.models.find((x) => x.slug === slug)?.rate_limits.length) return original(parent, slug, tokens);
        }
        return original(group, slug, tokens);
      });
    },
  },
};
