import { StateFile, type StateFileOptions } from '../../store/state-file.js';
import type { Store } from '../../store/store.js';
import type { ScenarioSummary, WorkspaceDefaults } from './apply.js';
import type { Scenario } from './scenario.js';

/**
 * The state a mock starts in: the configuration, then the start-up scenarios in order,
 * which together become what POST /_mock/reset goes back to; then, with a state file,
 * the state saved by the last run on top. The scenario reader (YAML, ajv's compiler) is
 * loaded only when there is a scenario to read, so a plain start stays cold-start cheap.
 */

export interface StartupState {
  scenarios: ScenarioSummary[];
  stateFile: StateFile | undefined;
  /** Whether an existing state file was restored. */
  restored: boolean;
}

/** Throws ScenarioError or StateFileError, with the store still at its seed. */
export async function startState(
  store: Store,
  options: {
    scenarios?: readonly (string | Scenario)[];
    stateFile?: string | StateFileOptions | undefined;
    defaults: WorkspaceDefaults;
    /** Where the state file reports disk errors when its options name no onError. */
    onError?: (message: string) => void;
  },
): Promise<StartupState> {
  let scenarios: ScenarioSummary[] = [];
  if (options.scenarios?.length) {
    const [{ applyScenarios }, { checkScenario, loadScenarioFile }, { resolveScenarioPath }] = await Promise.all([
      import('./apply.js'),
      import('./scenario.js'),
      import('./shipped.js'),
    ]);
    // A string is a path, or the name of a scenario shipped in the package (`saas-tiers`).
    const sources = options.scenarios.map((s, i) =>
      typeof s === 'string' ? loadScenarioFile(resolveScenarioPath(s)) : { source: `scenarios[${i}]`, scenario: checkScenario(s, `scenarios[${i}]`) },
    );
    scenarios = applyScenarios(store, sources, options.defaults);
    store.markBaseline();
  }
  const stateFileOptions = typeof options.stateFile === 'string' ? { path: options.stateFile } : options.stateFile;
  const stateFile =
    stateFileOptions === undefined
      ? undefined
      : new StateFile(store, { ...(options.onError ? { onError: options.onError } : {}), ...stateFileOptions });
  const restored = stateFile?.open() ?? false;
  return { scenarios, stateFile, restored };
}

/** Applies one scenario document on top of the store's state, all or nothing; throws ScenarioError. */
export async function loadScenario(
  store: Store,
  raw: unknown,
  source: string,
  defaults: WorkspaceDefaults,
  /** Called with the checked scenario before it is applied; what it throws refuses the scenario. */
  beforeApply?: (scenario: Scenario) => void,
): Promise<ScenarioSummary> {
  const [{ applyScenarios }, { checkScenario, ScenarioError }] = await Promise.all([import('./apply.js'), import('./scenario.js')]);
  const scenario = checkScenario(raw, source);
  try {
    beforeApply?.(scenario);
  } catch (e) {
    throw new ScenarioError(source, [(e as Error).message.replace(/\.$/, '')]);
  }
  return applyScenarios(store, [{ source, scenario }], defaults)[0] as ScenarioSummary;
}
