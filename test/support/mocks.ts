import { afterEach } from 'vitest';
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
