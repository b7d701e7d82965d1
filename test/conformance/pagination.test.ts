import { describe, expect } from 'vitest';
import { mockRule, rule, type Harness, type Res } from './support/harness.js';

/**
 * Follows cursors to the end, checking the has_more/cursor contract on every page.
 * `limit` is a maximum: a page may hold fewer items while has_more is true. Cursors are
 * opaque strings.
 */
async function drain(h: Harness, path: string, limit: number, between?: (page: number) => Promise<void>): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const res: Res = await h.api.get(path, { query: { limit, ...(cursor ? { cursor } : {}) } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    const { has_more, cursor: next } = res.body.pagination;
    items.push(...res.body.items);
    if (!has_more) {
      expect(next ?? null, 'the cursor is null on the last page').toBeNull();
      return items;
    }
    expect(typeof next).toBe('string');
    cursor = next;
    await between?.(page);
  }
  throw new Error('pagination did not end');
}

/**
 * A small page size for the workspace's group list: 2 on a near-empty workspace, larger
 * on a busy live one, so a drain takes about twenty pages however many groups exist.
 */
async function groupPageSize(h: Harness): Promise<number> {
  const total = (await drain(h, '/v1/gateway/groups', 1000)).length;
  return Math.max(2, Math.ceil(total / 20));
}

describe('Cursor pagination', () => {
  rule('draining keys with small limits returns each exactly once (in creation order on the mock)', [], async (h) => {
    const g = await h.group();
    const minted = [];
    for (let i = 0; i < 7; i++) minted.push((await h.key(g.id, `k${i}`)).prefix);
    for (const limit of [1, 2, 3, 7, 100]) {
      const prefixes = (await drain(h, `/v1/gateway/groups/${g.id}/api_keys`, limit)).map((k) => k.prefix);
      expect([...prefixes].sort(), `limit ${limit}`).toEqual([...minted].sort());
      h.expectOrObserve(JSON.stringify(prefixes) === JSON.stringify(minted), `keys are not listed in creation order (AMBIGUITIES.md #51), limit ${limit}`);
    }
  });

  rule('draining while others are created and deleted repeats nothing and misses nothing that existed throughout', [], async (h) => {
    const g = await h.group();
    const stable: string[] = [];
    const doomed: string[] = [];
    for (let i = 0; i < 6; i++) stable.push((await h.key(g.id, `s${i}`)).prefix);
    for (let i = 0; i < 3; i++) doomed.push((await h.key(g.id, `d${i}`)).prefix);
    const everMinted = new Set([...stable, ...doomed]);
    const added: string[] = [];
    // Changes on the first pages only: a target whose pages are shorter than the limit would
    // otherwise never reach the end while keys keep coming.
    const items = await drain(h, `/v1/gateway/groups/${g.id}/api_keys`, 2, async (page) => {
      if (page >= 4) return;
      const fresh = (await h.key(g.id, `new${page}`)).prefix;
      added.push(fresh);
      everMinted.add(fresh);
      const victim = doomed.shift();
      if (victim) await h.api.del(`/v1/gateway/groups/${g.id}/api_keys/${victim}`);
    });
    const prefixes = items.map((k) => k.prefix);
    expect(new Set(prefixes).size).toBe(prefixes.length);
    for (const p of stable) expect(prefixes).toContain(p);
    for (const p of prefixes) expect(everMinted.has(p), `${p} was never minted here`).toBe(true);
    // On the mock, the keys that existed throughout come back in creation order.
    h.expectOrObserve(JSON.stringify(prefixes.filter((p) => stable.includes(p))) === JSON.stringify(stable), 'keys are not listed in creation order (AMBIGUITIES.md #51)');
  });

  rule('draining groups with a small limit returns every group of this run exactly once', [], async (h) => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push((await h.group()).id);
    const items = await drain(h, '/v1/gateway/groups', await groupPageSize(h));
    const ids = items.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of mine) expect(ids.filter((x) => x === id)).toHaveLength(1);
  });

  rule('draining groups while others are created misses none and repeats none', [], async (h) => {
    const before = [];
    for (let i = 0; i < 4; i++) before.push((await h.group()).id);
    const items = await drain(h, '/v1/gateway/groups', await groupPageSize(h), async (page) => {
      if (page < 4) await h.group();
    });
    const ids = items.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of before) expect(ids).toContain(id);
  });

  mockRule('a garbage cursor is 400', 29, [], async (h) => {
    const g = await h.group();
    for (let i = 0; i < 3; i++) await h.key(g.id);
    for (const bad of ['not-a-cursor', '12345', '!!!', 'x'.repeat(300)]) {
      const keys = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`, { query: { limit: 1, cursor: bad } });
      expect(keys.status, `keys, cursor ${bad}`).toBe(400);
      const groups = await h.api.get('/v1/gateway/groups', { query: { limit: 1, cursor: bad } });
      expect(groups.status, `groups, cursor ${bad}`).toBe(400);
    }
  });

  rule('an empty list has has_more false and cursor null', [], async (h) => {
    const g = await h.group();
    const res = await h.api.get(`/v1/gateway/groups/${g.id}/api_keys`);
    expect(res.body.items).toEqual([]);
    expect(res.body.pagination.has_more).toBe(false);
    expect(res.body.pagination.cursor ?? null).toBeNull();
  });

  rule('the external_entity_id filter returns at most one group, and none for an unknown id', [], async (h) => {
    const g = await h.group();
    await h.group();
    const one = await h.api.get('/v1/gateway/groups', { query: { external_entity_id: g.metadata.external_entity_id } });
    expect(one.body.items.map((x: any) => x.id)).toEqual([g.id]);
    expect(one.body.pagination.has_more).toBe(false);
    const none = await h.api.get('/v1/gateway/groups', { query: { external_entity_id: h.extId('absent') } });
    expect(none.body.items).toEqual([]);
    expect(none.body.pagination.has_more).toBe(false);
  });
});
