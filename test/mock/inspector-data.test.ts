import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { startMock } from '../../src/index.js';
import { mockPerFile } from '../support/mocks.js';

/** GET /_mock/ and /_mock/inspector.json over HTTP; the page itself is tested in a browser (test/browser). */

const file = mockPerFile();

describe('the inspector routes', () => {
  it('GET /_mock/ (and /_mock) is a self-contained HTML page: no external script, style, font or image', async () => {
    for (const path of ['/_mock/', '/_mock']) {
      const res = await request(file.mock.url).get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(file.checker.check({ method: 'get', path, status: res.status, contentType: res.headers['content-type'], body: res.text })).toEqual([]);
      expect(res.text).toContain('/_mock/inspector.json');
      expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
      expect(res.text).not.toMatch(/@import|url\(/i);
    }
    expect((await request(file.mock.url).post('/_mock/')).status).toBe(405);
  });

  it('is not served with --no-admin', async () => {
    const off = await startMock({ admin: false });
    try {
      expect((await request(off.url).get('/_mock/')).status).toBe(404);
      expect((await request(off.url).get('/_mock/inspector.json')).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('a very large state is shown in part: at most 500 groups and 50 keys a group, with counts of the rest', async () => {
    file.mock.reset();
    const gw = file.mock.mock.gateway;
    const root = gw.groups.create('workspace-a', { metadata: { external_entity_id: 'big-root' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    for (let i = 0; i < 60; i++) gw.keys.mint('workspace-a', root.id, `k${i}`);
    for (let i = 0; i < 520; i++) gw.groups.create('workspace-a', { metadata: { external_entity_id: `big-${i}` }, models: [{ slug: 'a/b' }], hierarchy: i % 2 ? { parent_group_id: root.id } : {} });
    const res = await request(file.mock.url).get('/_mock/inspector.json');
    expect(file.checker.check({ method: 'get', path: '/_mock/inspector.json', status: res.status, contentType: res.headers['content-type'], body: res.body })).toEqual([]);
    const ws = res.body.workspaces.find((w: any) => w.id === 'workspace-a');
    const count = (nodes: any[]): number => nodes.reduce((n, g) => n + 1 + count(g.children), 0);
    expect(count(ws.groups)).toBe(500);
    expect(ws.groups_not_shown).toBe(21);
    const big = ws.groups.find((g: any) => g.id === root.id);
    expect([big.keys.length, big.key_count]).toEqual([50, 60]);
    expect(JSON.stringify(res.body)).not.toMatch(/sky_[A-Za-z0-9]{12}\.[A-Za-z0-9]/);
    file.mock.reset();
  });
});
