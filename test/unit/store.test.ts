import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { Gateway } from '../../src/service/gateway.js';
import { IdSource } from '../../src/domain/ids.js';
import { verifyKey } from '../../src/domain/keys.js';
import { SnapshotError, SNAPSHOT_VERSION } from '../../src/store/snapshot.js';
import { Store, type StoreSeed } from '../../src/store/store.js';
import { verifySignature } from '../../src/domain/webhooks.js';
import { signatureOf, storedDelivery, WebhookLog } from '../../src/store/webhook-log.js';

const S = 'org/model';
const seed = (): StoreSeed => ({
  workspaces: [
    { id: 'ws', onboarded: true, webhookUrl: null, webhookSecret: 'whsec', orgPrefixes: ['ws'], environments: ['production'], registerPublicKey: null },
    { id: 'other', onboarded: true, webhookUrl: null, webhookSecret: 'whsec', orgPrefixes: ['other'], environments: ['production'], registerPublicKey: null },
  ],
  managementKeys: [{ key: 'admin-key', workspace: 'ws', scope: 'management' }],
});

let clock: ManualClock;
let store: Store;
let gw: Gateway;

function build(idSeed?: string) {
  clock = new ManualClock(Date.UTC(2026, 4, 13, 12, 0, 0));
  store = new Store({ seed, baseClock: clock, ...(idSeed ? { idSeed } : {}) });
  gw = new Gateway(store);
}
beforeEach(() => build());

/** A small world: a CASCADING tree with keys, traffic on two windows, and a webhook delivery. */
function populate() {
  const root = gw.groups.create('ws', {
    metadata: { name: 'root', external_entity_id: 'root' },
    models: [{ slug: S, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 10 }], usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 1000 }] }],
    hierarchy: { limit_enforcement: 'CASCADING' },
  });
  const child = gw.groups.create('ws', { metadata: { external_entity_id: 'child' }, models: [{ slug: S }], hierarchy: { parent_group_id: root.id } });
  const key = gw.keys.mint('ws', child.id, 'k1');
  for (let i = 0; i < 3; i++) gw.usage.admit(store.group(child.id)!, S, 7);
  store.webhooks.add(storedDelivery({ id: 'd1', workspace_id: 'ws', url: null, state: 'no_receiver', body: JSON.stringify({ type: 'API_BILLING_USAGE', data: { events: [] } }), signature: 'v1=x', attempts: [] }));
  return { root, child, key };
}

describe('Store', () => {
  it('reset goes back to the seed: no records, no counters, no deliveries, clock at zero offset', () => {
    populate();
    store.clock.advance(5000);
    store.reset();
    expect(store.allGroups()).toEqual([]);
    expect(store.allKeys()).toEqual([]);
    expect(store.meter.snapshot(clock.now())).toEqual({ rolling: [], daily: [] });
    expect(store.webhooks.view()).toEqual({ deliveries: [], dead_letter: [] });
    expect(store.clock.offset).toBe(0);
    expect(store.workspaces().map((w) => w.id)).toEqual(['ws', 'other']);
    expect(store.managementKey('admin-key')?.workspaceId).toBe('ws');
  });

  it('groups with equal models share one frozen copy; a PATCH gives a group a list of its own', () => {
    const input = () => ({ metadata: { external_entity_id: `g${Math.random()}` }, models: [{ slug: S, rate_limits: [{ type: 'REQUEST' as const, unit: 'MINUTE' as const, threshold: 5 }] }], hierarchy: {} });
    const a = store.group(gw.groups.create('ws', input()).id)!;
    const b = store.group(gw.groups.create('ws', input()).id)!;
    expect(b.models).toBe(a.models);
    expect(Object.isFrozen(a.models[0]!.rate_limits[0])).toBe(true);
    gw.groups.update('ws', b.id, { models: [{ slug: S, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 6 }] }] });
    expect(store.group(b.id)!.models).not.toBe(a.models);
    expect(a.models[0]!.rate_limits[0]!.threshold).toBe(5);
    // A restored snapshot shares again.
    store.restore(store.snapshot());
    const [ra, rb] = [store.group(a.id)!, store.group(b.id)!];
    expect(ra.models).toBe(store.group(gw.groups.create('ws', input()).id)!.models);
    expect(rb.models[0]!.rate_limits[0]!.threshold).toBe(6);
  });

  it("keeps a group's keys on its record where no view, spread or JSON sees them", () => {
    const { child, key } = populate();
    const record = store.group(child.id)!;
    expect(Object.keys(record)).not.toContain('keys');
    expect(JSON.stringify(record)).not.toContain(key.prefix);
    expect(Object.keys({ ...record }).sort()).toEqual(Object.keys(record).sort());
    expect([...store.keysOf(child.id)!].map((k) => k.prefix)).toEqual([key.prefix]);
  });

  it('keeps its indexes itself: children, external ids and key lists follow inserts and removals', () => {
    const { root, child, key } = populate();
    expect(store.childrenOf(root.id).map((g) => g.id)).toEqual([child.id]);
    expect(store.groupByExternalId('ws', 'child')?.id).toBe(child.id);
    expect([...(store.keysOf(child.id) ?? [])].map((k) => k.prefix)).toEqual([key.prefix]);
    const removed = store.removeSubtree(root.id);
    expect(removed.map((g) => g.id)).toEqual([root.id, child.id]);
    expect(store.groupByExternalId('ws', 'child')).toBeUndefined();
    expect(store.key(key.prefix)).toBeUndefined();
    expect(store.childrenOf(root.id)).toEqual([]);
    expect(store.meter.snapshot(clock.now())).toEqual({ rolling: [], daily: [] });
  });

  it("a group's key list follows mints and revocations in creation order, from one key to several and back", () => {
    const g = gw.groups.create('ws', { metadata: { external_entity_id: 'keys' }, models: [{ slug: S }], hierarchy: {} });
    const prefixes = () => [...(store.keysOf(g.id) ?? [])].map((k) => k.prefix);
    expect(store.keysOf(g.id)).toBeUndefined();
    const k1 = gw.keys.mint('ws', g.id, 'a').prefix;
    expect(prefixes()).toEqual([k1]);
    store.removeKey(k1);
    expect(prefixes()).toEqual([]);
    const k2 = gw.keys.mint('ws', g.id, 'b').prefix;
    const k3 = gw.keys.mint('ws', g.id, 'c').prefix;
    const k4 = gw.keys.mint('ws', g.id, 'd').prefix;
    expect(prefixes()).toEqual([k2, k3, k4]);
    store.removeKey(k3);
    expect(prefixes()).toEqual([k2, k4]);
    expect(gw.keys.list('ws', g.id, { limit: 1 }).items.map((k) => k.prefix)).toEqual([k2]);
    expect(store.removeSubtree(g.id)).toHaveLength(1);
    expect([k2, k4].map((p) => store.key(p))).toEqual([undefined, undefined]);
  });

  it('snapshot, change, restore: everything is exactly as before, counters and clock included', () => {
    const { root, child, key } = populate();
    const page1 = gw.groups.list('ws', { limit: 1 });
    const before = store.snapshot();
    const viewsBefore = [gw.groups.get('ws', root.id), gw.groups.get('ws', child.id)];
    const usageBefore = gw.usage.groupUsage('ws', root.id);

    clock.advance(30_000);
    store.clock.advance(3_600_000);
    gw.groups.delete('ws', root.id);
    gw.groups.create('ws', { metadata: { external_entity_id: 'later' }, models: [{ slug: S }], hierarchy: {} });

    store.restore(before);
    // The same instant: the offset differs only because the base clock moved meanwhile.
    expect(store.snapshot()).toEqual({ ...before, clock: { now_ms: before.clock.now_ms, offset_ms: expect.any(Number) } });
    expect([gw.groups.get('ws', root.id), gw.groups.get('ws', child.id)]).toEqual(viewsBefore);
    expect(gw.usage.groupUsage('ws', root.id)).toEqual(usageBefore);
    expect(store.clock.now()).toBe(before.clock.now_ms);
    // The rolling window still holds the 3 requests: 7 more fit under 10, the 8th does not.
    for (let i = 0; i < 7; i++) gw.usage.admit(store.group(child.id)!, S, 1);
    expect(() => gw.usage.admit(store.group(child.id)!, S, 1)).toThrow(/Rate limit exceeded/);
    // The key still verifies against its stored hash, and cursors issued before still work.
    expect(gw.keys.get('ws', child.id, key.prefix)).toEqual({ prefix: key.prefix, name: 'k1' });
    expect(gw.groups.list('ws', { limit: 1, cursor: page1.pagination.cursor as string }).items.map((g) => g.id)).toEqual([child.id]);
  });

  it('a snapshot holds no key secret, only its hash', () => {
    const { key } = populate();
    const text = JSON.stringify(store.snapshot());
    expect(text).not.toContain(key.api_key.split('.')[1]);
    expect(text).not.toContain('admin-key');
    const restoredHash = Buffer.from(store.snapshot().api_keys[0]!.sha256, 'hex');
    expect(verifyKey(key.api_key, restoredHash)).toBe(true);
  });

  it.each([
    ['not an object', 42, /JSON object/],
    ['another format', { format: 'something-else', version: 1 }, /not a frontier-gateway-mock snapshot/],
    ['a newer version', { format: 'frontier-gateway-mock/state', version: SNAPSHOT_VERSION + 1 }, /newer than this mock understands/],
  ])('refuses %s', (_what, raw, message) => {
    expect(() => store.restore(raw)).toThrow(SnapshotError);
    expect(() => store.restore(raw)).toThrow(message);
  });

  it('refuses a snapshot whose records do not hang together, and changes nothing', () => {
    const { root } = populate();
    const good = store.snapshot();
    const cases: [string, (s: any) => void, RegExp][] = [
      ['a key under a missing group', (s) => (s.api_keys[0].group_id = 'nope'), /names missing group/],
      ['a group in an unknown workspace', (s) => (s.groups[0].workspace_id = 'nowhere'), /unknown workspace/],
      ['a child whose mode differs from its parent', (s) => (s.groups[1].limit_enforcement = 'INDEPENDENT'), /differ in workspace or limit_enforcement/],
      ['a duplicate external id', (s) => (s.groups[1].external_entity_id = 'root'), /external_entity_id in a workspace/],
      ['a negative threshold (0 is a limit that admits nothing, and valid)', (s) => (s.groups[0].models[0].rate_limits[0].threshold = -1), /models\[0\]\.rate_limits\[0\]\.threshold/],
      ['a parent cycle', (s) => (s.groups[0].parent_group_id = s.groups[1].id), /cycle|differ/],
    ];
    for (const [what, spoil, message] of cases) {
      const bad = structuredClone(good);
      spoil(bad);
      expect(() => store.restore(bad), what).toThrow(message);
      expect(store.snapshot(), what).toEqual(good);
    }
    expect(gw.groups.get('ws', root.id).id).toBe(root.id);
  });

  it('with a seed, ids, secrets and cursors are the same on every run and after reset', () => {
    const run = () => {
      build('fixed-seed');
      const g = gw.groups.create('ws', { metadata: { external_entity_id: 'a' }, models: [{ slug: S }], hierarchy: {} });
      const k = gw.keys.mint('ws', g.id, null);
      return [g.id, k.api_key, store.ids.uuid()];
    };
    const first = run();
    expect(run()).toEqual(first);
    store.reset();
    const g = gw.groups.create('ws', { metadata: { external_entity_id: 'a' }, models: [{ slug: S }], hierarchy: {} });
    expect(g.id).toBe(first[0]);
    build();
    expect(gw.groups.create('ws', { metadata: { external_entity_id: 'a' }, models: [{ slug: S }], hierarchy: {} }).id).not.toBe(first[0]);
  });

  it('a seeded id stream continues where the snapshot left it', () => {
    build('stream');
    store.ids.uuid();
    const snap = store.snapshot();
    const next = [store.ids.uuid(), store.ids.groupId()];
    store.restore(snap);
    expect([store.ids.uuid(), store.ids.groupId()]).toEqual(next);
  });
});

describe('IdSource', () => {
  it('draws uniformly from the alphabet and makes valid v4 UUIDs, seeded or not', () => {
    for (const ids of [new IdSource(), new IdSource('s')]) {
      const chars = new Set(Array.from({ length: 200 }, () => ids.string(40)).join(''));
      expect(chars.size).toBe(62);
      expect(ids.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(ids.groupId()).toMatch(/^[a-z0-9]{12}$/);
    }
  });

  it('unseeded, hands out every random byte once: draws stay distinct and unchanged across pool refills', () => {
    const ids = new IdSource();
    const draws = Array.from({ length: 2000 }, () => ids.bytes(16));
    const copies = draws.map((b) => b.toString('hex'));
    for (let i = 0; i < 100; i++) ids.bytes(64);
    expect(new Set(copies).size).toBe(draws.length);
    expect(draws.map((b) => b.toString('hex'))).toEqual(copies);
    expect(ids.bytes(10_000)).toHaveLength(10_000);
  });
});

describe('Store revision, fork and baseline', () => {
  it('the revision moves with every kind of write and not with reads', () => {
    const seen = [store.revision];
    const step = (what: string, fn: () => void) => {
      fn();
      expect(store.revision, what).not.toBe(seen[seen.length - 1]);
      seen.push(store.revision);
    };
    let groupId = '';
    step('a group', () => (groupId = gw.groups.create('ws', { metadata: { external_entity_id: 'r' }, models: [{ slug: S, usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 9 }] }], hierarchy: {} }).id));
    step('a key', () => gw.keys.mint('ws', groupId, null));
    step('a charge', () => gw.usage.admit(store.group(groupId)!, S, 1));
    step('a delivery', () => store.webhooks.add(storedDelivery({ id: 'd', workspace_id: 'ws', url: null, state: 'no_receiver', body: '{}', signature: 'v1=x', attempts: [] })));
    step('a clock move', () => store.clock.advance(1000));
    step('a workspace', () => store.putWorkspace({ id: 'new', onboarded: true, webhookUrl: null, webhookSecret: 's', orgPrefixes: ['new'], environments: ['production'], registerPublicKey: null }));
    step('a reset', () => store.reset());
    const now = store.revision;
    gw.groups.list('ws', { limit: 10 });
    store.snapshot();
    store.ids.uuid();
    expect(store.revision).toBe(now);
  });

  it('a fork is a detached copy at the same instant: changes to it stay there until adopted', () => {
    populate();
    store.clock.advance(5000);
    const before = store.snapshot();
    const fork = store.fork();
    expect(fork.snapshot()).toEqual(before);
    new Gateway(fork).groups.create('ws', { metadata: { external_entity_id: 'only-in-fork' }, models: [{ slug: S }], hierarchy: {} });
    expect(store.snapshot()).toEqual(before);
    clock.advance(250);
    store.adopt(fork);
    expect(store.groupByExternalId('ws', 'only-in-fork')).toBeDefined();
    // Adopting keeps the clock's offset: the live clock went on running meanwhile.
    expect(store.clock.offset).toBe(before.clock.offset_ms);
    expect(store.clock.now()).toBe(before.clock.now_ms + 250);
  });

  it('after markBaseline, reset goes back to that state with the clock at its offset', () => {
    const { root } = populate();
    store.markBaseline();
    const baseline = store.snapshot();
    gw.groups.delete('ws', root.id);
    clock.advance(30_000);
    store.reset();
    expect({ ...store.snapshot(), taken_at: 0, clock: 0 }).toEqual({ ...baseline, taken_at: 0, clock: 0 });
    expect(store.clock.now()).toBe(baseline.clock.now_ms + 30_000);
  });
});

describe('WebhookLog', () => {
  const delivery = (i: number) => storedDelivery({ id: `d${i}`, workspace_id: 'ws', url: 'http://127.0.0.1:9/x', state: 'pending', body: '{}', signature: 'v1=x', attempts: [] });

  it('keeps the newest maxLog deliveries and dead letters, oldest first, at every size', () => {
    const log = new WebhookLog(8);
    const all = Array.from({ length: 40 }, (_, i) => delivery(i));
    all.forEach((d, i) => {
      log.add(d);
      if (i % 2 === 0) log.finish(d, 'dead_lettered');
      const want = all.slice(Math.max(0, i - 7), i + 1).map((x) => x.id);
      const view = log.view();
      expect(view.deliveries.map((x) => x.id)).toEqual(want);
      expect(log.pending().map((x) => x.id)).toEqual(want.filter((id) => Number(id.slice(1)) % 2 === 1));
      expect(view.dead_letter.map((x) => x.id)).toEqual(all.filter((_, j) => j <= i && j % 2 === 0).slice(-8).map((x) => x.id));
    });
    expect(log.snapshot().deliveries).toHaveLength(8);
  });

  it('signs a delivery made with a secret when the signature is first needed, once, with that secret', () => {
    const body = JSON.stringify({ type: 'API_BILLING_USAGE', data: { events: [] } });
    const d = storedDelivery({ id: 'd', workspace_id: 'ws', url: null, state: 'no_receiver', body, secret: 'whsec', attempts: [] });
    expect(d.signature).toBeNull();
    const log = new WebhookLog();
    log.add(d);
    const shown = log.view().deliveries[0]!.signature;
    expect(verifySignature(body, shown, 'whsec')).toBe(true);
    expect(d).toMatchObject({ signature: shown, secret: null });
    expect(signatureOf(d)).toBe(shown);
    expect(log.snapshot().deliveries[0]!.signature).toBe(shown);
  });

  it('also drops by bytes, always keeping the newest', () => {
    const log = new WebhookLog(100, 3 * delivery(0).bytes);
    for (let i = 0; i < 20; i++) log.add(delivery(i));
    expect(log.view().deliveries.map((x) => x.id)).toEqual(['d17', 'd18', 'd19']);
  });
});

describe('WebhookLog: the events it serves to GET /v1/gateway/events', () => {
  const T = Date.UTC(2026, 11, 3, 12, 0, 0);
  const withEvent = (id: string, at: number, ws = 'ws') =>
    storedDelivery({
      id,
      workspace_id: ws,
      url: null,
      state: 'no_receiver',
      body: JSON.stringify({ type: 'API_BILLING_USAGE', data: { events: [{ idempotencyKey: `evt_${id}`, timestamp: new Date(at).toISOString(), apiKeyPrefix: 'k', externalEntityId: 'e', requestMetadata: { x: 1 } }] } }),
      secret: 's',
      attempts: [],
    });
  const ids = (log: WebhookLog, from: number) => [...log.eventsFrom(from)].map((r) => r.delivery);

  it('indexes each delivery by its event time, finds a start by binary search, and reads an event back whole', () => {
    const log = new WebhookLog();
    for (let i = 0; i < 50; i++) log.add(withEvent(`d${i}`, T + Math.floor(i / 2) * 1000));
    expect(ids(log, T + 10_000)).toEqual(Array.from({ length: 30 }, (_, i) => `d${i + 20}`));
    const first = log.eventsFrom(T + 24_000).next().value!;
    expect(first).toMatchObject({ at: T + 24_000, workspaceId: 'ws', apiKeyPrefix: 'k', externalEntityId: 'e', delivery: 'd48', index: 0 });
    expect(log.eventOf(first)).toMatchObject({ idempotencyKey: 'evt_d48', requestMetadata: { x: 1 } });
    expect(log.eventSpan()).toEqual({ count: 50, oldest: T, newest: T + 24_000, since: 0 });
    expect(log.eventSpan(T + 23_000).since).toBe(4);
  });

  it('is bounded like the log (its retention), and comes back the same from a snapshot', () => {
    const log = new WebhookLog(5);
    for (let i = 0; i < 12; i++) log.add(withEvent(`d${i}`, T + i));
    expect(ids(log, 0)).toEqual(['d7', 'd8', 'd9', 'd10', 'd11']);
    const copy = new WebhookLog(5);
    copy.restore(log.snapshot());
    expect(ids(copy, T + 9)).toEqual(['d9', 'd10', 'd11']);
  });

  it('stays in time order even if deliveries ever arrive out of it (a base clock that stepped back)', () => {
    const log = new WebhookLog();
    log.add(withEvent('late', T + 5));
    log.add(withEvent('early', T + 1));
    log.add(withEvent('middle', T + 3));
    expect([...log.eventsFrom(0)].map((r) => r.delivery)).toEqual(['early', 'middle', 'late']);
    log.reset();
    log.add(withEvent('again', T));
    expect(ids(log, 0)).toEqual(['again']);
  });
});

describe('Store restore with the offset kept', () => {
  it('puts back exactly the saved offset, however the base clock ticks meanwhile', () => {
    let t = Date.UTC(2026, 4, 13, 12, 0, 0);
    const ticking = { now: () => (t += 1) }; // every read is a millisecond later
    const s = new Store({ seed, baseClock: ticking });
    s.clock.advance(3_600_000);
    const saved = s.snapshot();
    const other = new Store({ seed, baseClock: ticking });
    other.restore(saved, { clock: 'offset' });
    expect(other.clock.offset).toBe(saved.clock.offset_ms);
  });
});
