import OpenAI from 'openai';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { RunningMock } from '../../src/index.js';
import { mocksPerTest } from '../support/mocks.js';
import { errorOf } from '../support/errors.js';

const auth = { Authorization: 'Api-Key mock-management-key' };
const { start: mock } = mocksPerTest();
function keypair(): { privateKey: KeyObject; publicBase64: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicBase64: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64') };
}
const newKey = () => `sk_live_${randomBytes(24).toString('base64url')}`;
async function groupOf(m: RunningMock) {
  const g = await request(m.url).post('/v1/gateway/groups').set(auth).send({ metadata: { external_entity_id: `e-${Math.random()}` }, models: [{ slug: 'your-org/m' }], hierarchy: {} });
  return g.body.id as string;
}
/** Posts exactly `raw`, signed (or not) as given. */
const post = (m: RunningMock, groupId: string, raw: string, signature?: string) => {
  const r = request(m.url).post(`/v1/gateway/groups/${groupId}/api_keys/register`).set(auth).set('Content-Type', 'application/json');
  return (signature === undefined ? r : r.set('X-Baseten-Signature', signature)).send(raw);
};
const signed = (privateKey: KeyObject, raw: string) => sign(null, Buffer.from(raw), privateKey).toString('base64');

describe('register a key over HTTP', () => {
  it('a signed registration answers {ok: true}; the key is listed, fetched, chats, and is revoked by its prefix', async () => {
    const { privateKey, publicBase64 } = keypair();
    const m = await mock({ register: { publicKey: publicBase64 } });
    const groupId = await groupOf(m);
    const key = newKey();
    const raw = JSON.stringify({ key, name: 'imported' });
    const res = await post(m, groupId, raw, signed(privateKey, raw));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ ok: true });
    const prefix = key.slice(0, 16);
    expect((await request(m.url).get(`/v1/gateway/groups/${groupId}/api_keys`).set(auth)).body.items).toEqual([{ prefix, name: 'imported' }]);
    expect((await request(m.url).get(`/v1/gateway/groups/${groupId}/api_keys/${prefix}`).set(auth)).body).toEqual({ prefix, name: 'imported' });

    const client = new OpenAI({ apiKey: key, baseURL: `${m.url}/v1` });
    const reply = await client.chat.completions.create({ model: 'your-org/m', messages: [{ role: 'user', content: 'registered' }] });
    expect(reply.choices[0]?.message.content).toBe('Echo: registered');
    // A key sharing the prefix but not the rest is not the key.
    await expect(new OpenAI({ apiKey: `${prefix}${'x'.repeat(30)}`, baseURL: `${m.url}/v1`, maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });

    // Only a hash is kept: the plaintext appears nowhere in the state.
    expect(JSON.stringify((await request(m.url).get('/_mock/state')).body)).not.toContain(key.slice(16));

    expect((await request(m.url).delete(`/v1/gateway/groups/${groupId}/api_keys/${prefix}`).set(auth)).body).toEqual({ prefix });
    await expect(client.models.list()).rejects.toMatchObject({ status: 401 });
  });

  it('the signature covers the exact bytes: a body re-serialised after signing fails', async () => {
    const { privateKey, publicBase64 } = keypair();
    const m = await mock({ register: { publicKey: publicBase64 } });
    const groupId = await groupOf(m);
    const raw = JSON.stringify({ key: newKey(), name: 'n' });
    const sig = signed(privateKey, raw);
    for (const variant of [JSON.stringify(JSON.parse(raw), null, 2), `${raw}\n`, JSON.stringify({ name: 'n', key: JSON.parse(raw).key })]) {
      const res = await post(m, groupId, variant, sig);
      expect(res.status).toBe(400);
      expect(errorOf(res).message).toBe('Signature verification failed');
    }
    expect((await post(m, groupId, raw, sig)).status).toBe(200);
  });

  it('missing, non-base64, truncated, or another key’s signature: 400 Signature verification failed', async () => {
    const { privateKey, publicBase64 } = keypair();
    const m = await mock({ register: { publicKey: publicBase64 } });
    const groupId = await groupOf(m);
    const raw = JSON.stringify({ key: newKey() });
    const good = signed(privateKey, raw);
    for (const sig of [undefined, '', 'not base64 at all!', good.slice(0, 40), signed(keypair().privateKey, raw), Buffer.alloc(64).toString('base64')]) {
      const res = await post(m, groupId, raw, sig);
      expect(res.status, String(sig)).toBe(400);
      expect(errorOf(res).message).toBe('Signature verification failed');
    }
    expect((await request(m.url).get(`/v1/gateway/groups/${groupId}/api_keys`).set(auth)).body.items).toEqual([]);
  });

  it('each key rule is a 400 naming it: length 32..128, entropy >= 3.0, prefix unique (also across workspaces)', async () => {
    const { privateKey, publicBase64 } = keypair();
    const m = await mock({ register: { publicKey: publicBase64 } });
    const groupId = await groupOf(m);
    const register = (key: string) => {
      const raw = JSON.stringify({ key });
      return post(m, groupId, raw, signed(privateKey, raw));
    };
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const long = alphabet.repeat(2);
    expect(errorOf(await register(long.slice(0, 31))).message).toBe('key must be 32 to 128 characters long; this one has 31.');
    expect(errorOf(await register(`${long}x`)).message).toBe('key must be 32 to 128 characters long; this one has 129.');
    expect(errorOf(await register('abababababababababababababababab')).message).toMatch(/^key is too predictable: its Shannon entropy is 1\.00 bits per character; at least 3\.0 is required\.$/);
    expect((await register(long)).status).toBe(200);
    const key = newKey();
    expect((await register(key)).status).toBe(200);
    const dup = await register(`${key.slice(0, 16)}${newKey()}`);
    expect(dup.status).toBe(400);
    expect(errorOf(dup)).toMatchObject({ code: 'duplicate_key_prefix', param: 'key' });
    // The minted-key prefix space is shared: a registered key may not take a minted key's prefix.
    const minted = await request(m.url).post(`/v1/gateway/groups/${groupId}/api_keys`).set(auth).send({});
    expect(errorOf(await register(`${minted.body.prefix}${newKey()}`)).code).toBe('duplicate_key_prefix');
    expect(errorOf(await register(42 as unknown as string)).param).toBe('key');
    // Another workspace may not take the prefix either: inference finds keys by prefix.
    const theirs = await request(m.url).post('/v1/gateway/groups').set('Authorization', 'Api-Key mock-other-workspace-key').send({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    const raw = JSON.stringify({ key: `${key.slice(0, 16)}${newKey()}` });
    const across = await request(m.url)
      .post(`/v1/gateway/groups/${theirs.body.id}/api_keys/register`)
      .set('Authorization', 'Api-Key mock-other-workspace-key')
      .set('Content-Type', 'application/json')
      .set('X-Baseten-Signature', signed(privateKey, raw))
      .send(raw);
    expect(errorOf(across).code).toBe('duplicate_key_prefix');
  });

  it('no public key on file: 400 Must configure a public key…; the admin route sets and clears it; a config file sets it per workspace', async () => {
    const { privateKey, publicBase64 } = keypair();
    const m = await mock();
    const groupId = await groupOf(m);
    const raw = JSON.stringify({ key: newKey() });
    const none = await post(m, groupId, raw, signed(privateKey, raw));
    expect(errorOf(none).message).toBe('Must configure a public key before registering API keys');
    const set = await request(m.url).put('/_mock/workspaces/workspace-a/register_public_key').send({ public_key: publicBase64 });
    expect(set.body).toEqual({ workspace_id: 'workspace-a', public_key: publicBase64 });
    expect((await request(m.url).get('/_mock/state')).body.workspaces[0].register_public_key).toBe(publicBase64);
    expect((await post(m, groupId, raw, signed(privateKey, raw))).status).toBe(200);
    expect((await request(m.url).put('/_mock/workspaces/workspace-a/register_public_key').send({ public_key: 'short' })).status).toBe(400);
    expect((await request(m.url).put('/_mock/workspaces/nope/register_public_key').send({ public_key: publicBase64 })).status).toBe(404);
    await request(m.url).put('/_mock/workspaces/workspace-a/register_public_key').send({ public_key: null });
    const raw2 = JSON.stringify({ key: newKey() });
    expect(errorOf(await post(m, groupId, raw2, signed(privateKey, raw2))).message).toBe('Must configure a public key before registering API keys');

    const configured = await mock({
      config: { workspaces: [{ id: 'lab', onboarded: true, register_public_key: publicBase64 }], management_keys: [{ key: 'mock-management-key', workspace: 'lab', scope: 'management' }] },
    });
    const labGroup = await groupOf(configured);
    expect((await post(configured, labGroup, raw2, signed(privateKey, raw2))).status).toBe(200);
  });

  it('the usual 403/404 and scope rules apply; the group is checked before the signature', async () => {
    const { privateKey, publicBase64 } = keypair();
    const m = await mock({ register: { publicKey: publicBase64 } });
    const raw = JSON.stringify({ key: newKey() });
    expect((await post(m, 'missing', raw, signed(privateKey, raw))).status).toBe(404);
    const theirs = await request(m.url).post('/v1/gateway/groups').set('Authorization', 'Api-Key mock-other-workspace-key').send({ metadata: { external_entity_id: 'x' }, models: [{ slug: 'a/b' }], hierarchy: {} });
    expect((await post(m, theirs.body.id, raw, signed(privateKey, raw))).status).toBe(403);
    const groupId = await groupOf(m);
    const asViewer = await request(m.url).post(`/v1/gateway/groups/${groupId}/api_keys/register`).set('Authorization', 'Api-Key mock-view-key').set('Content-Type', 'application/json').set('X-Baseten-Signature', signed(privateKey, raw)).send(raw);
    expect(asViewer.status).toBe(403);
    // GET on the register path is the get-key route for a prefix "register": 404, not 405.
    expect((await request(m.url).get(`/v1/gateway/groups/${groupId}/api_keys/register`).set(auth)).status).toBe(404);
  });

  it.skipIf(!hasOpenssl())('the README openssl flow: genpkey, raw public key, pkeyutl -sign -rawin, then the key chats through the OpenAI SDK', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgw-register-'));
    try {
      const sh = (script: string) => execFileSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8' }).trim();
      sh('openssl genpkey -algorithm ed25519 -out private.pem');
      const publicBase64 = sh('openssl pkey -in private.pem -pubout -outform DER | tail -c 32 | openssl base64 -A');
      const key = sh('printf "sk_live_%s" "$(openssl rand -hex 24)"');
      sh(`printf '%s' '{"key":"${key}","name":"from-openssl"}' > body.json`);
      const signature = sh('openssl pkeyutl -sign -inkey private.pem -rawin -in body.json | openssl base64 -A');

      const m = await mock({ register: { publicKey: publicBase64 } });
      const groupId = await groupOf(m);
      const res = await post(m, groupId, readFileSync(join(dir, 'body.json'), 'utf8'), signature);
      expect(res.status, res.text).toBe(200);
      const client = new OpenAI({ apiKey: key, baseURL: `${m.url}/v1` });
      const reply = await client.chat.completions.create({ model: 'your-org/m', messages: [{ role: 'user', content: 'signed by openssl' }] });
      expect(reply.choices[0]?.message.content).toBe('Echo: signed by openssl');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
