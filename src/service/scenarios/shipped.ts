import { existsSync, readdirSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../paths.js';
import { ScenarioError } from './errors.js';

/**
 * The scenarios shipped in the package's `scenarios/` folder, by name: `saas-tiers` is
 * `<package>/scenarios/saas-tiers.yaml`, wherever the package is installed.
 */

/** The folder of the shipped scenarios (an absolute path). */
export const SHIPPED_SCENARIOS_DIR = fileURLToPath(new URL('scenarios/', PACKAGE_ROOT));

const SCENARIO_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** The names of the shipped scenarios (the example config and the schema are not scenarios). */
export function shippedScenarioNames(): string[] {
  return readdirSync(SHIPPED_SCENARIOS_DIR)
    .filter((f) => SCENARIO_EXTENSIONS.includes(extname(f)) && !f.endsWith('.schema.json') && !f.endsWith('-config.json'))
    .map((f) => basename(f, extname(f)))
    .sort();
}

/**
 * The file a `--scenario` value names: a path that exists, as it is; otherwise a shipped
 * scenario's name (`saas-tiers`), or the path the docs use from a clone
 * (`scenarios/saas-tiers.yaml`), resolved in the package. A bare name that is not shipped
 * is a ScenarioError that lists the shipped names; any other path is left for the reader
 * to refuse.
 */
export function resolveScenarioPath(value: string): string {
  if (existsSync(value)) return value;
  const name = basename(value, extname(value));
  const shippedLike = !/[\\/]/.test(value) || /^(\.\/)?scenarios[\\/][^\\/]+$/.test(value);
  if (shippedLike && shippedScenarioNames().includes(name)) {
    const ext = SCENARIO_EXTENSIONS.find((e) => existsSync(`${SHIPPED_SCENARIOS_DIR}${name}${e}`)) as string;
    return `${SHIPPED_SCENARIOS_DIR}${name}${ext}`;
  }
  // A bare name that is not shipped: say which are. A path: the reader says it cannot read it.
  if (!/[\\/]/.test(value) && extname(value) === '') {
    throw new ScenarioError(value, [`no such file, and no shipped scenario of that name (shipped: ${shippedScenarioNames().join(', ')})`]);
  }
  return value;
}
