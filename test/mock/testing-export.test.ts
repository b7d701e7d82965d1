import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

// The README's example, run as an integrator would: through the package name, against
// the built dist (npm test builds first).
it('ContractChecker is importable as frontier-gateway-mock/testing and checks a recorded response in both views', async () => {
  const script = `
    import { ContractChecker } from 'frontier-gateway-mock/testing';
    const recorded = {
      method: 'GET',
      path: '/v1/gateway/groups/grp-123',
      status: 200,
      contentType: 'application/json',
      body: {
        id: 'grp-123',
        metadata: { name: null, external_entity_id: 'acme' },
        hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null },
        created_at: '2026-11-23T12:00:00Z',
        etag: 'W/"1"',
      },
    };
    const refused = { method: 'POST', path: '/v1/gateway/groups', status: 422, contentType: 'application/json', body: { detail: 'bad' } };
    const strict = await ContractChecker.load(false, 'strict');
    const documented = await ContractChecker.load(false, 'documented');
    console.log(JSON.stringify({
      strict: strict.check(recorded).map((p) => p.rule),
      documented: documented.check(recorded).map((p) => p.rule),
      strict422: strict.check(refused).map((p) => p.rule),
      documented422: documented.check(refused).map((p) => p.rule),
      missingId: documented.check({ ...recorded, body: { ...recorded.body, id: undefined } }).map((p) => p.message),
    }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  const out = JSON.parse(stdout);
  // Strict: our spec forbids the extra field and requires models and effective_models.
  expect(out.strict).toEqual(['schema']);
  // Documented: extra fields allowed, only the published required fields needed.
  expect(out.documented).toEqual([]);
  expect(out.strict422).toEqual(['documented-status']);
  expect(out.documented422).toEqual([]);
  expect(out.missingId[0]).toMatch(/id/);
});
