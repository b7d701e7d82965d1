import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTarget } from '../../src/domain/endpoints.js';
import { startMock, type RunningMock } from '../../src/index.js';

/**
 * The inspector page in a real headless Chromium (Debian's `chromium`, driven by
 * puppeteer-core; no browser is downloaded). One launch for the whole file. Without
 * Chromium the test is skipped locally, saying why, and fails under CI=true (.ci/run
 * installs it). The screenshots are kept at reports/inspector.png (the mock, with a request
 * row open, a 429 explained, endpoints and the fault legend) and reports/inspector-proxy.png
 * (the page fed a proxy-style document with verdicts).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
const SCREENSHOT = 'reports/inspector.png';
const PROXY_SCREENSHOT = 'reports/inspector-proxy.png';
const auth = { Authorization: 'Api-Key mock-management-key' };

if (!present && process.env.CI !== 'true') {
  console.warn(`inspector browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}
if (!present && process.env.CI === 'true') {
  describe('inspector in headless Chromium', () => {
    it(`needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`, () => {
      throw new Error(`Chromium not found at ${CHROMIUM}; .ci/run installs it with apt-get install -y chromium`);
    });
  });
}

describe.skipIf(!present)(`inspector in headless Chromium${present ? '' : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium)`}`, () => {
  let m: RunningMock;
  let browser: Browser;
  let page: Page;
  let profile: string;
  const problems: string[] = [];
  const ids: Record<string, string> = {};
  let apiKey = '';
  let bobKey = '';
  let target = '';

  beforeAll(async () => {
    // Noon UTC, so a real midnight never falls inside the test.
    const t0 = Date.UTC(2026, 4, 13, 12, 0, 0);
    const start = performance.now();
    m = await startMock({ baseClock: { now: () => t0 + Math.floor(performance.now() - start) } });
    const create = async (ext: string, models: object[], parent: string | null) => {
      const res = await request(m.url)
        .post('/v1/gateway/groups')
        .set(auth)
        .send({ metadata: { name: ext, external_entity_id: ext }, models, hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: parent } });
      expect(res.status).toBe(200);
      return res.body.id as string;
    };
    ids.acme = await create('acme', [{ slug: 'meta/llama', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 60 }], usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 10 }] }], null);
    ids.team = await create('team', [{ slug: 'meta/llama', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 5 }] }], ids.acme);
    ids.alice = await create('alice', [{ slug: 'meta/llama' }], ids.team);
    apiKey = (await request(m.url).post(`/v1/gateway/groups/${ids.alice}/api_keys`).set(auth).send({ name: 'alice-laptop' })).body.api_key;
    // bob calls an endpoint's slug, one request a minute.
    ids.bob = (
      await request(m.url)
        .post('/v1/gateway/groups')
        .set(auth)
        .send({ metadata: { name: 'Bob', external_entity_id: 'bob' }, models: [{ slug: 'your-org/chat', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 1 }] }], hierarchy: {} })
    ).body.id;
    bobKey = (await request(m.url).post(`/v1/gateway/groups/${ids.bob}/api_keys`).set(auth).send({ name: 'bob-ci' })).body.api_key;
    const endpoint = await request(m.url).post('/v1/gateway/endpoints').set(auth).send({ slug: 'your-org/chat', region: 'EU', targets: [{ provider: 'BASETEN', model_id: 'dep42' }] });
    expect(endpoint.status).toBe(200);
    target = describeTarget(endpoint.body.targets[0]);

    profile = mkdtempSync(join(tmpdir(), 'fgw-chromium-'));
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
      ],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warn') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${(err as Error).message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    page.on('request', (req) => {
      if (!req.url().startsWith(m.url) && !req.url().startsWith('data:')) problems.push(`external request: ${req.url()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await m?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** The `used` of the limit row for (group shown, type/unit, source group). */
  const used = (group: string, unit: string, source: string) =>
    page.$eval(
      `.group[data-group-id="${group}"] > table tr.limit[data-type="REQUEST"][data-unit="${unit}"][data-source="${source}"]`,
      (el) => Number(el.getAttribute('data-used')),
    );
  const waitUsed = (group: string, unit: string, source: string, value: number) =>
    page.waitForFunction(
      (sel, v) => document.querySelector(sel)?.getAttribute('data-used') === String(v),
      { timeout: 5000 },
      `.group[data-group-id="${group}"] > table tr.limit[data-type="REQUEST"][data-unit="${unit}"][data-source="${source}"]`,
      value,
    );

  it('loads with no console errors and shows the CASCADING tree with the effective limits the API reports', async () => {
    await page.goto(`${m.url}/_mock/`, { waitUntil: 'load' });
    await page.waitForSelector(`.group[data-group-id="${ids.alice}"]`, { timeout: 5000 });
    // Nested as a tree: alice inside team inside acme.
    const nesting = await page.$eval(`.group[data-group-id="${ids.alice}"]`, (el) => {
      const chain: string[] = [];
      for (let g: Element | null = el; g; g = g.parentElement?.closest('.group') ?? null) chain.push(g.getAttribute('data-external-id') ?? '');
      return chain;
    });
    expect(nesting).toEqual(['alice', 'team', 'acme']);
    for (const name of ['acme', 'team', 'alice']) {
      const id = ids[name] as string;
      const shown = await page.$$eval(`.group[data-group-id="${id}"] > table tr.limit`, (rows) =>
        rows.map((r) => [r.getAttribute('data-slug'), r.getAttribute('data-kind'), r.getAttribute('data-type'), r.getAttribute('data-unit'), Number(r.getAttribute('data-threshold')), r.getAttribute('data-source')]),
      );
      const api = (await request(m.url).get(`/v1/gateway/groups/${id}`).set(auth)).body;
      const expected = api.effective_models.flatMap((em: any) => [
        ...em.rate_limits.map((l: any) => [em.slug, 'rate', l.type, l.unit, l.threshold, l.source_group]),
        ...em.usage_limits.map((l: any) => [em.slug, 'usage', l.type, l.unit, l.threshold, l.source_group]),
      ]);
      expect(shown).toEqual(expected);
    }
    // alice declares no limit of her own yet is gated by both ancestors' daily limits.
    const aliceSources = await page.$$eval(`.group[data-group-id="${ids.alice}"] > table tr.limit[data-unit="DAY"]`, (rows) => rows.map((r) => [r.getAttribute('data-threshold'), r.getAttribute('data-source')]));
    expect(aliceSources).toEqual([
      ['5', ids.team],
      ['10', ids.acme],
    ]);
    expect(await page.$eval(`.group[data-group-id="${ids.alice}"] .key`, (el) => el.textContent)).toContain('alice-laptop');
    expect(problems).toEqual([]);
  });

  it('a usage bar moves after a chat, and the journal tail shows it; no secret anywhere on the page', async () => {
    expect(await used(ids.alice as string, 'DAY', ids.team as string)).toBe(0);
    const openai = new OpenAI({ apiKey, baseURL: `${m.url}/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'meta/llama', messages: [{ role: 'user', content: 'fill the bar' }] });
    await waitUsed(ids.alice as string, 'DAY', ids.team as string, 1);
    // The shared CASCADING buckets fill on every group that shows them, the minute window too.
    expect(await used(ids.team as string, 'DAY', ids.team as string)).toBe(1);
    expect(await used(ids.acme as string, 'MINUTE', ids.acme as string)).toBe(1);
    const width = await page.$eval(`.group[data-group-id="${ids.alice}"] > table tr.limit[data-unit="DAY"][data-source="${ids.team}"] .fill`, (el) => (el as HTMLElement).style.width);
    expect(width).toBe('20%');
    await page.waitForSelector('#journal .req', { timeout: 5000 });
    expect(await page.$eval('#journal', (el) => el.textContent)).toContain('/v1/chat/completions');

    const html = await page.content();
    const state = JSON.stringify(await page.evaluate(() => fetch('/_mock/inspector.json?tail=1000').then((r) => r.json())));
    for (const text of [html, state]) {
      expect(text).not.toContain(apiKey.split('.')[1]);
      expect(text).not.toContain('mock-management-key');
    }
    expect(problems).toEqual([]);
  });

  it('shows endpoints with their targets and the groups that may call them', async () => {
    await page.waitForSelector('#endpoints tr.endpoint[data-slug="your-org/chat"]', { timeout: 5000 });
    const row = await page.$eval('#endpoints tr.endpoint[data-slug="your-org/chat"]', (el) => ({
      target: el.querySelector('.target')?.textContent,
      region: el.children[2]?.textContent,
      callers: [...el.querySelectorAll('.caller')].map((c) => c.getAttribute('data-group-id')),
    }));
    expect(row).toEqual({ target, region: 'EU', callers: [ids.bob] });
    expect(target).toBe('BASETEN model_id=dep42 environment=production');
    expect(problems).toEqual([]);
  });

  it('a request row opens to its redacted bodies and names its key and group; a 429 row says which limit refused it; faults have a legend', async () => {
    const bob = new OpenAI({ apiKey: bobKey, baseURL: `${m.url}/v1`, maxRetries: 0 });
    await bob.chat.completions.create({ model: 'your-org/chat', messages: [{ role: 'user', content: 'open me' }] });
    await expect(bob.chat.completions.create({ model: 'your-org/chat', messages: [{ role: 'user', content: 'one too many' }] })).rejects.toMatchObject({ status: 429 });
    const fault = await request(m.url).post('/_mock/faults').send({ operation: 'listModels', status: 503, times: 2 });
    expect(fault.status).toBe(201);

    // The 429, explained without opening anything.
    const why = await page.waitForSelector('#journal .req[data-status="429"] .why[data-limit="rate"]', { timeout: 5000 });
    expect(await why!.evaluate((el) => [el.getAttribute('data-type'), el.getAttribute('data-unit'), el.getAttribute('data-threshold'), el.getAttribute('data-source'), el.getAttribute('data-model')])).toEqual([
      'REQUEST',
      'MINUTE',
      '1',
      ids.bob,
      'your-org/chat',
    ]);
    const text = await why!.evaluate((el) => el.textContent ?? '');
    expect(text).toMatch(/rate limit REQUEST\/MINUTE 1/);
    expect(text).toContain('Bob');
    expect(text).toMatch(/fits again at \d\d:\d\d:\d\dZ \(Retry-After \d+ s\)/);

    // The admitted call: its key and group on the row, its bodies once opened.
    const bobPrefix = bobKey.split('.')[0] as string;
    const okRow = '#journal .req[data-status="200"]';
    const rows = await page.$$eval(okRow, (els) => els.map((el) => [el.getAttribute('data-request-id'), el.querySelector('.key-prefix')?.textContent, el.querySelector('.row-group')?.getAttribute('data-group-id')]));
    const [rowId] = rows.find((r) => r[2] === ids.bob) ?? [];
    expect(rows.find((r) => r[2] === ids.bob)?.[1]).toBe(`${bobPrefix}…`);
    const sel = `#journal .req[data-request-id="${rowId}"]`;
    const visible = () => page.$eval(`${sel} .request-body`, (el) => (el as HTMLElement).checkVisibility());
    expect(await visible()).toBe(false); // closed: not shown
    await page.click(`${sel} > details > summary`);
    expect(await visible()).toBe(true);
    const bodies = await page.$eval(sel, (el) => [(el.querySelector('.request-body') as HTMLElement).innerText, (el.querySelector('.response-body') as HTMLElement).innerText]);
    expect(bodies[0]).toContain('open me');
    expect(bodies[1]).toContain('chat.completion');
    // A refresh keeps it open.
    const refreshed = await page.$eval('body', (el) => el.getAttribute('data-refreshed'));
    await page.waitForFunction((r) => document.body.getAttribute('data-refreshed') !== r, { timeout: 5000 }, refreshed);
    expect(await page.$eval(`${sel} > details`, (el) => (el as HTMLDetailsElement).open)).toBe(true);

    // The minted key's row shows the response with the secret redacted.
    const mintRow = await page.$$eval('#journal .req', (els) => els.find((el) => el.textContent?.includes('createApiKey'))?.getAttribute('data-request-id'));
    expect(mintRow).toBeTruthy();
    await page.click(`#journal .req[data-request-id="${mintRow}"] > details > summary`);
    expect(await page.$eval(`#journal .req[data-request-id="${mintRow}"] .response-body`, (el) => (el as HTMLElement).innerText)).toMatch(/"api_key": "sky_[A-Za-z0-9]{12}\[redacted\]"/);

    // The fault table and its legend.
    await page.waitForSelector('#faults tr.fault', { timeout: 5000 });
    expect(await page.$eval('#faults tr.fault .hits', (el) => el.textContent)).toBe('0 / 0');
    expect(await page.$eval('#faults tr.fault .left', (el) => el.textContent)).toBe('2');
    const legend = await page.$eval('#fault-legend', (el) => el.textContent ?? '');
    expect(legend).toContain('hits left before the fault removes itself');
    expect(legend).toContain('calls it hit so far');
    expect(legend).toContain('matching calls that reached it');

    // From the top, so the sticky header sits where it belongs in the full-page picture.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: (mkdirSync('reports', { recursive: true }), SCREENSHOT), fullPage: true });
    const html = await page.content();
    for (const secret of [bobKey, bobKey.split('.')[1] as string, apiKey.split('.')[1] as string, 'mock-management-key']) expect(html).not.toContain(secret);
    await request(m.url).delete('/_mock/faults').expect(200);
    expect(problems).toEqual([]);
  });

  it('advancing the clock from the page to the next midnight UTC resets the daily bars', async () => {
    const before = await page.$eval('#now', (el) => el.textContent ?? '');
    await page.click('#midnight');
    await waitUsed(ids.alice as string, 'DAY', ids.team as string, 0);
    expect(await used(ids.acme as string, 'DAY', ids.acme as string)).toBe(0);
    const after = await page.$eval('#now', (el) => el.textContent ?? '');
    expect(after.slice(0, 10)).toBe('2026-05-14');
    expect(before.slice(0, 10)).toBe('2026-05-13');
    // +1 h moves it again, by an hour.
    await page.click('button[data-advance="3600"]');
    await page.waitForFunction(() => (document.getElementById('now')?.textContent ?? '').startsWith('2026-05-14T01:'), { timeout: 5000 });
    expect(problems).toEqual([]);
  });

  it('GET / in a browser lands on the inspector; the page at /_mock (no slash) reads /_mock/inspector.json', async () => {
    const seen: string[] = [];
    const onRequest = (req: { url(): string }) => seen.push(new URL(req.url()).pathname);
    page.on('request', onRequest);
    await page.goto(`${m.url}/`, { waitUntil: 'load' });
    expect(new URL(page.url()).pathname).toBe('/_mock/');
    await page.waitForSelector(`.group[data-group-id="${ids.alice}"]`, { timeout: 5000 });
    await page.goto(`${m.url}/_mock`, { waitUntil: 'load' });
    await page.waitForSelector(`.group[data-group-id="${ids.alice}"]`, { timeout: 5000 });
    page.off('request', onRequest);
    expect(seen.filter((p) => p.endsWith('inspector.json'))).toEqual(expect.arrayContaining(['/_mock/inspector.json']));
    expect(seen.filter((p) => p.endsWith('inspector.json') && p !== '/_mock/inspector.json')).toEqual([]);
    // The mock's clock buttons are shown.
    expect(await page.$eval('#clock-controls', (el) => (el as HTMLElement).hidden)).toBe(false);
    expect(problems).toEqual([]);
  });

  it('served elsewhere (/_proxy/), it reads its data there, shows the proxy summary, verdicts beside their rows and replies, and hides what the data lacks', async () => {
    const doc = proxyDocument();
    const asked: string[] = [];
    const server: Server = createServer((req, res) => {
      asked.push(req.url ?? '');
      const path = (req.url ?? '').split('?')[0];
      if (path === '/_proxy/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(readFileSync('inspector/index.html'));
      } else if (path === '/_proxy/inspector.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(doc));
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const proxyPage = await browser.newPage();
    const issues: string[] = [];
    proxyPage.on('pageerror', (err) => issues.push(`page error: ${(err as Error).message}`));
    proxyPage.on('console', (msg) => {
      if (msg.type() === 'error') issues.push(`console: ${msg.text()}`);
    });
    try {
      await proxyPage.setViewport({ width: 1200, height: 800 });
      await proxyPage.goto(`${url}/_proxy/`, { waitUntil: 'load' });
      await proxyPage.waitForSelector('#journal .req', { timeout: 5000 });
      expect(asked.filter((a) => a.includes('inspector.json')).every((a) => a.startsWith('/_proxy/inspector.json'))).toBe(true);
      // The violation beside its row, marked, with the rule id; the observation beside the other.
      const bad = await proxyPage.$eval('#journal .req[data-request-id="r-bad"]', (el) => ({
        violations: el.getAttribute('data-violations'),
        marked: el.classList.contains('violated'),
        rules: [...el.querySelectorAll('.verdict.violation')].map((v) => [v.getAttribute('data-rule'), v.textContent]),
        color: getComputedStyle(el.querySelector('.verdict.violation') as Element).color,
      }));
      expect(bad.violations).toBe('1');
      expect(bad.marked).toBe(true);
      expect(bad.rules).toEqual([['groups.patch.set-semantics', expect.stringContaining('models read back without meta/llama')]]);
      expect(bad.rules[0]?.[1]).toContain('violation');
      expect(bad.color).toBe('rgb(214, 51, 108)');
      const fine = await proxyPage.$eval('#journal .req[data-request-id="r-ok"]', (el) => ({
        violations: el.getAttribute('data-violations'),
        marked: el.classList.contains('violated'),
        observations: [...el.querySelectorAll('.verdict.observation')].map((v) => v.getAttribute('data-rule')),
      }));
      expect(fine).toEqual({ violations: '0', marked: false, observations: ['inference.retry-after.present'] });
      // A 429 with no refusal recorded (the upstream's) shows the error it carried.
      expect(await proxyPage.$eval('#journal .req[data-request-id="r-ok"] .why', (el) => el.textContent)).toBe('429: Rate limit exceeded. Please try again later.');
      // The summary, the replies, and what is hidden.
      expect(await proxyPage.$eval('#proxy-violations', (el) => el.textContent)).toBe('1');
      expect(await proxyPage.$eval('#proxy-summary', (el) => el.textContent)).toContain('https://gateway.example.test');
      expect(await proxyPage.$$eval('#replies tr.reply', (els) => els.map((el) => el.getAttribute('data-reply-id')))).toEqual(['reply_1']);
      const hidden = await proxyPage.evaluate(() =>
        ['clock-controls', 'faults-section', 'workspaces-section', 'endpoints-section', 'clear-journal', 'proxy-section', 'replies-section'].map((id) => [id, (document.getElementById(id) as HTMLElement).hidden]),
      );
      expect(Object.fromEntries(hidden)).toEqual({
        'clock-controls': true,
        'faults-section': true,
        'workspaces-section': true,
        'endpoints-section': true,
        'clear-journal': true,
        'proxy-section': false,
        'replies-section': false,
      });
      await proxyPage.screenshot({ path: (mkdirSync('reports', { recursive: true }), PROXY_SCREENSHOT), fullPage: true });
      expect(issues).toEqual([]);
    } finally {
      await proxyPage.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** A document in the shape the validating proxy serves at /_proxy/inspector.json: journal rows with verdicts, a proxy summary, replies, no workspaces, faults or clock control. */
function proxyDocument() {
  const row = (id: string, seq: number, method: string, path: string, operation: string, status: number, verdicts: object[]) => ({
    seq,
    at: '2026-05-13T12:00:0' + seq + '.000Z',
    method,
    path,
    operation,
    status,
    duration_ms: 12.5,
    outcome: 'answered',
    request_id: id,
    fault: null,
    note: null,
    request: { headers: { authorization: 'Api-Key [redacted]' }, body: { models: [{ slug: 'meta/llama' }] } },
    response: { headers: { 'content-type': 'application/json' }, body: status === 429 ? { error: 'Rate limit exceeded. Please try again later.' } : { id: 'grp_1', models: [] } },
    verdicts,
  });
  return {
    now: '2026-05-13T12:00:05Z',
    proxy: { upstream: 'https://gateway.example.test', inference_upstream: 'https://inference.example.test', exchanges: 2, violations: 1, observations: 1 },
    workspaces: [],
    faults: [],
    journal: [
      row('r-bad', 2, 'PATCH', '/v1/gateway/groups/grp_1', 'updateGroup', 200, [
        { rule: 'groups.patch.set-semantics', kind: 'violation', message: 'models read back without meta/llama, which the PATCH set' },
      ]),
      row('r-ok', 1, 'POST', '/v1/chat/completions', 'createChatCompletion', 429, [{ rule: 'inference.retry-after.present', kind: 'observation', message: 'no Retry-After header on a 429' }]),
    ],
    replies: [{ id: 'reply_1', match: { operation: 'listGroups' }, reply: { status: 500 }, hits: 0, remaining: 1 }],
    webhooks: { deliveries: [], dead_letter: [], total: 0 },
  };
}
