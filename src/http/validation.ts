import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { OpenAPIV3_1 } from 'openapi-types';
import { badRequest } from '../domain/errors.js';
import type { Operation } from './spec.js';

/**
 * Request validation compiled from the spec with ajv, once per operation at start-up.
 * A failure becomes a 400 whose message and `param` name the field.
 */

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

export function newAjv(options: { coerce?: boolean; allErrors?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({
    strict: false,
    allErrors: options.allErrors === true,
    coerceTypes: options.coerce ? 'array' : false,
    useDefaults: options.coerce === true,
    validateFormats: true,
  });
  addFormats(ajv);
  return ajv;
}

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

export function compileRequestValidators(operations: readonly Operation[]): Map<string, RequestValidator> {
  const plain = newAjv();
  const coercing = newAjv({ coerce: true });
  let every: Ajv2020 | undefined;
  const allErrors = () => (every ??= newAjv({ allErrors: true }));
  const out = new Map<string, RequestValidator>();
  for (const op of operations) out.set(op.id, compileOne(op, plain, coercing, allErrors));
  return out;
}

function compileOne(op: Operation, plain: Ajv2020, coercing: Ajv2020, allErrors: () => Ajv2020): RequestValidator {
  const group = (where: 'path' | 'query'): ValidateFunction | undefined => {
    const ps = op.parameters.filter((p) => p.in === where);
    if (ps.length === 0) return undefined;
    return coercing.compile({
      type: 'object',
      properties: Object.fromEntries(ps.map((p) => [p.name, p.schema ?? {}])),
      required: ps.filter((p) => p.required).map((p) => p.name),
    });
  };
  const pathCheck = group('path');
  const queryCheck = group('query');
  const media = op.requestBody?.content?.['application/json'] as OpenAPIV3_1.MediaTypeObject | undefined;
  const bodyCheck = media?.schema ? plain.compile(media.schema) : undefined;
  // Compiled on first need: only bodies with unknown fields pay for it.
  let everyError: ValidateFunction | undefined;
  const unknownOf = (body: unknown): { path: string[]; name: string }[] => {
    everyError ??= allErrors().compile(media?.schema as object);
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
      if (unknown.length === 0) throw fieldError(bodyCheck.errors, media?.schema);
      body = structuredClone(body);
      for (const u of unknown) {
        const parent = u.path.reduce<unknown>((node, seg) => (node as Record<string, unknown> | undefined)?.[seg], body);
        if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[u.name];
        ignored.push(joinPath([...u.path, u.name]));
      }
      onIgnored?.(ignored);
      if (!bodyCheck(body)) throw fieldError(bodyCheck.errors, media?.schema);
    }
    return { params: params as Record<string, string>, query, body, ignored };
  };
}

const pointerSegments = (pointer: string): string[] =>
  pointer === '' ? [] : pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** `/models/0/rate_limits/1/threshold` -> `models[0].rate_limits[1].threshold`. */
export function fieldPath(pointer: string): string {
  return joinPath(pointerSegments(pointer));
}

/** `['models', '0', 'slug']` -> `models[0].slug`. */
function joinPath(segments: readonly string[]): string {
  return segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

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
