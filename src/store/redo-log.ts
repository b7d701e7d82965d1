import { utcDayStart } from '../domain/clock.js';
import { parseBucketKey, WINDOW_MS, type Charge } from '../domain/meter.js';
import type { Snapshot } from './snapshot.js';
import type { EndpointRecord, GroupRecord, KeyRecord, ManagementKey, Workspace } from '../domain/records.js';
import type { ChangeSink } from './change-sink.js';
import { endpointOut, groupOut, keyOut, managementKeyOut, workspaceOut } from './snapshot-records.js';
import type { Store } from './store.js';
import { signatureOf, type Delivery, type StoredDelivery } from './webhook-log.js';

/**
 * The redo log of a state file: one JSON line per change, appended before the change is
 * answered. Every record states the new value of what it touches (a group as it now is,
 * a counter's total, the clock's offset), never a difference, so replaying a record that
 * the snapshot already holds changes nothing: the log replayed from a checkpoint's start
 * on top of a snapshot taken while changes went on gives the exact state.
 *
 * Key secrets never appear: keys are logged as their SHA-256, as in snapshots.
 */

type S = Snapshot;
type Item<K extends keyof S> = NonNullable<S[K]> extends (infer T)[] ? T : never;

export type Redo =
  /** First line of every log file: its generation, and whether it carries on the previous one with no change missing. */
  | { t: 'log'; gen: number; continues: boolean }
  | { t: 'workspace'; w: Item<'workspaces'> }
  | { t: 'management_key'; k: Item<'management_keys'> }
  | { t: 'group'; g: Item<'groups'> }
  /** A removed subtree: the groups, with their keys and counters. */
  | { t: 'remove_groups'; ids: string[] }
  | { t: 'key'; k: Item<'api_keys'> }
  | { t: 'remove_key'; prefix: string }
  | { t: 'endpoint'; e: Item<'endpoints'> }
  | { t: 'remove_endpoint'; id: string }
  /** Admitted charges at `at`: each bucket's total (DAY) or its entry at `at` (SECOND, MINUTE). */
  | { t: 'charge'; at: number; b: [string, number][] }
  /** A delivery as it now is; `add`: it joined the log; `dead`: it joined the dead-letter queue. */
  | { t: 'delivery'; d: Delivery; add: boolean; dead: boolean }
  | { t: 'clock'; offset: number }
  /** A reset or restore: the whole state. */
  | { t: 'full'; s: Snapshot };

export type { ChangeSink };

/** A delivery as the JSON text of its snapshot form, the payload spliced in as the bytes that were signed (never parsed again). */
export function deliveryJson(d: StoredDelivery): string {
  const head = JSON.stringify({ id: d.id, workspace_id: d.workspace_id, url: d.url, state: d.state, signature: signatureOf(d), attempts: d.attempts });
  return `${head.slice(0, -1)},"payload":${d.body}}`;
}

/**
 * The store's changes as redo lines, handed to `write` (which appends them to the log).
 * With a seeded id stream every record also carries the stream's position (`i`), so a
 * restarted mock goes on drawing where this one stopped.
 */
export class RedoEncoder implements ChangeSink {
  constructor(
    private readonly store: Store,
    private readonly write: (line: string) => void,
  ) {}

  private emit(json: string): void {
    const ids = this.store.ids;
    this.write(ids.seeded ? `${json.slice(0, -1)},"i":${ids.state().position}}\n` : `${json}\n`);
  }

  workspace(w: Workspace): void {
    this.emit(`{"t":"workspace","w":${JSON.stringify(workspaceOut(w))}}`);
  }
  managementKey(k: ManagementKey): void {
    this.emit(`{"t":"management_key","k":${JSON.stringify(managementKeyOut(k))}}`);
  }
  group(g: GroupRecord): void {
    this.emit(`{"t":"group","g":${JSON.stringify(groupOut(g))}}`);
  }
  removedGroups(groups: readonly GroupRecord[]): void {
    this.emit(`{"t":"remove_groups","ids":${JSON.stringify(groups.map((g) => g.id))}}`);
  }
  key(k: KeyRecord): void {
    this.emit(`{"t":"key","k":${JSON.stringify(keyOut(k))}}`);
  }
  removedKey(prefix: string): void {
    this.emit(`{"t":"remove_key","prefix":${JSON.stringify(prefix)}}`);
  }
  endpoint(e: EndpointRecord): void {
    this.emit(`{"t":"endpoint","e":${JSON.stringify(endpointOut(e))}}`);
  }
  removedEndpoint(id: string): void {
    this.emit(`{"t":"remove_endpoint","id":${JSON.stringify(id)}}`);
  }
  replaced(): void {
    this.emit(`{"t":"full","s":${JSON.stringify(this.store.snapshot())}}`);
  }
  charged(now: number, charges: readonly Charge[]): void {
    const meter = this.store.meter;
    let b = '';
    for (const c of charges) b += `${b ? ',' : ''}[${JSON.stringify(c.bucket)},${meter.chargedAt(c.bucket, c.unit, now)}]`;
    this.emit(`{"t":"charge","at":${now},"b":[${b}]}`);
  }
  delivery(d: StoredDelivery, added: boolean, deadLettered: boolean): void {
    this.emit(`{"t":"delivery","add":${added},"dead":${deadLettered},"d":${deliveryJson(d)}}`);
  }
  clockMoved(offset: number): void {
    this.emit(`{"t":"clock","offset":${offset}}`);
  }
}

/** A log file's text as records: `torn` when its last line is incomplete (a crash mid-append), which is left out. */
export function parseLog(text: string, name: string): { records: (Redo & { i?: number })[]; torn: boolean } {
  const lines = text.split('\n');
  // After the last "\n" comes either nothing or the start of a line that was never finished.
  const tail = lines.pop() as string;
  const records: (Redo & { i?: number })[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    try {
      records.push(JSON.parse(line) as Redo);
    } catch {
      // A bad line that is not the last one is damage, not an interrupted append.
      if (n === lines.length - 1 && tail === '') return { records, torn: true };
      throw new Error(`${name} line ${n + 1} is not a redo record, so the log is damaged`);
    }
  }
  return { records, torn: tail !== '' };
}

/**
 * A snapshot with redo records applied to it, as plain data; toSnapshot() gives the result
 * for Store.restore(), which checks that it hangs together.
 */
export class Replay {
  private head: Omit<S, 'workspaces' | 'management_keys' | 'groups' | 'api_keys' | 'endpoints' | 'counters' | 'webhooks'>;
  private workspaces = new Map<string, Item<'workspaces'>>();
  private managementKeys = new Map<string, Item<'management_keys'>>();
  private groups = new Map<string, Item<'groups'>>();
  private keys = new Map<string, Item<'api_keys'>>();
  private endpoints = new Map<string, Item<'endpoints'>>();
  private rolling = new Map<string, [number, number][]>();
  private daily = new Map<string, { day_start: number; used: number }>();
  private deliveries: Delivery[] = [];
  private deadLetter: Delivery[] = [];
  /** Where each delivery id is in `deliveries` and `deadLetter` (records only replace or append there). */
  private deliveryAt = new Map<string, number>();
  private deadLetterAt = new Map<string, number>();
  /** Records applied so far. */
  applied = 0;

  constructor(base: Snapshot) {
    this.head = this.load(base);
  }

  private load(s: Snapshot): Replay['head'] {
    const { workspaces, management_keys, groups, api_keys, endpoints, counters, webhooks, ...head } = s;
    this.workspaces = new Map(workspaces.map((w) => [w.id, w]));
    this.managementKeys = new Map(management_keys.map((k) => [k.sha256, k]));
    this.groups = new Map(groups.map((g) => [g.id, g]));
    this.keys = new Map(api_keys.map((k) => [k.prefix, k]));
    this.endpoints = new Map((endpoints ?? []).map((e) => [e.id, e]));
    this.rolling = new Map(counters.rolling.map((r) => [r.bucket, r.entries]));
    this.daily = new Map(counters.daily.map((d) => [d.bucket, { day_start: d.day_start, used: d.used }]));
    this.deliveries = [...webhooks.deliveries];
    this.deadLetter = [...webhooks.dead_letter];
    this.deliveryAt = new Map(this.deliveries.map((d, n) => [d.id, n]));
    this.deadLetterAt = new Map(this.deadLetter.map((d, n) => [d.id, n]));
    return { ...head };
  }

  apply(r: Redo & { i?: number }): void {
    this.applied += 1;
    switch (r.t) {
      case 'log':
        return;
      case 'full':
        this.head = this.load(r.s);
        break;
      case 'workspace':
        this.workspaces.set(r.w.id, r.w);
        break;
      case 'management_key':
        this.managementKeys.set(r.k.sha256, r.k);
        break;
      case 'group':
        this.groups.set(r.g.id, r.g);
        this.head.seq = Math.max(this.head.seq, r.g.seq);
        break;
      case 'remove_groups': {
        const ids = new Set(r.ids);
        for (const id of ids) this.groups.delete(id);
        for (const [prefix, k] of this.keys) if (ids.has(k.group_id)) this.keys.delete(prefix);
        for (const map of [this.rolling, this.daily]) for (const bucket of map.keys()) if (ids.has(parseBucketKey(bucket).groupId)) map.delete(bucket);
        break;
      }
      case 'key':
        this.keys.set(r.k.prefix, r.k);
        this.head.seq = Math.max(this.head.seq, r.k.seq);
        break;
      case 'remove_key':
        this.keys.delete(r.prefix);
        break;
      case 'endpoint':
        this.endpoints.set(r.e.id, r.e);
        this.head.seq = Math.max(this.head.seq, r.e.seq);
        break;
      case 'remove_endpoint':
        this.endpoints.delete(r.id);
        break;
      case 'charge':
        for (const [bucket, value] of r.b) this.charge(bucket, r.at, value);
        break;
      case 'delivery': {
        const at = this.deliveryAt.get(r.d.id);
        if (at !== undefined) this.deliveries[at] = r.d;
        else if (r.add) this.deliveryAt.set(r.d.id, this.deliveries.push(r.d) - 1);
        const dead = this.deadLetterAt.get(r.d.id);
        if (dead !== undefined) this.deadLetter[dead] = r.d;
        else if (r.dead) this.deadLetterAt.set(r.d.id, this.deadLetter.push(r.d) - 1);
        break;
      }
      case 'clock':
        this.head.clock = { now_ms: this.head.clock.now_ms, offset_ms: r.offset };
        break;
      default:
        throw new Error(`unknown redo record "${(r as { t: unknown }).t}"`);
    }
    if (r.i !== undefined) this.head.ids = { seed: this.head.ids.seed, position: r.i };
  }

  private charge(bucket: string, at: number, value: number): void {
    const unit = parseBucketKey(bucket).unit;
    if (unit === 'DAY') {
      this.daily.set(bucket, { day_start: utcDayStart(at), used: value });
      return;
    }
    let entries = this.rolling.get(bucket);
    if (!entries) this.rolling.set(bucket, (entries = []));
    // Entries stay in time order; one at `at` is set, not added to (the record is a total).
    let n = entries.length;
    while (n > 0 && (entries[n - 1] as [number, number])[0] > at) n--;
    if (n > 0 && (entries[n - 1] as [number, number])[0] === at) (entries[n - 1] as [number, number])[1] = value;
    else entries.splice(n, 0, [at, value]);
    // What left the window long ago is dropped, so a long log does not pile entries up.
    const cutoff = at - WINDOW_MS[unit];
    let drop = 0;
    while (drop < entries.length - 1 && (entries[drop] as [number, number])[0] <= cutoff) drop++;
    if (drop > 0) entries.splice(0, drop);
  }

  toSnapshot(): Snapshot {
    return {
      ...this.head,
      workspaces: [...this.workspaces.values()],
      management_keys: [...this.managementKeys.values()],
      groups: [...this.groups.values()].sort((a, b) => a.seq - b.seq),
      api_keys: [...this.keys.values()].sort((a, b) => a.seq - b.seq),
      endpoints: [...this.endpoints.values()].sort((a, b) => a.seq - b.seq),
      counters: {
        rolling: [...this.rolling].map(([bucket, entries]) => ({ bucket, entries })),
        daily: [...this.daily].map(([bucket, d]) => ({ bucket, day_start: d.day_start, used: d.used })),
      },
      webhooks: { deliveries: this.deliveries, dead_letter: this.deadLetter },
    };
  }
}
