import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileAtRunTime, compiledSpecs, loadBuilt, type CompiledSpecs } from '../../src/http/compiled-spec.js';
import { loadSpecs, specDigest } from '../../src/http/spec.js';
import type { RawRequest } from '../../src/http/validation.js';

// `npm test` builds first (pretest); run `npm run build` before running this file alone.
const DIST = new URL('../../dist/generated/', import.meta.url);

function built(): CompiledSpecs {
  const b = loadBuilt(DIST, true);
  if (!b) throw new Error('dist/generated is missing or stale: run npm run build');
  return b;
}

const raw = (r: Partial<RawRequest>): RawRequest => ({ params: {}, query: {}, body: undefined, hasBody: false, isJson: true, ...r });
const json = (body: unknown): RawRequest => raw({ body, hasBody: true });
const models = [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 10 }] }];

// Requests of every kind the validators decide: valid, each sort of refusal, coercion, defaults.
const cases: [string, RawRequest][] = [
  ['createGroup', json({ metadata: { external_entity_id: 'x' }, models })],
  ['createGroup', json({ metadata: {}, models })],
  ['createGroup', json({ metadata: { external_entity_id: 'x' }, models: [] })],
  ['createGroup', json({ metadata: { external_entity_id: 'x', extra: 1 }, models })],
  ['createGroup', json({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'no-slash' }] })],
  ['createGroup', json({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b', rate_limits: [{ type: 'TOKEN', unit: 'YEAR', threshold: 1 }] }] })],
  ['createGroup', json('a string')],
  ['createGroup', raw({})],
  ['createGroup', raw({ body: {}, hasBody: true, isJson: false })],
  ['listGroups', raw({ query: {} })],
  ['listGroups', raw({ query: { limit: '5' } })],
  ['listGroups', raw({ query: { limit: 'five' } })],
  ['listGroups', raw({ query: { limit: '5000' } })],
  ['getGroup', raw({ params: { group_id: 'g' } })],
  ['createChatCompletion', json({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }] })],
  ['createChatCompletion', json({ model: 'a/b', messages: [] })],
  ['createChatCompletion', json({ model: 'a/b', messages: [{ role: 'user', content: 'hi' }], n: 2 })],
];

function outcome(specs: CompiledSpecs, op: string, r: RawRequest): unknown {
  const validate = specs.validators.get(op);
  if (!validate) throw new Error(`no validator for ${op}`);
  try {
    return { ok: validate(structuredClone(r)) };
  } catch (e) {
    const err = e as { message: string; param: unknown; code: unknown };
    return { refused: err.message, param: err.param, code: err.code };
  }
}

describe('the spec compiled at build time (dist/generated)', () => {
  it('holds the operation table the documents give, in the same order', async () => {
    const { operations } = await loadSpecs(true);
    const b = built();
    expect(b.from).toBe('build');
    expect(b.operations).toEqual(operations);
    expect(loadBuilt(DIST, false)?.operations.map((o) => o.id)).toEqual((await loadSpecs(false)).operations.map((o) => o.id));
  });

  it('decides every request as the validators compiled at run time do', async () => {
    const b = built();
    const r = await compileAtRunTime(true);
    expect(r.from).toBe('spec');
    const refused = cases.filter(([op, req]) => 'refused' in (outcome(r, op, req) as object));
    // The cases exercise both outcomes, or the comparison would prove little.
    expect(refused.length).toBeGreaterThan(5);
    expect(refused.length).toBeLessThan(cases.length - 3);
    for (const [op, req] of cases) expect(outcome(b, op, req), `${op} ${JSON.stringify(req)}`).toEqual(outcome(r, op, req));
  });

  it('is ignored when stamped with other spec bytes or missing, so the server compiles the spec as it is', async () => {
    expect(specDigest()).toMatch(/^[0-9a-f]{64}$/);
    expect(loadBuilt(DIST, true, 'f'.repeat(64))).toBeUndefined();
    expect(loadBuilt(new URL('./no-such-dir/', DIST), true)).toBeUndefined();
    // Run from src/ there is no generated/ beside the module: the run-time compiler serves.
    expect((await compiledSpecs(true)).from).toBe('spec');
  });

  it('lets a server started from the build answer without loading swagger-parser, YAML or the ajv compiler', () => {
    // A child process, so this test's own imports do not count. CommonJS packages imported
    // from ESM still land in require.cache, which is what is inspected.
    const index = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const { startMock } = await import(${JSON.stringify(index)});
      const m = await startMock();
      const r = await fetch(m.url + '/v1/gateway/groups', { headers: { Authorization: 'Api-Key mock-management-key' } });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules[/](ajv|ajv-formats|@apidevtools|js-yaml)[/]/.test(k));
      console.log(JSON.stringify({ status: r.status, loaded }));
      await m.close();`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })) as { status: number; loaded: string[] };
    expect(out.status).toBe(200);
    // Only the small runtime helpers the generated validators require.
    expect(out.loaded.map((k) => k.replace(/.*node_modules\//, '')).sort()).toEqual(['ajv-formats/dist/formats.js', 'ajv/dist/runtime/ucs2length.js']);
  }, 40_000);
});
