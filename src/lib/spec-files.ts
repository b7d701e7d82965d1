import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CODE_DIR, PACKAGE_ROOT } from '../paths.js';

/**
 * Where the OpenAPI documents are, their digest, and where the build puts what it compiles
 * from them: read by the HTTP layer (operations, request validators) and by the store (the
 * snapshot format is the admin document's Snapshot schema), so it sits on the lowest floor.
 */

export const GATEWAY_SPEC_PATH = fileURLToPath(new URL('openapi/frontier-gateway.yaml', PACKAGE_ROOT));
export const ADMIN_SPEC_PATH = fileURLToPath(new URL('openapi/mock-admin.yaml', PACKAGE_ROOT));

/** Where scripts/build-spec.mjs writes spec.json (the operation table) and validators.cjs (standalone ajv code). */
export const BUILT_DIR = new URL('generated/', CODE_DIR);

/** A digest of both documents' bytes: the build stamps its artefacts with it, start-up compares. */
export function specDigest(): string {
  const hash = createHash('sha256');
  for (const path of [GATEWAY_SPEC_PATH, ADMIN_SPEC_PATH]) hash.update(readFileSync(path)).update('\0');
  return hash.digest('hex');
}
