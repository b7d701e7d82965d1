/**
 * The shapes of names, defined once. The OpenAPI documents (openapi/*.yaml) and the
 * scenario schema (scenarios/scenario.schema.json) are data and carry their own copies;
 * test/unit/patterns.test.ts fails when any copy differs from these.
 */

/** One segment of a slug: a letter or digit, then letters, digits, '.', '_' or '-'. */
const SEGMENT = '[A-Za-z0-9][A-Za-z0-9._-]*';

/** An organisation's slug prefix (the part of a slug before `/`); also the shape of an environment's name. */
export const ORG_PREFIX_PATTERN = `^${SEGMENT}$`;
export const ORG_PREFIX = new RegExp(ORG_PREFIX_PATTERN);

/** A model's endpoint slug, `{org_prefix}/{name}`. */
export const MODEL_SLUG_PATTERN = `^${SEGMENT}/${SEGMENT}$`;
export const MODEL_SLUG = new RegExp(MODEL_SLUG_PATTERN);
