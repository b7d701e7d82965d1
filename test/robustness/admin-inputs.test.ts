import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { assertInstant, InvalidInstantError, OffsetClock } from '../../src/domain/clock.js';
import { HELP, parseCli, UsageError } from '../../src/cli-options.js';
import { DEFAULT_TIMEOUTS } from '../../src/timeouts.js';
import { loadScenarioFile, MAX_YAML_SCENARIO_BYTES } from '../../src/service/scenarios/scenario.js';
import type { RunningMock } from '../../src/index.js';
import { MAX_SNAPSHOT_BYTES } from '../../src/store/snapshot.js';
import { errorOf } from '../support/errors.js';
import { mocksPerTest } from '../support/mocks.js';

/** Hostile admin inputs (issue 21): every one answers a clear 4xx or works, never a 500 or a crash. */

const auth = { Authorization: 'Api-Key mock-management-key' };
const { start: mock } = mocksPerTest();
const hierarchy = { limit_enforcement: 'INDEPENDENT', parent_group_id: null };

describe('1. the clock holds whole milliseconds', () => {
  it('advance_seconds finer than a millisecond is a 400 naming it; scenarios and snapshots keep working', async () => {
    const m = await mock();
    const res = await request(m.url).post('/_mock/clock').send({ advance_seconds: 0.0005 });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('advance_seconds');
    expect(errorOf(res).message).toContain('millisecond');
    expect(Number.isInteger(m.mock.clock.now())).toBe(true);
    const ok = await request(m.url).post('/_mock/clock').send({ advance_seconds: 1.005 });
    expect(ok.status).toBe(200);
    expect(Number.isInteger(m.mock.clock.offset)).toBe(true);
    const scenario = await request(m.url).post('/_mock/scenarios').send({ workspaces: [{ id: 'workspace-a' }], groups: [{ name: 'g', models: [{ slug: 'a/b' }] }] });
    expect(scenario.status, scenario.text).toBe(200);
    const snap = await request(m.url).get('/_mock/snapshot');
    expect((await request(m.url).post('/_mock/snapshot').send(snap.body)).status).toBe(200);
  });

  it('the clock itself refuses a fractional millisecond', () => {
    expect(() => assertInstant(0.5)).toThrow(InvalidInstantError);
    const clock = new OffsetClock({ now: () => 1000 });
    expect(() => clock.advance(0.5)).toThrow(InvalidInstantError);
    expect(() => clock.restoreOffset(0.5)).toThrow(InvalidInstantError);
    expect(() => clock.restoreTo(1e400)).toThrow(InvalidInstantError);
    expect(clock.now()).toBe(1000);
  });
});

describe('6. admin bodies follow their own schema; faults are bounded', () => {
  it('an unknown field is a 400 naming it, and installs nothing', async () => {
    const m = await mock();
    const res = await request(m.url).post('/_mock/faults').send({ status: 503, statuz: 1 });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('statuz');
    expect(m.mock.faults.list()).toHaveLength(0);
    const clock = await request(m.url).post('/_mock/clock').send({ advance_seconds: 1, extra: true });
    expect(clock.status).toBe(400);
    const key = await request(m.url).put('/_mock/workspaces/workspace-a/register_public_key').send({ public_key: null, oops: 1 });
    expect(key.status).toBe(400);
    expect(errorOf(key).param).toBe('oops');
  });

  it('at most MAX_FAULTS rules, each body at most MAX_FAULT_BODY_BYTES', async () => {
    const { MAX_FAULTS, MAX_FAULT_BODY_BYTES } = await import('../../src/http/faults.js');
    const m = await mock();
    const big = await request(m.url).post('/_mock/faults').send({ status: 500, body: { blob: 'x'.repeat(MAX_FAULT_BODY_BYTES) } });
    expect(big.status).toBe(400);
    expect(errorOf(big).param).toBe('body');
    expect(errorOf(big).message).toContain(String(MAX_FAULT_BODY_BYTES));
    for (let i = 0; i < MAX_FAULTS; i++) m.mock.faults.add({ operation: 'listGroups', status: 500 });
    const over = await request(m.url).post('/_mock/faults').send({ status: 503 });
    expect(over.status).toBe(400);
    expect(errorOf(over).message).toContain(String(MAX_FAULTS));
    expect(m.mock.faults.list()).toHaveLength(MAX_FAULTS);
  });
});

describe('9. a key in the query string is redacted before it is stored or logged', () => {
  const secret = 'TheSecretPartOfTheKey0123456789';
  const key = `sky_AbCdEfGh1234.${secret}`;
  it('the journal and the pretty log keep only the prefix; other parameters stay as sent', async () => {
    const lines: string[] = [];
    const m = await mock({ log: (l) => lines.push(l) });
    await request(m.url).get(`/v1/gateway/groups?api_key=${key}&limit=5&token=tok123&Authorization=Bearer%20abc&q=${encodeURIComponent(key)}`).set(auth);
    const entry = (await request(m.url).get('/_mock/requests')).body.entries[0];
    expect(entry.query).toBe('api_key=sky_AbCdEfGh1234[redacted]&limit=5&token=[redacted]&Authorization=[redacted]&q=sky_AbCdEfGh1234[redacted]');
    const logged = lines.find((l) => l.startsWith('GET /v1/gateway/groups'));
    expect(logged).toContain('api_key=sky_AbCdEfGh1234[redacted]');
    for (const text of [JSON.stringify(entry), lines.join('\n')]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('tok123');
    }
  });

  it('an encoded parameter name is recognised', async () => {
    const { redactQuery } = await import('../../src/http/redact.js');
    expect(redactQuery(`API%5FKEY=${key}&x=1`)).toBe('API%5FKEY=sky_AbCdEfGh1234[redacted]&x=1');
    expect(redactQuery('secret=%E0%A4%A&plain')).toBe('secret=[redacted]&plain');
  });
});

describe('7. start-up scenario files are bounded; anchors are allowed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fgw-scenario-'));
  it('a valid file with 400 aliases loads', async () => {
    const path = join(dir, 'aliases.yaml');
    const groups = Array.from({ length: 400 }, (_, i) => `  - { name: g${i}, models: *plan }`).join('\n');
    const first = '  - name: base\n    models: &plan\n      - slug: your-org/your-model\n        rate_limits: [{ type: REQUEST, unit: MINUTE, threshold: 10 }]';
    writeFileSync(path, `workspaces: [{ id: workspace-a }]\ngroups:\n${first}\n${groups}\n`);
    const m = await mock({ scenarios: [path] });
    expect(m.mock.store.allGroups()).toHaveLength(401);
  });

  it('a billion-laughs file is refused with a plain message, at once', () => {
    const path = join(dir, 'laughs.yaml');
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    writeFileSync(path, `${levels.join('\n')}\n`);
    const started = Date.now();
    expect(() => loadScenarioFile(path)).toThrow(/aliases .* expand beyond 10000/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a file over the size bound is refused before it is read, naming the bound', () => {
    const path = join(dir, 'big.yaml');
    writeFileSync(path, `# ${'x'.repeat(MAX_YAML_SCENARIO_BYTES)}\n`);
    expect(() => loadScenarioFile(path)).toThrow(new RegExp(`at most ${MAX_YAML_SCENARIO_BYTES} bytes`));
  });
});

describe('10. idle connections and slow uploads are timed out (Node server timeouts)', () => {
  const closedAfter = (port: number, send: (s: Socket) => void) =>
    new Promise<number>((resolve) => {
      const started = Date.now();
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('close', () => resolve(Date.now() - started));
      send(socket);
    });

  it('a socket that never sends, and an upload that trickles, are closed; a long injected latency is not cut', async () => {
    const m = await mock({ timeouts: { idleMs: 300, headersMs: 300, requestMs: 600 } });
    expect(m.server.timeout).toBe(300);
    const idle = closedAfter(m.port, () => {});
    let trickle: NodeJS.Timeout | undefined;
    const slow = closedAfter(m.port, (s) => {
      s.write('POST /v1/gateway/groups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
      trickle = setInterval(() => s.write('{'), 100);
    });
    expect(await idle).toBeLessThan(2500);
    expect(await slow).toBeLessThan(2500);
    clearInterval(trickle);
    await request(m.url).post('/_mock/faults').send({ operation: 'listGroups', latency_ms: 900, times: 1 });
    const waited = await request(m.url).get('/v1/gateway/groups').set(auth);
    expect(waited.status).toBe(200);
  });

  it('defaults and flags', () => {
    const parsed = parseCli([], {});
    if (typeof parsed === 'string') throw new Error('parsed as help');
    expect(parsed.options.timeouts).toEqual(DEFAULT_TIMEOUTS);
    const set = parseCli(['--idle-timeout-ms', '0', '--request-timeout-ms', '60000', '--headers-timeout-ms', '5000', '--keep-alive-timeout-ms', '1000'], {});
    if (typeof set === 'string') throw new Error('parsed as help');
    expect(set.options.timeouts).toEqual({ idleMs: 0, requestMs: 60_000, headersMs: 5000, keepAliveMs: 1000 });
    expect(() => parseCli(['--headers-timeout-ms', '9000', '--request-timeout-ms', '1000'], {})).toThrow(UsageError);
    expect(() => parseCli(['--idle-timeout-ms', '-1'], {})).toThrow(/--idle-timeout-ms must be an integer/);
    expect(HELP).toContain('--idle-timeout-ms');
  });
});

describe('5. snapshots: bounded, and held to the API own rules', () => {
  const restore = (m: RunningMock, body: unknown) => request(m.url).post('/_mock/snapshot').set('Content-Type', 'application/json').send(typeof body === 'string' ? body : JSON.stringify(body));
  async function base(m: RunningMock) {
    const root = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'root' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 100 }] }], hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: null } });
    await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'child' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 50 }] }], hierarchy: { parent_group_id: root.body.id } });
    return (await request(m.url).get('/_mock/snapshot')).body;
  }
  const stillServes = async (m: RunningMock) => {
    for (const path of ['/_mock/clock', '/_mock/state', '/_mock/snapshot', '/_mock/inspector.json']) expect((await request(m.url).get(path)).status, path).toBe(200);
    const created = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: `after-${Math.random()}` }, models: [{ slug: 'a/b' }], hierarchy });
    expect(created.status).toBe(200);
  };

  it('a clock past the representable range, not finite, or fractional is a 400, and nothing changes', async () => {
    const m = await mock();
    const snap = await base(m);
    for (const now_ms of [9e15, 1.5]) {
      const res = await restore(m, { ...snap, clock: { now_ms, offset_ms: 0 } });
      expect(res.status, String(now_ms)).toBe(400);
      expect(errorOf(res).message).toContain('now_ms');
    }
    const text = JSON.stringify(snap).replace(/"now_ms":\d+/, '"now_ms":1e400');
    expect((await restore(m, text)).status).toBe(400);
    expect((await restore(m, { ...snap, clock: { now_ms: snap.clock.now_ms, offset_ms: 8.6e15 } })).status).toBe(400);
    expect(m.mock.store.allGroups()).toHaveLength(2);
    await stillServes(m);
  });

  it('a cascading child above its parent, a tree too deep, mixed modes, or a duplicate slug is a 400', async () => {
    const m = await mock();
    const snap = await base(m);
    const child = snap.groups[1];
    const over = structuredClone(snap);
    over.groups[1].models[0].usage_limits[0].threshold = 500;
    const res = await restore(m, over);
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toContain('Child group exceeds parent group limit.');
    const deep = structuredClone(snap);
    let parent = child.id;
    for (let i = 0; i < 5; i++) {
      deep.groups.push({ ...structuredClone(child), id: `deep${i}`, seq: 100 + i, external_entity_id: `deep${i}`, parent_group_id: parent });
      parent = `deep${i}`;
    }
    deep.seq = 200;
    const tooDeep = await restore(m, deep);
    expect(tooDeep.status).toBe(400);
    expect(errorOf(tooDeep).message).toContain('at most 5 levels');
    const mixed = structuredClone(snap);
    mixed.groups[1].limit_enforcement = 'INDEPENDENT';
    expect((await restore(m, mixed)).status).toBe(400);
    const dup = structuredClone(snap);
    dup.groups[0].models.push(structuredClone(dup.groups[0].models[0]));
    const dupRes = await restore(m, dup);
    expect(dupRes.status).toBe(400);
    expect(errorOf(dupRes).message).toContain('duplicate slug');
    const unknown = await restore(m, { ...snap, extra: 1 });
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown).message).toContain('extra');
    expect(m.mock.store.allGroups().map((g) => g.externalEntityId)).toEqual(['root', 'child']);
    await stillServes(m);
  });

  it('a body over MAX_SNAPSHOT_BYTES is a 413 naming the bound, and the mock keeps serving', async () => {
    const m = await mock();
    const res = await restore(m, `{"format":"frontier-gateway-mock/state","version":1,"pad":"${'x'.repeat(MAX_SNAPSHOT_BYTES)}"}`);
    expect(res.status).toBe(413);
    expect(errorOf(res).message).toContain(`${MAX_SNAPSHOT_BYTES / 1024 / 1024} MB`);
    await stillServes(m);
  });
});

describe('8. large views are streamed, not built as one string', () => {
  it('writeJson writes what JSON.stringify(value, null, 2) would, item by item', async () => {
    const { lazyArray, writeJson } = await import('../../src/http/json-stream.js');
    const chunks: string[] = [];
    const sink = { write: (c: string) => (chunks.push(c), true), destroyed: false, once: () => sink, off: () => sink } as any;
    const items = [{ a: 1, b: [1, { c: 'x\ny' }] }, null, 'two', [], {}];
    const plain = { now: 't', empty: [], list: items, nested: { deep: items, n: 1 }, last: { x: null } };
    await writeJson(sink, { now: 't', empty: lazyArray([]), list: lazyArray(items), nested: { deep: lazyArray(items), n: 1 }, last: { x: null } });
    expect(chunks.join('')).toBe(JSON.stringify(plain, null, 2));
    expect(chunks.length).toBeGreaterThan(items.length);
  });

  it('GET /_mock/state, /_mock/webhooks and /_mock/inspector.json stream their JSON (no Content-Length) and parse as before', async () => {
    const m = await mock();
    await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 's' }, models: [{ slug: 'a/b' }], hierarchy });
    for (const path of ['/_mock/state', '/_mock/webhooks', '/_mock/inspector.json']) {
      const res = await request(m.url).get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-length'], path).toBeUndefined();
      expect(res.headers['content-type']).toContain('application/json');
      expect(typeof res.body).toBe('object');
    }
    expect((await request(m.url).get('/_mock/state')).body.groups[0].group.metadata.external_entity_id).toBe('s');
  });
});

describe('8. a group holds a bounded number of models', () => {
  it('more than MAX_MODELS_PER_GROUP is a 400 naming models and the bound; exactly that many is fine', async () => {
    const { MAX_MODELS_PER_GROUP } = await import('../../src/domain/limits.js');
    const m = await mock();
    const models = (n: number) => Array.from({ length: n }, (_, i) => ({ slug: `org/m${i}` }));
    const over = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'over' }, models: models(MAX_MODELS_PER_GROUP + 1), hierarchy });
    expect(over.status).toBe(400);
    expect(errorOf(over).param).toBe('models');
    expect(errorOf(over).message).toContain(String(MAX_MODELS_PER_GROUP));
    const ok = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: 'ok' }, models: models(MAX_MODELS_PER_GROUP), hierarchy });
    expect(ok.status).toBe(200);
    const patch = await request(m.url).patch(`/v1/gateway/groups/${ok.body.id}`).set(auth).send({ models: models(MAX_MODELS_PER_GROUP + 1) });
    expect(patch.status).toBe(400);
  });
});

describe('9. query redaction, property-tested', () => {
  it('whatever surrounds it, a key or secret parameter never keeps its secret; other parameters are kept byte for byte', async () => {
    const fc = (await import('fast-check')).default;
    const { redactQuery } = await import('../../src/http/redact.js');
    const safe = fc.stringMatching(/^[a-z0-9_.~-]{0,12}$/);
    const secret = fc.stringMatching(/^[A-Za-z0-9]{24,40}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(safe.filter((n) => !/^(api_key|key|secret|token|password|authorization|apikey)$/.test(n)), safe), { maxLength: 5 }), fc.constantFrom('api_key', 'KEY', 'secret', 'Token', 'password', 'authorization'), secret, fc.nat(5), (others, name, s, at) => {
        const pairs = others.map(([k, v]) => `${k}=${v}`);
        pairs.splice(Math.min(at, pairs.length), 0, `${name}=sky_AbCdEfGh1234.${s}`);
        const out = redactQuery(pairs.join('&'));
        expect(out).not.toContain(s);
        for (const p of others.map(([k, v]) => `${k}=${v}`)) if (!/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{16,}$/.test(p.split('=')[1] ?? '')) expect(out).toContain(p);
      }),
    );
  });
});
