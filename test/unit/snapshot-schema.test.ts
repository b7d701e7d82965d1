import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startMock } from '../../src/index.js';
import { ADMIN_SPEC_PATH, GATEWAY_SPEC_PATH } from '../../src/http/spec.js';
import { builtSnapshotValidator, compileSnapshotValidator, snapshotSchema } from '../../src/store/snapshot-schema.js';
import { Store } from '../../src/store/store.js';

/** The snapshot format lives in openapi/mock-admin.yaml (components/schemas/Snapshot) and restores are validated from it. */

const schemas = (path: string) => (parse(readFileSync(path, 'utf8')) as { components: { schemas: Record<string, any> } }).components.schemas;

describe('the Snapshot schema of the admin spec', () => {
  it('copies the gateway spec ModelSlug exactly (the copies are tied here)', () => {
    const admin = schemas(ADMIN_SPEC_PATH).SnapshotSlug;
    const gateway = schemas(GATEWAY_SPEC_PATH).ModelSlug;
    expect(admin.pattern).toBe(gateway.pattern);
    expect(admin.maxLength).toBe(gateway.maxLength);
  });

  it('is what restores are checked against: a snapshot of a live store passes, a changed one does not', () => {
    const store = new Store({ seed: () => ({ workspaces: [{ id: 'w', onboarded: true, webhookUrl: null, webhookSecret: 's', orgPrefixes: ['w'], environments: ['production'], registerPublicKey: null }], managementKeys: [] }) });
    const validate = compileSnapshotValidator();
    const snap = store.snapshot();
    expect(validate(snap), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...snap, surprise: true })).toBe(false);
    expect((snapshotSchema() as { additionalProperties: unknown }).additionalProperties).toBe(false);
  });

  it.runIf(existsSync(new URL('validators.cjs', new URL('../../dist/generated/', import.meta.url))))('the build compiled it: built and run-time validators decide alike', async () => {
    const built = builtSnapshotValidator(new URL('../../dist/generated/', import.meta.url));
    expect(built).toBeTypeOf('function');
    const runtime = compileSnapshotValidator();
    const m = await startMock();
    try {
      const snap = m.snapshot() as any;
      const cases = [snap, { ...snap, version: 2 }, { ...snap, clock: { now_ms: 9e15, offset_ms: 0 } }, { ...snap, clock: { now_ms: 1.5, offset_ms: 0 } }, { ...snap, groups: [{}] }, { ...snap, x: 1 }];
      for (const c of cases) expect(built?.(c), JSON.stringify(c).slice(0, 80)).toBe(runtime(c));
    } finally {
      await m.close();
    }
  });

  it('a state file is restored with the admin routes off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-state-'));
    const path = join(dir, 'state.json');
    const first = await startMock({ stateFile: path });
    const snap = first.snapshot();
    await first.close();
    writeFileSync(path, JSON.stringify({ ...snap, management_keys: snap.management_keys.slice(0, 1) }));
    const second = await startMock({ admin: false, stateFile: path });
    try {
      expect(second.mock.restoredFromStateFile).toBe(true);
      expect(second.snapshot().management_keys).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});
