import { readFileSync } from 'node:fs';

/**
 * Where the package's files are, from one place. This module sits at the top of the code
 * (src/ under vitest, dist/ when built), and the built CLI is one bundled file at the same
 * depth (dist/cli.js, see scripts/bundle.mjs), so `import.meta.url` here means the same
 * in every layout, where a module deeper down would not once bundled.
 */

/** The directory of the code: src/ or dist/. */
export const CODE_DIR = new URL('./', import.meta.url);

/** The package root: openapi/, scenarios/, inspector/ and package.json are here. */
export const PACKAGE_ROOT = new URL('../', import.meta.url);

/** The package's version, from its package.json (read once, at first use of this module). */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string }).version;
