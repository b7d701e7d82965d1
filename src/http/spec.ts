import type { OpenAPIV3_1 } from 'openapi-types';
import type { Scope } from '../domain/records.js';
import { ADMIN_SPEC_PATH, GATEWAY_SPEC_PATH, specDigest } from '../lib/spec-files.js';

/**
 * Loads the OpenAPI documents and turns them into the list of operations the server
 * registers. The documents are the single source of truth for routes, methods,
 * parameters, request and response schemas, auth kind and required scope.
 */

export { ADMIN_SPEC_PATH, GATEWAY_SPEC_PATH, specDigest };

export type AuthKind = 'workspace' | 'federated' | 'none';
/** `x-fgw-body`: how the body is read (see the documents' descriptions). */
export type BodyKind = 'json' | 'json-with-bytes' | 'json-large';
const BODY_KINDS: readonly BodyKind[] = ['json', 'json-with-bytes', 'json-large'];
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: readonly HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete'];

export interface Operation {
  id: string;
  method: HttpMethod;
  /** The OpenAPI path template, e.g. /v1/gateway/groups/{group_id}. */
  path: string;
  /** Matches concrete paths of this template. */
  pathPattern: RegExp;
  auth: AuthKind;
  scope: Scope | undefined;
  /** `x-fgw-page-names-view-scope`: the operation's documentation page names view scope. */
  pageNamesViewScope: boolean;
  /** `x-fgw-body`. */
  body: BodyKind;
  /** `x-fgw-always`: an admin operation served even without the admin routes (health). */
  always: boolean;
  parameters: OpenAPIV3_1.ParameterObject[];
  requestBody: OpenAPIV3_1.RequestBodyObject | undefined;
  responses: Record<string, OpenAPIV3_1.ResponseObject>;
  /** Which document it came from. */
  document: 'gateway' | 'admin';
}

export interface LoadedSpecs {
  operations: Operation[];
  gateway: OpenAPIV3_1.Document;
  admin: OpenAPIV3_1.Document | undefined;
}

type RawOperation = OpenAPIV3_1.OperationObject & {
  'x-fgw-auth'?: string;
  'x-fgw-scope'?: string;
  'x-fgw-page-names-view-scope'?: boolean;
  'x-fgw-body'?: string;
  'x-fgw-always'?: boolean;
};

/** Dereferences both documents and lists their operations; fails on anything malformed. */
export async function loadSpecs(withAdmin: boolean): Promise<LoadedSpecs> {
  // Loaded on demand: a server started from the build never needs the parser.
  const { default: SwaggerParser } = await import('@apidevtools/swagger-parser');
  const gateway = (await SwaggerParser.dereference(GATEWAY_SPEC_PATH)) as OpenAPIV3_1.Document;
  // Without the admin routes, the admin document still gives the operations served always (health).
  const admin = (await SwaggerParser.dereference(ADMIN_SPEC_PATH)) as OpenAPIV3_1.Document;
  const operations = [...operationsOf(gateway, 'gateway'), ...operationsOf(admin, 'admin').filter((op) => withAdmin || op.always)];
  return { operations, gateway, admin };
}

function operationsOf(doc: OpenAPIV3_1.Document, document: Operation['document']): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (!item) continue;
    const shared = (item.parameters ?? []) as OpenAPIV3_1.ParameterObject[];
    for (const method of METHODS) {
      const op = item[method] as RawOperation | undefined;
      if (!op) continue;
      if (!op.operationId) throw new Error(`${document} spec: ${method.toUpperCase()} ${path} has no operationId`);
      const auth = (op['x-fgw-auth'] ?? 'workspace') as AuthKind;
      if (!['workspace', 'federated', 'none'].includes(auth)) throw new Error(`${op.operationId}: unknown x-fgw-auth ${auth}`);
      const body = (op['x-fgw-body'] ?? 'json') as BodyKind;
      if (!BODY_KINDS.includes(body)) throw new Error(`${op.operationId}: unknown x-fgw-body ${body}`);
      const own = (op.parameters ?? []) as OpenAPIV3_1.ParameterObject[];
      const parameters = [...shared.filter((p) => !own.some((o) => o.name === p.name && o.in === p.in)), ...own];
      out.push({
        id: op.operationId,
        method,
        path,
        pathPattern: pathPatternOf(path),
        auth,
        scope: op['x-fgw-scope'] as Scope | undefined,
        pageNamesViewScope: op['x-fgw-page-names-view-scope'] === true,
        body,
        always: op['x-fgw-always'] === true,
        parameters,
        requestBody: op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined,
        responses: (op.responses ?? {}) as Record<string, OpenAPIV3_1.ResponseObject>,
        document,
      });
    }
  }
  return out;
}

/** Matches the concrete paths of an OpenAPI path template, capturing each path parameter in order. */
export function pathPatternOf(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}/?$`);
}

/** The operation serving `method` on a concrete `path`, if any. */
export function matchOperation(operations: readonly Operation[], method: string, path: string): Operation | undefined {
  const m = method.toLowerCase();
  return operations.find((op) => op.method === m && op.pathPattern.test(path));
}
