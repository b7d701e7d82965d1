import { errorMessage } from '../support/errors.js';
import type { Breakage, ProxiedRequest, ProxiedResponse } from './broken-proxy.js';

/**
 * Honest-but-different gateways: the mock behind the proxy of ./broken-proxy.ts, each
 * differing from the mock only where Frontier Gateway's documentation leaves room (see
 * AMBIGUITIES.md and the facts file's "Known disagreements"). The conformance suite, in
 * live mode (no FGW_CAPABILITIES=mock-admin), must pass against every one of them: a
 * red line there would be a false alarm on a real deployment.
 */

const CASCADE_MESSAGE = 'Child group exceeds parent group limit.';
const pathOf = (r: ProxiedRequest) => r.path.split('?')[0] as string;
const messageOf = (json: any): string => errorMessage(json) ?? 'error';
/**
 * Management errors other than the rate limit's 429: their form is not published (only
 * their messages are), so an honest gateway may shape them as it likes. Inference errors
 * and the management 429 have documented forms (facts file, "Error bodies").
 */
const undocumentedForm = (r: ProxiedResponse, req: ProxiedRequest) => r.status >= 400 && r.status !== 429 && req.path.startsWith('/v1/gateway/') && r.json?.error !== undefined;

/** Walks every object of a JSON value (what `fn` adds is not walked). */
function eachObject(v: unknown, fn: (o: Record<string, unknown>, key: string | undefined) => void, key?: string): void {
  if (Array.isArray(v)) for (const x of v) eachObject(x, fn, key);
  else if (v && typeof v === 'object') {
    const children = Object.entries(v);
    fn(v as Record<string, unknown>, key);
    for (const [k, x] of children) eachObject(x, fn, k);
  }
}

/** Rewrites the JSON body of a request in place. */
function editBody(r: ProxiedRequest, fn: (json: any) => void): void {
  if (!r.body) return;
  let json: unknown;
  try {
    json = JSON.parse(r.body);
  } catch {
    return; // malformed on purpose: let the upstream refuse it
  }
  fn(json);
  r.body = JSON.stringify(json);
}

/** Rewrites one query parameter of a request (undefined removes it). */
function editQuery(r: ProxiedRequest, name: string, fn: (value: string | null) => string | undefined): void {
  const url = new URL(r.path, 'http://x');
  const next = fn(url.searchParams.get(name));
  if (next === undefined) url.searchParams.delete(name);
  else url.searchParams.set(name, next);
  r.path = `${url.pathname}${url.search}`;
}

const isList = (r: ProxiedRequest) => r.method === 'GET' && /^\/v1\/gateway\/(groups(\/[^/]+\/api_keys)?|events|endpoints)$/.test(pathOf(r));

/** Group ids of the form gid-<hex of the mock's id>, in paths, bodies and responses. */
const outId = (id: string) => `gid-${Buffer.from(id).toString('hex')}`;
const inId = (id: string) => (/^gid-([0-9a-f]{2})+$/.test(id) ? Buffer.from(id.slice(4), 'hex').toString('utf8') : id);

export const HONEST: Record<string, Breakage> = {
  'no request id header, other headers instead': {
    response: (r) => {
      delete r.headers['x-request-id'];
      delete r.headers['retry-after'];
      r.headers['x-correlation-id'] = `corr-${Math.random().toString(36).slice(2)}`;
    },
  },

  'management errors as {"detail": "..."}': {
    response: (r, req) => {
      if (undocumentedForm(r, req)) r.json = { detail: messageOf(r.json) };
    },
  },

  'management errors as {"message": ..., "status": ...} at the top level': {
    response: (r, req) => {
      if (undocumentedForm(r, req)) r.json = { message: messageOf(r.json), status: r.status, errors: [{ reason: r.headers['x-fgw-error-code'] ?? null }] };
    },
  },

  'errors in the documented form without the mock\'s X-Fgw-Error-* headers': {
    response: (r) => {
      for (const h of Object.keys(r.headers)) if (h.toLowerCase().startsWith('x-fgw-error-')) delete r.headers[h];
    },
  },

  "errors in OpenAI's nested form (the mock's --error-format openai)": {
    mock: { errorFormat: 'openai' },
  },

  'extra response fields everywhere': {
    response: (r) => {
      if (!r.json) return;
      eachObject(r.json, (o, key) => {
        // The usage report is keyed by slug: a new key there would be a new slug, not an extra field.
        if (key === 'usage' && Object.values(o).every(Array.isArray)) return;
        o.x_gateway_version = '2026-11';
        o._links = { self: null };
      });
    },
  },

  '422 for schema errors where the docs name no status': {
    response: (r, req) => {
      if (r.status !== 400 || r.text.includes(CASCADE_MESSAGE)) return;
      // The pages that name 400 keep it: update (PATCH), create group (an invalid payload,
      // a duplicate external id, mixed modes, too deep), endpoints, register.
      const p = pathOf(req);
      if (req.method === 'PATCH' || (req.method === 'POST' && p === '/v1/gateway/groups') || p.startsWith('/v1/gateway/endpoints') || p.endsWith('/api_keys/register')) return;
      r.status = 422;
    },
  },

  'lenient input: unknown fields ignored, immutable fields ignored on PATCH, list limits clamped': {
    request: (r) => {
      const p = pathOf(r);
      if (r.method === 'POST' && p === '/v1/gateway/groups') {
        editBody(r, (b) => {
          for (const k of Object.keys(b ?? {})) if (!['metadata', 'models', 'hierarchy'].includes(k)) delete b[k];
        });
      }
      if (r.method === 'PATCH' && /^\/v1\/gateway\/groups\/[^/]+$/.test(p)) {
        editBody(r, (b) => {
          if (!b || typeof b !== 'object') return;
          delete b.hierarchy;
          if (b.metadata && typeof b.metadata === 'object') delete b.metadata.external_entity_id;
        });
      }
      if (isList(r)) {
        editQuery(r, 'limit', (v) => {
          if (v === null) return undefined;
          const n = Number(v);
          return Number.isInteger(n) ? String(Math.min(1000, Math.max(1, n))) : undefined;
        });
      }
    },
  },

  'shorter pages than the limit': {
    request: (r) => {
      if (!isList(r)) return;
      editQuery(r, 'limit', (v) => {
        const n = v === null ? 100 : Number(v);
        return Number.isInteger(n) && n > 1 && n <= 1000 ? String(Math.ceil(n / 2)) : (v ?? undefined);
      });
    },
  },

  'cursors of another encoding': {
    request: (r) => {
      if (!isList(r)) return;
      editQuery(r, 'cursor', (v) => (v === null ? undefined : v.startsWith('pg.') ? Buffer.from(v.slice(3), 'base64').toString('utf8') : v));
    },
    response: (r) => {
      const c = r.json?.pagination?.cursor;
      if (typeof c === 'string') r.json.pagination.cursor = `pg.${Buffer.from(c).toString('base64')}`;
    },
  },

  'group ids of another format': {
    request: (r) => {
      r.path = r.path.replace(/(\/v1\/gateway\/groups\/)([^/?]+)/, (_m, head: string, id: string) => `${head}${inId(decodeURIComponent(id))}`);
      if (r.method === 'POST' && pathOf(r) === '/v1/gateway/groups') {
        editBody(r, (b) => {
          if (typeof b?.hierarchy?.parent_group_id === 'string') b.hierarchy.parent_group_id = inId(b.hierarchy.parent_group_id);
        });
      }
    },
    response: (r: ProxiedResponse, req: ProxiedRequest) => {
      if (!r.json || !req.path.startsWith('/v1/gateway/')) return;
      eachObject(r.json, (o) => {
        if (typeof o.id === 'string' && 'metadata' in o) o.id = outId(o.id);
        if (typeof o.source_group === 'string') o.source_group = outId(o.source_group);
        if (typeof o.parent_group_id === 'string') o.parent_group_id = outId(o.parent_group_id);
      });
    },
  },

  'federated keys must use Api-Key (Bearer refused, as the newer page says)': {
    mock: { inference: { allowBearer: false } },
  },

  'billing events in another envelope ({events, has_more, next_cursor}), federated keys refused with 403, events queryable after 2 s': {
    mock: { events: { holdbackSeconds: 2 } },
    response: (r: ProxiedResponse, req: ProxiedRequest) => {
      if (pathOf(req) !== '/v1/gateway/events') return;
      if (r.status === 200 && r.json?.items) r.json = { events: r.json.items, has_more: r.json.pagination.has_more, next_cursor: r.json.pagination.cursor };
      if (r.status === 401 && r.headers['x-fgw-error-code'] === 'federated_key_not_allowed') r.status = 403;
    },
  },

  'errors in Baseten\'s {"error": "<message>"} form': {
    response: (r) => {
      if (r.status >= 400 && r.json?.error) r.json = { error: messageOf(r.json) };
    },
  },

  'optional fields omitted rather than null (parent_group_id, name, the last cursor, target fields)': {
    response: (r, req) => {
      // The usage report's null counters are documented as null; everything else null is dropped.
      if (!r.json || !req.path.startsWith('/v1/gateway/') || pathOf(req).endsWith('/usage')) return;
      eachObject(r.json, (o) => {
        for (const [k, v] of Object.entries(o)) if (v === null) delete o[k];
      });
    },
  },

  'key prefixes of another shape (seven characters, as in the seeds)': (() => {
    const out = new Map<string, string>();
    const back = new Map<string, string>();
    const outward = (prefix: string) => {
      let short = out.get(prefix);
      while (!short) {
        const made = Array.from({ length: 7 }, () => 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'[Math.floor(Math.random() * 57)]).join('');
        if (!back.has(made)) {
          out.set(prefix, made);
          back.set(made, prefix);
          short = made;
        }
      }
      return short;
    };
    const inward = (v: string) => back.get(v) ?? v;
    return {
      request: (r: ProxiedRequest) => {
        r.path = r.path.replace(/(\/api_keys\/)([^/?]+)/, (_m, head: string, p: string) => `${head}${encodeURIComponent(inward(decodeURIComponent(p)))}`);
        r.path = r.path.replace(/([?&]api_keys=)([^&]+)/g, (_m, head: string, p: string) => `${head}${encodeURIComponent(inward(decodeURIComponent(p)))}`);
        const auth = r.headers.authorization;
        if (auth) r.headers.authorization = auth.replace(/^(\S+ )([^.\s]+)(\.)/, (_m, scheme: string, p: string, dot: string) => `${scheme}${inward(p)}${dot}`);
      },
      response: (r: ProxiedResponse) => {
        if (r.json !== undefined) r.json = JSON.parse(JSON.stringify(r.json).replace(/sky_[A-Za-z0-9]{12}/g, outward));
      },
    };
  })(),

  'timestamps of other precisions: microseconds and +00:00 for groups, whole seconds for endpoints': {
    response: (r, req) => {
      if (!r.json || !req.path.startsWith('/v1/gateway/') || req.path.startsWith('/v1/gateway/events')) return;
      const endpoints = req.path.startsWith('/v1/gateway/endpoints');
      eachObject(r.json, (o) => {
        for (const k of ['created_at', 'updated_at', 'deleted_at', 'reset_at']) {
          const v = o[k];
          if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) continue;
          const iso = new Date(Date.parse(v)).toISOString();
          o[k] = endpoints ? `${iso.slice(0, 19)}Z` : `${iso.slice(0, 23)}000+00:00`;
        }
      });
    },
  },

  'another order where the docs fix none: lists, models and limits reversed': {
    response: (r, req) => {
      if (!r.json || !req.path.startsWith('/v1/gateway/') || req.path.startsWith('/v1/gateway/events')) return;
      eachObject(r.json, (o) => {
        for (const k of ['models', 'effective_models', 'rate_limits', 'usage_limits']) if (Array.isArray(o[k])) (o[k] as unknown[]).reverse();
      });
      if (Array.isArray(r.json.items)) r.json.items.reverse();
    },
  },

  'a 429 with another Retry-After and a retry_after field': {
    response: (r) => {
      if (r.status !== 429) return;
      const wait = Number(r.headers['retry-after'] ?? 1) + 30;
      r.headers['retry-after'] = String(wait);
      if (r.json) r.json = { error: messageOf(r.json), retry_after: wait };
    },
  },

  // The docs say only that tools and response_format are passed through to the model; a model may refuse them.
  'a model that refuses tools and json_schema response formats (400)': {
    response: (r, req) => {
      if (pathOf(req) !== '/v1/chat/completions' || r.status !== 200 || !req.body) return;
      let body: any;
      try {
        body = JSON.parse(req.body);
      } catch {
        return;
      }
      if (!(Array.isArray(body?.tools) && body.tools.length > 0) && body?.response_format?.type !== 'json_schema') return;
      r.status = 400;
      r.headers['content-type'] = 'application/json';
      r.json = { error: 'This model does not support tools or structured outputs.' };
    },
  },

  'a slow network: 150 ms before every call': {
    delayMs: 150,
  },
};

/** Every difference at once except the latency: the whole suite runs against this one. */
export const ALL_AT_ONCE: Breakage = (() => {
  const parts = Object.entries(HONEST)
    .filter(([name]) => !name.startsWith('a slow network'))
    .map(([, b]) => b);
  return {
    mock: Object.assign({}, ...parts.map((b) => b.mock ?? {})),
    request: (r) => {
      for (const b of parts) b.request?.(r);
    },
    response: (r, req) => {
      for (const b of [...parts].reverse()) b.response?.(r, req);
    },
  };
})();
