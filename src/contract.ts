import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { OpenAPIV3_1 } from 'openapi-types';
import { loadSpecs, matchOperation, type Operation } from './http/spec.js';
import { newAjv } from './lib/ajv.js';
import { describeAjvError } from './lib/ajv-errors.js';

/**
 * Checks a response against the spec: the status is one the operation documents, the
 * content type is JSON (or an event stream where the spec allows one), and the body
 * validates against the schema of that status. Used by the conformance suite on every
 * response it receives, and usable by integrators on their own traffic
 * (`import { ContractChecker } from 'frontier-gateway-mock/testing'`).
 *
 * Two views of the spec:
 * - `strict` (the default): this project's spec as written, the mock's own promise:
 *   no undeclared fields, every field it lists present, one of its two error forms, the statuses
 *   it lists.
 * - `documented`: only what Frontier Gateway's documentation guarantees, for judging a
 *   real deployment: extra fields are allowed everywhere; on /v1/gateway/ routes only
 *   the fields the published schema marks required must be present
 *   (DOCUMENTED_REQUIRED); success statuses must be the documented ones, any 4xx is
 *   accepted (whether it is the right one is the caller's rule to judge), and error
 *   bodies are not checked here (no error shape is published for the management API;
 *   the conformance suite checks the documented inference and rate-limit forms itself).
 */

export type ContractView = 'strict' | 'documented';

/**
 * The response fields the published schema marks required, by schema name (facts file,
 * "Known disagreements"), plus the deleted-group fields its seed page marks required.
 * Every other field of a /v1/gateway/ response may be absent in the documented view.
 */
export const DOCUMENTED_REQUIRED: Readonly<Record<string, readonly string[]>> = {
  Group: ['id', 'metadata', 'hierarchy', 'created_at'],
  Hierarchy: ['limit_enforcement'],
  GroupList: ['items', 'pagination'],
  ApiKeyList: ['items', 'pagination'],
  EndpointList: ['items', 'pagination'],
  Pagination: ['has_more'],
  MintedApiKey: ['api_key', 'prefix'],
  ApiKey: ['prefix'],
  DeletedGroup: ['id', 'metadata', 'deleted_at'],
  Endpoint: ['id', 'slug', 'region', 'created_at', 'updated_at', 'targets'],
  Ok: ['ok'],
};

export interface ObservedResponse {
  method: string;
  /** Concrete path without the query, e.g. /v1/gateway/groups/abc. */
  path: string;
  status: number;
  contentType: string | undefined;
  body: unknown;
}

export interface ContractProblem {
  rule: 'documented-status' | 'content-type' | 'schema';
  message: string;
}

export class ContractChecker {
  private readonly ajv = newAjv();
  private readonly cache = new Map<object, ValidateFunction>();
  private readonly errorSchema: object;
  /** Schema object -> component name, to apply DOCUMENTED_REQUIRED by name. */
  private readonly names = new Map<object, string>();
  private readonly gatewayViews = new Map<object, object>();
  private readonly inferenceViews = new Map<object, object>();

  constructor(
    private readonly operations: readonly Operation[],
    gateway: OpenAPIV3_1.Document,
    readonly view: ContractView = 'strict',
  ) {
    this.errorSchema = gateway.components?.schemas?.Error as object;
    for (const [name, schema] of Object.entries(gateway.components?.schemas ?? {})) this.names.set(schema as object, name);
  }

  /** Loads the spec shipped with this package (with the mock's /_mock/ routes unless told not to). */
  static async load(withAdmin = true, view: ContractView = 'strict'): Promise<ContractChecker> {
    const specs = await loadSpecs(withAdmin);
    return new ContractChecker(specs.operations, specs.gateway, view);
  }

  operationFor(method: string, path: string): Operation | undefined {
    return matchOperation(this.operations, method, path);
  }

  /** Every way `r` departs from the spec; empty when it conforms. */
  check(r: ObservedResponse): ContractProblem[] {
    const where = `${r.method.toUpperCase()} ${r.path} -> ${r.status}`;
    const op = this.operationFor(r.method, r.path);
    const media = (r.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const documented = this.view === 'documented';
    if (documented && r.status >= 400 && r.status < 500) return [];
    if (!op) {
      if (documented) return [{ rule: 'documented-status', message: `${where}: no documented operation answers this` }];
      // Unknown routes and methods still owe a JSON error body.
      if (media !== 'application/json') return [{ rule: 'content-type', message: `${where}: content type ${r.contentType ?? 'none'}, expected application/json` }];
      return this.validate(this.errorSchema, r.body, where);
    }
    const response = documented && r.status >= 500 ? undefined : op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`] ?? op.responses.default;
    if (!response) {
      return [{ rule: 'documented-status', message: `${where}: status ${r.status} is not documented for ${op.id} (documented: ${Object.keys(op.responses).join(', ')})` }];
    }
    const content = response.content ?? {};
    const allowed = Object.keys(content);
    if (allowed.length === 0) return [];
    if (!allowed.includes(media)) {
      return [{ rule: 'content-type', message: `${where}: content type ${r.contentType ?? 'none'}, expected ${allowed.join(' or ')}` }];
    }
    if (media !== 'application/json') return [];
    const schema = content[media]?.schema;
    if (!schema) return [];
    return this.validate(documented ? this.documentedView(schema as object, op.path.startsWith('/v1/gateway/')) : (schema as object), r.body, where);
  }

  /**
   * The documented view of a response schema: undeclared fields allowed at every level;
   * on gateway routes, `required` cut down to DOCUMENTED_REQUIRED. Inference schemas
   * keep their required fields: they are OpenAI's, which compatible clients rely on.
   */
  private documentedView(schema: object, gatewayRoute: boolean): object {
    const cache = gatewayRoute ? this.gatewayViews : this.inferenceViews;
    const cached = cache.get(schema);
    if (cached) return cached;
    const seen = new Map<object, unknown>();
    const walk = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(walk);
      if (!node || typeof node !== 'object') return node;
      const done = seen.get(node);
      if (done) return done;
      const copy: Record<string, unknown> = {};
      seen.set(node, copy);
      for (const [k, v] of Object.entries(node)) copy[k] = walk(v);
      if (copy.additionalProperties === false) delete copy.additionalProperties;
      if (copy.unevaluatedProperties === false) delete copy.unevaluatedProperties;
      if (gatewayRoute && Array.isArray(copy.required)) {
        const name = this.names.get(node);
        const keep = name ? DOCUMENTED_REQUIRED[name] : undefined;
        if (keep) copy.required = (copy.required as string[]).filter((f) => keep.includes(f));
        else delete copy.required;
      }
      return copy;
    };
    const out = walk(schema) as object;
    cache.set(schema, out);
    return out;
  }

  private validate(schema: object, body: unknown, where: string): ContractProblem[] {
    let fn = this.cache.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.cache.set(schema, fn);
    }
    if (fn(body)) return [];
    const first = fn.errors?.[0];
    const detail = first ? describeAjvError(first).message : 'invalid';
    return [{ rule: 'schema', message: `${where}: body does not match the spec: ${detail} Body: ${JSON.stringify(body).slice(0, 400)}` }];
  }
}
