import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { assertInstant, InvalidInstantError, OffsetClock } from '../../src/domain/clock.js';
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
    expect(res.body.error.param).toBe('advance_seconds');
    expect(res.body.error.message).toContain('millisecond');
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
