import { afterAll, afterEach, beforeAll } from 'vitest';
import { ContractChecker } from '../../src/contract.js';
import { startMock, type RunningMock, type StartOptions } from '../../src/index.js';

/**
 * Mocks for a test file: `start(options)` starts one on a free port, and every mock it
 * started is closed after each test. `running` lists the ones still open.
 */
export function mocksPerTest(): { start: (options?: StartOptions) => Promise<RunningMock>; running: RunningMock[] } {
  const running: RunningMock[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((m) => m.close()));
  });
  return {
    running,
    async start(options: StartOptions = {}) {
      const m = await startMock(options);
      running.push(m);
      return m;
    },
  };
}

/**
 * One mock for a whole test file, started before its first test and closed after its last,
 * with the strict ContractChecker (our own spec) its responses are held to.
 */
export function mockPerFile(options: StartOptions = {}): { readonly mock: RunningMock; readonly checker: ContractChecker } {
  let mock: RunningMock | undefined;
  let checker: ContractChecker | undefined;
  beforeAll(async () => {
    mock = await startMock(options);
    checker = await ContractChecker.load(true);
  });
  afterAll(() => mock?.close());
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('mockPerFile: used before its beforeAll ran');
    return value;
  };
  return {
    get mock() {
      return ready(mock);
    },
    get checker() {
      return ready(checker);
    },
  };
}
