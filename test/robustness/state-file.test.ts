import fc from 'fast-check';
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { bucketKey } from '../../src/domain/meter.js';
import { billingEvent, billingWebhook } from '../../src/domain/webhooks.js';
import type { Snapshot } from '../../src/store/snapshot.js';
import { recoverState, StateFile, type StateFileIo } from '../../src/store/state-file.js';
import { Store, type StoreSeed } from '../../src/store/store.js';
import { storedDelivery, type StoredDelivery } from '../../src/store/webhook-log.js';

/**
 * The state file under random changes, checked against the store itself: whatever the
 * moment a crash stops the disk (in the middle of an append, a background snapshot, a
 * rename), what the files hold afterwards is exactly the state after the last change
 * that was acknowledged before it; a log cut at any byte gives the state after the last
 * whole record in what is left; stray temporary files change nothing.
 */

const RUNS = Number(process.env.FGW_STATE_RUNS ?? 60);
const BASE = Date.UTC(2030, 4, 13, 10, 0, 0);

const seed = (): StoreSeed => ({
  workspaces: [
    { id: 'ws', onboarded: true, webhookUrl: null, webhookSecret: 'secret', orgPrefixes: ['ws'], environments: ['production'], registerPublicKey: null },
  ],
  managementKeys: [{ key: 'mgmt', workspace: 'ws', scope: 'management' }],
});

const newStore = (clock: ManualClock) => new Store({ seed, baseClock: clock, idSeed: 'state-file-property', maxWebhookLog: 4 });

/** A change to the store, or a turn of the event loop (a slice of a background save), or a background save. */
type Op =
  | { op: 'group'; parent: number | null; name: string | null }
  | { op: 'rename'; pick: number; name: string }
  | { op: 'remove'; pick: number }
  | { op: 'key'; pick: number }
  | { op: 'unkey'; pick: number }
  | { op: 'endpoint' }
  | { op: 'repoint'; pick: number; model: string }
  | { op: 'unendpoint'; pick: number }
  | { op: 'charge'; pick: number; unit: 'SECOND' | 'MINUTE' | 'DAY'; amount: number }
  | { op: 'deliver'; url: boolean }
  | { op: 'attempt'; pick: number; finish: 'delivered' | 'dead_lettered' | null }
  | { op: 'clock'; ms: number }
  | { op: 'wait'; ms: number }
  | { op: 'workspace'; url: string | null }
  | { op: 'reset' }
  | { op: 'restore' }
  | { op: 'tick'; turns: number }
  | { op: 'compact'; settle: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('group' as const), parent: fc.option(fc.nat(), { freq: 3 }), name: fc.option(fc.string({ maxLength: 6 })) }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('rename' as const), pick: fc.nat(), name: fc.string({ maxLength: 6 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('key' as const), pick: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('unkey' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('endpoint' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('repoint' as const), pick: fc.nat(), model: fc.constantFrom('m1', 'm2') }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('unendpoint' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('charge' as const), pick: fc.nat(), unit: fc.constantFrom('SECOND' as const, 'MINUTE' as const, 'DAY' as const), amount: fc.integer({ min: 1, max: 50 }) }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant('deliver' as const), url: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('attempt' as const), pick: fc.nat(), finish: fc.constantFrom(null, 'delivered' as const, 'dead_lettered' as const) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('clock' as const), ms: fc.integer({ min: 1, max: 90_000 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 1_500 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('workspace' as const), url: fc.option(fc.constant('http://127.0.0.1:9/hooks')) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('reset' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('restore' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), turns: fc.integer({ min: 1, max: 12 }) }), weight: 8 },
  { arbitrary: fc.record({ op: fc.constant('compact' as const), settle: fc.boolean() }), weight: 3 },
);

/** A delivery's body as the mock writes one (the snapshot's schema holds deliveries to it): one event, told apart by `n`. */
const billingBody = (store: Store, n: number) =>
  JSON.stringify(billingWebhook([billingEvent({ requestId: `r-${n}`, at: store.clock.now(), requestMetadata: null, modelSlug: 'a/b', externalEntityId: 'e', apiKeyPrefix: 'sky_0000000000000', promptTokens: 1, completionTokens: 1 })]));

const pick = <T>(items: T[], n: number): T | undefined => (items.length ? items[n % items.length] : undefined);
const target = (model: string) => ({ provider: 'BASETEN' as const, model_id: model, environment_name: null, secret_id: null, target_model: null, vertex_config: null, base_url: null });

/** Applies one change to the store (or lets the event loop turn); `saved` is a snapshot taken earlier, for restore. */
async function apply(store: Store, clock: ManualClock, file: StateFile, o: Op, saved: Snapshot, n: number): Promise<void> {
  const groups = store.allGroups();
  switch (o.op) {
    case 'group': {
      const parent = o.parent === null ? undefined : pick(groups, o.parent);
      if (parent && depth(store, parent.id) >= 4) return;
      store.insertGroup({
        id: store.ids.groupId(),
        workspaceId: 'ws',
        name: o.name,
        externalEntityId: `ext-${n}`,
        models: [{ slug: 'a/b', rate_limits: [], usage_limits: [] }],
        mode: 'INDEPENDENT',
        parentId: parent?.id ?? null,
      });
      return;
    }
    case 'rename': {
      const g = pick(groups, o.pick);
      if (g) store.updateGroup(g.id, { name: o.name });
      return;
    }
    case 'remove': {
      const g = pick(groups, o.pick);
      if (g) store.removeSubtree(g.id);
      return;
    }
    case 'key': {
      const g = pick(groups, o.pick);
      if (g) store.insertKey({ prefix: `sk_${store.ids.string(8)}`, groupId: g.id, workspaceId: 'ws', name: null, hash: store.ids.bytes(32).toString('latin1') });
      return;
    }
    case 'unkey': {
      const k = pick(store.allKeys(), o.pick);
      if (k) store.removeKey(k.prefix);
      return;
    }
    case 'endpoint':
      store.insertEndpoint({ id: store.ids.endpointId(), workspaceId: 'ws', slug: `ws/e${n}`, region: 'UNRESTRICTED', targets: [target('m0')] });
      return;
    case 'repoint': {
      const e = pick(store.allEndpoints(), o.pick);
      if (e) store.updateEndpoint(e.id, { targets: [target(o.model)] });
      return;
    }
    case 'unendpoint': {
      const e = pick(store.allEndpoints(), o.pick);
      if (e) store.removeEndpoint(e.id);
      return;
    }
    case 'charge': {
      const g = pick(groups, o.pick);
      if (g) store.meter.admit(store.clock.now(), [{ bucket: bucketKey(g.id, 'a/b', 'REQUEST', o.unit), type: 'REQUEST', unit: o.unit, threshold: 1e9, amount: o.amount }]);
      return;
    }
    case 'deliver':
      store.webhooks.add(
        storedDelivery({ id: store.ids.uuid(), workspace_id: 'ws', url: o.url ? 'http://127.0.0.1:9/hooks' : null, state: o.url ? 'pending' : 'no_receiver', body: billingBody(store, n), secret: 'secret', attempts: [] }),
      );
      return;
    case 'attempt': {
      const d = pick(store.webhooks.stored().deliveries.filter((x) => x.state === 'pending'), o.pick) as StoredDelivery | undefined;
      if (!d) return;
      // One change per op, so that every op ends on a record boundary.
      if (o.finish) store.webhooks.finish(d, o.finish);
      else store.webhooks.addAttempt(d, { at: new Date(store.clock.now()).toISOString(), status: 500, error: null, duration_ms: 3 });
      return;
    }
    case 'clock':
      store.clock.advance(o.ms);
      return;
    case 'wait':
      clock.advance(o.ms);
      return;
    case 'workspace': {
      const w = store.workspace('ws');
      if (w) store.putWorkspace({ ...w, webhookUrl: o.url });
      return;
    }
    case 'reset':
      store.reset();
      return;
    case 'restore':
      store.restore(saved, { clock: 'offset' });
      return;
    case 'tick':
      for (let i = 0; i < o.turns; i++) await new Promise((r) => setImmediate(r));
      return;
    case 'compact':
      if (o.settle) await file.compact();
      else void file.compact();
      return;
  }
}

function depth(store: Store, id: string): number {
  let d = 0;
  for (let g = store.group(id); g?.parentId; g = store.group(g.parentId)) d++;
  return d;
}

/** The state as a restored mock would show it: everything but the instant the snapshot was taken. */
const comparable = (s: Snapshot) => ({ ...s, taken_at: 0, clock: { offset_ms: s.clock.offset_ms } });

/** What the files in `dir` bring back, as a fresh store's snapshot at the same instant. */
function recovered(path: string, clock: ManualClock): Snapshot {
  const r = recoverState(path);
  const store = newStore(new ManualClock(clock.now()));
  // No file at all (the disk went down before the first save): a mock starts from its seed.
  if (r !== undefined) store.restore(r.snapshot, { clock: 'offset' });
  return store.snapshot();
}

/** node:fs until the crash: the `at`-th call that changes the disk writes `torn` of its bytes (a write) or nothing, and every later one fails. */
function crashingIo(at: number, torn: number): { io: Partial<StateFileIo>; crashed: () => boolean } {
  let calls = 0;
  let dead = false;
  const gate = (): void => {
    if (dead) throw Object.assign(new Error('EIO: the disk is gone (simulated crash)'), { code: 'EIO' });
    if (++calls >= at) {
      dead = true;
      throw Object.assign(new Error('EIO: the disk is gone (simulated crash)'), { code: 'EIO' });
    }
  };
  const io: Partial<StateFileIo> = {
    openSync: (p, f, m) => {
      if (f !== 'r') gate();
      return fs.openSync(p, f, m);
    },
    writeSync: (fd, text) => {
      if (!dead && calls + 1 >= at) {
        calls++;
        dead = true;
        const bytes = Buffer.from(text);
        fs.writeSync(fd, bytes, 0, Math.min(bytes.length, Math.floor((torn * bytes.length) / 1000)));
        throw Object.assign(new Error('EIO: the disk is gone (simulated crash)'), { code: 'EIO' });
      }
      gate();
      return fs.writeSync(fd, text);
    },
    fdatasyncSync: (fd) => (gate(), fs.fdatasyncSync(fd)),
    fsyncSync: (fd) => (gate(), fs.fsyncSync(fd)),
    fsync: (fd, cb) => {
      try {
        gate();
      } catch (e) {
        return setImmediate(() => cb(e as NodeJS.ErrnoException));
      }
      fs.fsync(fd, cb);
    },
    ftruncateSync: (fd, n) => (gate(), fs.ftruncateSync(fd, n)),
    renameSync: (a, b) => (gate(), fs.renameSync(a, b)),
    linkSync: (a, b) => (gate(), fs.linkSync(a, b)),
    rmSync: (p, o) => (gate(), fs.rmSync(p, o)),
  };
  return { io, crashed: () => dead };
}

/** A fresh store on a manual clock at BASE, its start state, and a StateFile open on a new directory (saves only when asked). */
function openedFile(prefix: string, options: { io?: Partial<StateFileIo>; sliceMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'state.json');
  const clock = new ManualClock(BASE);
  const store = newStore(clock);
  const saved = store.snapshot();
  const file = new StateFile(store, { path, intervalMs: 1e9, onError: () => {}, ...options });
  file.open();
  return { dir, path, clock, store, saved, file };
}

describe('the state file, property-based', () => {
  it('a crash at any point (an append, a background save, a rename) loses nothing acknowledged before it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 999 }), async (ops, at, torn) => {
        const { io, crashed } = crashingIo(at, torn);
        const { dir, path, clock, store, saved, file } = openedFile('fgw-prop-', { io, sliceMs: 0 });
        let expected: Snapshot = store.snapshot();
        try {
          for (const [n, o] of ops.entries()) {
            if (crashed()) break;
            const before = store.snapshot();
            await apply(store, clock, file, o, saved, n);
            // A change acknowledged while the disk was up survives; one under way when it went down may not.
            expected = crashed() ? before : store.snapshot();
          }
          if (!crashed()) expected = store.snapshot();
          // The disk state as it is now (a background save may still be half done): a stray temporary file changes nothing.
          writeFileSync(join(dir, `.state.json.99999.1.tmp`), '{"half": ');
          const back = recovered(path, clock);
          expect(comparable(back)).toEqual(comparable(expected));
        } finally {
          file.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('changes made while a background save reads the store are all in snapshot plus log (the replay is idempotent)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          opArb.filter((o) => o.op !== 'tick' && o.op !== 'compact'),
          { minLength: 1, maxLength: 30 },
        ),
        fc.array(
          opArb.filter((o) => o.op !== 'tick' && o.op !== 'compact'),
          { minLength: 1, maxLength: 60 },
        ),
        async (before, during) => {
          const { path, clock, store, saved, file } = openedFile('fgw-fuzzy-', { sliceMs: 0 });
          try {
            for (const [n, o] of before.entries()) await apply(store, clock, file, o, saved, n);
            // One piece of the save per turn of the event loop, one change between two turns.
            const save = file.compact();
            for (const [n, o] of during.entries()) {
              await apply(store, clock, file, o, saved, before.length + n);
              await new Promise((r) => setImmediate(r));
            }
            await save;
            expect(file.health().ok).toBe(true);
            expect(comparable(recovered(path, clock))).toEqual(comparable(store.snapshot()));
          } finally {
            file.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('a redo log cut at any byte brings back exactly the changes whose records are whole', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          opArb.filter((o) => o.op !== 'tick' && o.op !== 'compact'),
          { minLength: 1, maxLength: 40 },
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (ops, cut) => {
          const { dir, path, clock, store, saved, file } = openedFile('fgw-cut-');
          const log = readdirSync(dir).find((f) => f.startsWith('state.json.log.')) as string;
          const states: { end: number; state: Snapshot }[] = [{ end: readFileSync(join(dir, log)).length, state: store.snapshot() }];
          for (const [n, o] of ops.entries()) {
            await apply(store, clock, file, o, saved, n);
            states.push({ end: readFileSync(join(dir, log)).length, state: store.snapshot() });
          }
          // Copy the files as a crash would leave them, then cut the log.
          const copy = mkdtempSync(join(tmpdir(), 'fgw-cut-copy-'));
          for (const f of readdirSync(dir)) if (!f.endsWith('.lock')) writeFileSync(join(copy, f), readFileSync(join(dir, f)));
          file.close();
          const size = (states.at(-1) as { end: number }).end;
          const at = Math.floor(cut * size);
          truncateSync(join(copy, log), at);
          const expected = [...states].reverse().find((s) => s.end <= at)?.state ?? (states[0] as { state: Snapshot }).state;
          const back = recovered(join(copy, 'state.json'), clock);
          expect(comparable(back)).toEqual(comparable(expected));
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('a snapshot round-trips through the state file: saved whole at exit, restored identical', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 50 }), async (ops) => {
        const { dir, path, clock, store, saved, file } = openedFile('fgw-round-', { sliceMs: 0 });
        for (const [n, o] of ops.entries()) await apply(store, clock, file, o, saved, n);
        const before = store.snapshot();
        file.close();
        // After a clean stop the file alone is the state, in the snapshot format (the logs are gone)...
        expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual(['state.json']);
        const onDisk = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
        const other = newStore(new ManualClock(clock.now()));
        other.restore(onDisk, { clock: 'offset' });
        expect(comparable(other.snapshot())).toEqual(comparable(before));
        // ...and a new StateFile on it brings back the same.
        const again = newStore(new ManualClock(clock.now()));
        const reopened = new StateFile(again, { path, intervalMs: 1e9, onError: () => {} });
        expect(reopened.open()).toBe(true);
        expect(comparable(again.snapshot())).toEqual(comparable(before));
        reopened.close();
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
