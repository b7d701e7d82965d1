import { rfc3339 } from '../domain/clock.js';
import { deliveryJson } from './redo-log.js';
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './snapshot.js';
import type { GroupRecord, KeyRecord } from '../domain/records.js';
import { endpointOut, managementKeyOut, workspaceOut } from './snapshot-records.js';
import type { Store } from './store.js';

/**
 * The JSON text of the store's snapshot, a piece at a time, for a state file's
 * background save: the caller takes pieces until its time slice is used up, yields to the
 * event loop, and goes on, so no request waits for a whole save.
 *
 * The scalars (clock, ids, seq, cursor key) and the webhook lists are taken when this is
 * called; groups, keys, endpoints and counters are read from the live maps as the pieces
 * are taken, so a record may appear as it was at any moment of the save (a "fuzzy"
 * checkpoint). The redo log started at the same moment holds every change made since, as
 * the new value of what it touched, so replaying it on top of this text gives the exact
 * state. `log_generation` names that log.
 */
export function snapshotPieces(store: Store, logGeneration: number): Generator<string, void, undefined> {
  const now = store.clock.now();
  const head = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    taken_at: rfc3339(now),
    clock: { now_ms: now, offset_ms: store.clock.offset },
    ids: store.ids.state(),
    cursor_key: store.cursors.key.toString('base64'),
    seq: store.lastSeq,
    log_generation: logGeneration,
  };
  const live = store.liveRecords();
  const workspaces = [...live.workspaces].map(workspaceOut);
  const managementKeys = [...live.managementKeys].map(managementKeyOut);
  const webhooks = store.webhooks.stored();
  const meter = store.meter;

  function* list<T>(name: string, items: Iterator<T> | Iterable<T>, json: (item: T) => string, first = false): Generator<string> {
    yield `${first ? '' : ','}"${name}":[`;
    let comma = '';
    const it = Symbol.iterator in items ? (items as Iterable<T>)[Symbol.iterator]() : (items as Iterator<T>);
    for (let r = it.next(); !r.done; r = it.next()) {
      yield comma + json(r.value);
      comma = ',';
    }
    yield ']';
  }

  return (function* () {
    yield `${JSON.stringify(head).slice(0, -1)},"workspaces":${JSON.stringify(workspaces)},"management_keys":${JSON.stringify(managementKeys)}`;
    yield* list('groups', live.groups, groupJson);
    yield* list('api_keys', live.keys, keyJson);
    yield* list('endpoints', live.endpoints, (e) => JSON.stringify(endpointOut(e)));
    // buckets() gives every rolling bucket, then every daily one.
    yield ',"counters":{"rolling":[';
    let inDaily = false;
    let comma = '';
    for (const b of meter.buckets(now)) {
      if ('daily' in b && !inDaily) {
        inDaily = true;
        comma = '';
        yield '],"daily":[';
      }
      yield comma + JSON.stringify('rolling' in b ? b.rolling : b.daily);
      comma = ',';
    }
    yield `${inDaily ? '' : '],"daily":['}]},"webhooks":{`;
    yield* list('deliveries', webhooks.deliveries, deliveryJson, true);
    yield* list('dead_letter', webhooks.deadLetter, deliveryJson);
    yield '}}\n';
  })();
}

/**
 * A group as JSON.stringify(groupOut(g)) gives it, written directly: no copy of the record
 * and its models, and the models' JSON once per shared list (the store interns equal
 * lists), so a save of many groups makes little garbage for the collector to sweep while
 * requests go on. The property tests compare the result with the store's own snapshot.
 */
const modelsText = new WeakMap<object, string>();
const q = JSON.stringify;
export function groupJson(g: GroupRecord): string {
  let models = modelsText.get(g.models);
  if (models === undefined) modelsText.set(g.models, (models = q(g.models)));
  return `{"id":${q(g.id)},"workspace_id":${q(g.workspaceId)},"seq":${g.seq},"name":${g.name === null ? 'null' : q(g.name)},"external_entity_id":${q(g.externalEntityId)},"models":${models},"limit_enforcement":${q(g.mode)},"parent_group_id":${g.parentId === null ? 'null' : q(g.parentId)},"created_at_ms":${g.createdAt}}`;
}

/** A key as JSON.stringify(keyOut(k)) gives it, its hash turned to hex without a Buffer per key. */
const HEX = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, '0'));
export function keyJson(k: KeyRecord): string {
  let hex = '';
  for (let i = 0; i < k.hash.length; i++) hex += HEX[k.hash.charCodeAt(i)] as string;
  return `{"prefix":${q(k.prefix)},"group_id":${q(k.groupId)},"workspace_id":${q(k.workspaceId)},"name":${k.name === null ? 'null' : q(k.name)},"sha256":"${hex}","seq":${k.seq},"created_at_ms":${k.createdAt}}`;
}
