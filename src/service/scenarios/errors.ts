/**
 * The error of a refused scenario, in a module of its own so that the HTTP layer can
 * recognise it without loading the scenario reader (YAML, ajv) at start-up.
 */

/** A scenario that cannot be loaded, with one message per problem. */
export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: scenario refused, nothing was loaded:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
