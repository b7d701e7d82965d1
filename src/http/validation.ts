import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { OpenAPIV3_1 } from 'openapi-types';
import { badRequest } from '../domain/errors.js';
import type { SchemaFlavour } from '../lib/ajv.js';
import type { Operation } from './spec.js';

export type { SchemaFlavour };

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

/** `/models/0/rate_limits/1/threshold` -> `models[0].rate_limits[1].threshold`. */
export function fieldPath(pointer: string): string {
  return joinPath(pointerSegments(pointer));
}

/** `['models', '0', 'slug']` -> `models[0].slug`. */
function joinPath(segments: readonly string[]): string {
  return segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

const pointerSegments = (pointer: string): string[] =>
  pointer === '' ? [] : pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** Plain-words message for the first ajv error, naming the field. */
export function describeAjvError(e: ErrorObject, rootSchema?: unknown): { message: string; param: string | null } {
  const at = fieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const join = (name: unknown) => (at ? `${at}.${String(name)}` : String(name));
  switch (e.keyword) {
    case 'required':
      return { message: `${join(p.missingProperty)} is required.`, param: join(p.missingProperty) };
    case 'additionalProperties':
      return { message: `${join(p.additionalProperty)} is not a known field${at ? ` of ${at}` : ''}.`, param: join(p.additionalProperty) };
    case 'enum':
      return { message: `${at} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}.`, param: at };
    case 'const':
      return { message: `${at} must be ${JSON.stringify(p.allowedValue)}.`, param: at };
    case 'pattern': {
      const desc = (e.parentSchema as { description?: string } | undefined)?.description;
      return { message: `${at} is malformed${desc ? `: ${desc.replace(/\.$/, '')}` : ''}.`, param: at };
    }
    case 'type':
      return { message: `${at || 'The request body'} must be ${String(p.type).split(',').map(article).join(' or ')}.`, param: at || null };
    case 'minLength':
    case 'maxLength':
      return { message: `${at} must be at ${e.keyword === 'minLength' ? 'least' : 'most'} ${String(p.limit)} character${p.limit === 1 ? '' : 's'} long.`, param: at };
    case 'minProperties':
    case 'maxProperties': {
      // Name the fields to choose from, e.g. the clock route's advance_seconds or now.
      const schema = (e.parentSchema ?? (at === '' ? rootSchema : undefined)) as { properties?: object } | undefined;
      const names = Object.keys(schema?.properties ?? {}).join(' or ');
      const what = at || 'The request body';
      if (e.keyword === 'minProperties' && p.limit === 1 && names) return { message: `Provide ${names}.`, param: at || null };
      if (e.keyword === 'maxProperties' && p.limit === 1 && names) return { message: `${what} takes only one of ${names}.`, param: at || null };
      return { message: `${what} ${e.message ?? 'is invalid'}.`, param: at || null };
    }
    case 'format':
      if (p.format === 'date-time') return { message: `${at} must be an ISO 8601 UTC date-time (RFC 3339), such as 2026-12-03T12:00:00Z.`, param: at };
      return { message: `${at} must be a valid ${String(p.format)}.`, param: at };
    case 'minItems':
      return { message: `${at} must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}.`, param: at };
    default:
      return { message: `${at || 'The request body'} ${e.message ?? 'is invalid'}.`, param: at || null };
  }
}

const article = (type: string) => (type === 'null' ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`);

function fieldError(errors: ErrorObject[] | null | undefined, rootSchema?: unknown) {
  const first = errors?.[0];
  if (!first) return badRequest('The request is invalid.', 'invalid_request', null);
  const { message, param } = describeAjvError(first, rootSchema);
  return badRequest(message, 'invalid_request', param);
}
