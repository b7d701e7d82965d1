/**
 * The package's testing entry point, `frontier-gateway-mock/testing`: what an integrator
 * needs to check recorded Frontier Gateway traffic against the spec without starting a
 * mock. `ContractChecker.load(false, 'strict')` holds a response to this project's spec;
 * `ContractChecker.load(false, 'documented')` only to what the documentation guarantees
 * (the view to use for a real deployment).
 */
export { ContractChecker, DOCUMENTED_REQUIRED, type ContractProblem, type ContractView, type ObservedResponse } from './contract.js';
export { isRfc3339Utc, stringsWithPaths } from './lib/documented-forms.js';
