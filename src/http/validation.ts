import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { OpenAPIV3_1 } from 'openapi-types';
import { badRequest } from '../domain/errors.js';
import { describeAjvError, joinPath, pointerSegments } from '../lib/ajv-errors.js';
import type { SchemaFlavour } from '../lib/ajv.js';
import type { Operation } from './spec.js';

export type { SchemaFlavour };
export { describeAjvError };

/**
 * Request validation compiled from the spec with ajv, once per operation: at build time
 * to standalone code (scripts/build-spec.mjs), or at start-up when that is missing or
 * stale (src/http/compiled-spec.ts). Both compile the same list, requestSchemas().
 * A failure becomes a 400 whose message and `param` name the field.
 */

export interface ValidRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Unknown body fields that were dropped (`ignore` mode), as field paths. */
  ignored: string[];
}

/**
 * What to do with body fields a schema does not list where it says
 * `additionalProperties: false`: `ignore` (default) drops them and reports them, as the
 * published schema does not forbid them; `reject` refuses them with 400.
 */
export type UnknownFields = 'ignore' | 'reject';

export interface RawRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Whether the client sent a body at all. */
  hasBody: boolean;
  /** Whether that body was JSON. */
  isJson: boolean;
}

/**
 * `onIgnored` hears the dropped fields before anything else is checked, so a request that
 * fails for another reason still names them.
 */
export type RequestValidator = (raw: RawRequest, unknownFields?: UnknownFields, onIgnored?: (paths: string[]) => void) => ValidRequest;


/** One schema a request is checked against, named `<operationId>.<part>`. */
export interface RequestSchema {
  key: string;
  flavour: SchemaFlavour;
  schema: object;
}

/** `unknown`: the body schema again, all errors reported, to find unknown fields. */
export type RequestPart = 'path' | 'query' | 'body' | 'unknown';

/** Every schema of one operation's request, so the build step and the run-time compiler compile the same list. */
export function requestSchemas(op: Operation): Partial<Record<RequestPart, RequestSchema>> {
  const out: Partial<Record<RequestPart, RequestSchema>> = {};
  for (const where of ['path', 'query'] as const) {
    const ps = op.parameters.filter((p) => p.in === where);
    if (ps.length === 0) continue;
    out[where] = {
      key: `${op.id}.${where}`,
      flavour: 'coercing',
      schema: {
        type: 'object',
        properties: Object.fromEntries(ps.map((p) => [p.name, p.schema ?? {}])),
        required: ps.filter((p) => p.required).map((p) => p.name),
      },
    };
  }
  const media = op.requestBody?.content?.['application/json'] as OpenAPIV3_1.MediaTypeObject | undefined;
  if (media?.schema) {
    out.body = { key: `${op.id}.body`, flavour: 'plain', schema: media.schema as object };
    // Inference bodies pass unknown fields through; only management and admin bodies list theirs.
    if (op.auth !== 'federated') out.unknown = { key: `${op.id}.unknown`, flavour: 'every', schema: media.schema as object };
  }
  return out;
}

/** Turns one request schema into its check: ajv at run time, or a lookup of the build's standalone code. */
export type SchemaCompiler = (schema: RequestSchema) => ValidateFunction;

export function compileRequestValidators(operations: readonly Operation[], compile: SchemaCompiler): Map<string, RequestValidator> {
  const out = new Map<string, RequestValidator>();
  for (const op of operations) out.set(op.id, compileOne(op, compile));
  return out;
}

function compileOne(op: Operation, compile: SchemaCompiler): RequestValidator {
  const schemas = requestSchemas(op);
  const pathCheck = schemas.path && compile(schemas.path);
  const queryCheck = schemas.query && compile(schemas.query);
  const bodyCheck = schemas.body && compile(schemas.body);
  // Looked up on first need: only bodies with unknown fields pay for it.
  let everyError: ValidateFunction | undefined;
  const unknownOf = (body: unknown): { path: string[]; name: string }[] => {
    if (!schemas.unknown) return [];
    everyError ??= compile(schemas.unknown);
    everyError(body);
    return (everyError.errors ?? [])
      .filter((e) => e.keyword === 'additionalProperties')
      .map((e) => ({ path: pointerSegments(e.instancePath), name: String((e.params as { additionalProperty: unknown }).additionalProperty) }));
  };
  const bodyRequired = op.requestBody?.required === true;

  return (raw, unknownFields = 'ignore', onIgnored) => {
    const params = { ...raw.params };
    if (pathCheck && !pathCheck(params)) throw fieldError(pathCheck.errors);
    const query: Record<string, unknown> = { ...raw.query };
    if (queryCheck && !queryCheck(query)) throw fieldError(queryCheck.errors);
    let body = raw.body;
    if (raw.hasBody && !raw.isJson && op.requestBody) {
      throw badRequest('The request body must be JSON, sent with Content-Type: application/json.', 'invalid_content_type', null);
    }
    if (!raw.hasBody) {
      if (bodyRequired) throw badRequest('A JSON request body is required.', 'missing_body', null);
      body = op.requestBody ? {} : undefined;
    }
    const ignored: string[] = [];
    if (bodyCheck && body !== undefined && !bodyCheck(body)) {
      const unknown = unknownFields === 'ignore' ? unknownOf(body) : [];
      if (unknown.length === 0) throw fieldError(bodyCheck.errors, schemas.body?.schema);
      body = structuredClone(body);
      for (const u of unknown) {
        const parent = u.path.reduce<unknown>((node, seg) => (node as Record<string, unknown> | undefined)?.[seg], body);
        if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[u.name];
        ignored.push(joinPath([...u.path, u.name]));
      }
      onIgnored?.(ignored);
      if (!bodyCheck(body)) throw fieldError(bodyCheck.errors, schemas.body?.schema);
    }
    return { params: params as Record<string, string>, query, body, ignored };
  };
}

function fieldError(errors: ErrorObject[] | null | undefined, rootSchema?: unknown) {
  const first = errors?.[0];
  if (!first) return badRequest('The request is invalid.', 'invalid_request', null);
  const { message, param } = describeAjvError(first, rootSchema);
  return badRequest(message, 'invalid_request', param);
}
