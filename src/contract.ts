import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { OpenAPIV3_1 } from 'openapi-types';
import { loadSpecs, matchOperation, type Operation } from './http/spec.js';
import { newAjv } from './http/ajv.js';
import { describeAjvError } from './http/validation.js';

/**
 * Checks a response against the spec: the status is one the operation documents, the
 * content type is JSON (or an event stream where the spec allows one), and the body
 * validates against the schema of that status. Used by the conformance suite on every
 * response it receives, and usable by integrators on their own traffic.
 */

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

  constructor(private readonly operations: readonly Operation[], gateway: OpenAPIV3_1.Document) {
    this.errorSchema = gateway.components?.schemas?.Error as object;
  }

  static async load(withAdmin = true): Promise<ContractChecker> {
    const specs = await loadSpecs(withAdmin);
    return new ContractChecker(specs.operations, specs.gateway);
  }

  operationFor(method: string, path: string): Operation | undefined {
    return matchOperation(this.operations, method, path);
  }

  /** Every way `r` departs from the spec; empty when it conforms. */
  check(r: ObservedResponse): ContractProblem[] {
    const where = `${r.method.toUpperCase()} ${r.path} -> ${r.status}`;
    const op = this.operationFor(r.method, r.path);
    const media = (r.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!op) {
      // Unknown routes and methods still owe a JSON error body.
      if (media !== 'application/json') return [{ rule: 'content-type', message: `${where}: content type ${r.contentType ?? 'none'}, expected application/json` }];
      return this.validate(this.errorSchema, r.body, where);
    }
    const response = op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`] ?? op.responses.default;
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
    return schema ? this.validate(schema as object, r.body, where) : [];
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
