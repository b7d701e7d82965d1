/**
 * The import floor's public face (docs/architecture.md): what a workspace observed through
 * the gateway API becomes as a scenario (`scenarioFromWorkspace`, `scenarioYaml`), and the
 * read-only, paced reader of a live workspace (`fetchWorkspace`). Used by the `import`
 * command (src/cli-import.ts) and by a proxy's `--record`.
 */
export { DEFAULT_IMPORT_WORKSPACE, scenarioFromWorkspace, scenarioYaml, type ImportedSecret, type ObservedWorkspace, type WorkspaceScenario, type WorkspaceScenarioOptions } from './workspace-scenario.js';
export { fetchWorkspace, ImportError, type FetchedWorkspace, type FetchWorkspaceOptions } from './fetch-workspace.js';
