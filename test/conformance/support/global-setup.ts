import request from 'supertest';
import { describeTarget } from './target.js';

/**
 * After the whole run, on a remote target, deletes every group this run created that a
 * test file's own clean-up missed (a crashed worker, a timeout). Groups are found by the
 * run's external id prefix; deleting a root deletes its subtree. Nothing is contacted
 * in a dry run or for the in-process mock (it dies with its worker).
 */
export default function setup() {
  return async function teardown() {
    const t = describeTarget();
    if (t.kind !== 'remote' || t.dryRun || !t.baseUrl) return;
    const mine = new Map<string, string | null>();
    let cursor: string | undefined;
    do {
      const res = await request(t.baseUrl)
        .get('/v1/gateway/groups')
        .query({ limit: 1000, ...(cursor ? { cursor } : {}) })
        .set('Authorization', `Api-Key ${t.keys.management}`);
      if (res.status !== 200) return;
      for (const g of res.body.items) {
        if (String(g.metadata?.external_entity_id).startsWith(`${t.runId}-`)) mine.set(g.id, g.hierarchy?.parent_group_id ?? null);
      }
      cursor = res.body.pagination?.has_more ? res.body.pagination.cursor : undefined;
    } while (cursor);
    const roots = [...mine].filter(([, parent]) => parent === null || !mine.has(parent)).map(([id]) => id);
    for (const id of roots) {
      await request(t.baseUrl).delete(`/v1/gateway/groups/${id}`).set('Authorization', `Api-Key ${t.keys.management}`);
    }
    if (roots.length) process.stdout.write(`conformance: swept ${roots.length} leftover group tree(s) of run ${t.runId}\n`);
  };
}
