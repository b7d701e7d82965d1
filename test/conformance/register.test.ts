import { randomBytes, sign } from 'node:crypto';
import { describe, expect } from 'vitest';
import { sdk } from './support/documented.js';
import { mockRule, rule, type Harness, type Res } from './support/harness.js';

/**
 * Registering a key the lab already issued, signed with the workspace's Ed25519 key.
 * Needs the private key (FGW_REGISTER_PRIVATE_KEY; the in-process mock makes its own).
 * Only documented behaviour is asserted on live targets: statuses, the documented
 * messages, and that the key then works like a minted one.
 */

const SIGNATURE_FAILED = 'Signature verification failed';
const newKey = () => `fgwct_${randomBytes(30).toString('base64url')}`;

function signed(h: Harness, raw: string): string {
  return sign(null, Buffer.from(raw), (h.t.register as { privateKey: Parameters<typeof sign>[2] }).privateKey).toString('base64');
}
/** Posts exactly `raw` with the given signature header (none when undefined). */
function register(h: Harness, groupId: string, raw: string, signature: string | undefined): Promise<Res> {
  return h.api.post(`/v1/gateway/groups/${groupId}/api_keys/register`, undefined, { raw, ...(signature !== undefined ? { headers: { 'X-Baseten-Signature': signature } } : {}) });
}

describe('Register a caller-supplied key', () => {
  rule('a signed registration answers ok; the key is listed and fetched by its first 16 characters, then revoked', ['register'], async (h) => {
    const group = await h.group();
    const key = newKey();
    const raw = JSON.stringify({ key, name: 'conformance-registered' });
    const res = await register(h, group.id, raw, signed(h, raw));
    expect(res.status, res.text).toBe(200);
    expect(res.body.ok).toBe(true);
    const prefix = key.slice(0, 16);
    const listed = await h.api.get(`/v1/gateway/groups/${group.id}/api_keys`);
    expect(listed.body.items.map((k: { prefix: string }) => k.prefix)).toContain(prefix);
    const got = await h.api.get(`/v1/gateway/groups/${group.id}/api_keys/${prefix}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ prefix, name: 'conformance-registered' });
    expect((await h.api.del(`/v1/gateway/groups/${group.id}/api_keys/${prefix}`)).status).toBe(200);
  });

  rule('a registered key calls the model through the OpenAI SDK like a minted one', ['register', 'inference'], async (h) => {
    const group = await h.group();
    const key = newKey();
    const raw = JSON.stringify({ key });
    expect((await register(h, group.id, raw, signed(h, raw))).status).toBe(200);
    // Api-Key, as the newer "Call your model" page requires of federated keys.
    const client = sdk(h, key);
    const reply = await client.chat.completions.create({ model: h.slug(), messages: [{ role: 'user', content: 'registered' }], max_tokens: 5 });
    expect(reply.usage?.total_tokens).toBeGreaterThan(0);
  });

  rule('the signature covers the exact bytes: a body re-serialised after signing is refused (400 Signature verification failed)', ['register'], async (h) => {
    const group = await h.group();
    const raw = JSON.stringify({ key: newKey(), name: 'n' });
    const res = await register(h, group.id, JSON.stringify(JSON.parse(raw), null, 2), signed(h, raw));
    expect(res.status).toBe(400);
    h.expectMessage(res, SIGNATURE_FAILED);
  });

  rule('a missing or non-base64 signature is refused (400 Signature verification failed)', ['register'], async (h) => {
    const group = await h.group();
    const raw = JSON.stringify({ key: newKey() });
    for (const signature of [undefined, 'not base64 at all!']) {
      const res = await register(h, group.id, raw, signature);
      expect(res.status, String(signature)).toBe(400);
      h.expectMessage(res, SIGNATURE_FAILED);
    }
  });

  rule('key rules: 32 to 128 characters, entropy at least 3 bits per character, a prefix not already registered (400 each)', ['register'], async (h) => {
    const group = await h.group();
    const attempt = (key: string) => {
      const raw = JSON.stringify({ key });
      return register(h, group.id, raw, signed(h, raw));
    };
    const key = newKey();
    expect((await attempt(key.slice(0, 31))).status).toBe(400);
    expect((await attempt(`${key}${newKey()}${newKey()}`.slice(0, 129))).status).toBe(400);
    expect((await attempt('ab'.repeat(20))).status).toBe(400);
    expect((await attempt(key)).status).toBe(200);
    expect((await attempt(`${key.slice(0, 16)}${newKey()}`)).status).toBe(400);
  });

  rule('the bounds themselves register: keys of exactly 32 and exactly 128 characters', ['register'], async (h) => {
    const group = await h.group();
    for (const length of [32, 128]) {
      const key = `${newKey()}${newKey()}${newKey()}`.slice(0, length);
      expect(key).toHaveLength(length);
      const raw = JSON.stringify({ key, name: `len-${length}` });
      const res = await register(h, group.id, raw, signed(h, raw));
      expect(res.status, `a key of ${length} characters: ${res.text.slice(0, 300)}`).toBe(200);
      const got = await h.api.get(`/v1/gateway/groups/${group.id}/api_keys/${key.slice(0, 16)}`);
      expect(got.status, `the key of ${length} characters is fetched by its first 16`).toBe(200);
    }
  });

  rule('entropy: exactly 3.0 bits per character registers, just under it is refused (400)', ['register'], async (h) => {
    const group = await h.group();
    // Eight distinct characters, in random order and of a random choice, so that prefixes stay unique per run.
    const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'].sort(() => Math.random() - 0.5).slice(0, 8);
    const shuffled = (counts: number[]) => counts.flatMap((n, i) => Array(n).fill(alphabet[i])).sort(() => Math.random() - 0.5).join('');
    const attempt = (key: string) => {
      const raw = JSON.stringify({ key });
      return register(h, group.id, raw, signed(h, raw));
    };
    // 8 characters, 4 times each: -8 * (1/8) * log2(1/8) = 3.0 exactly.
    const exact = await attempt(shuffled([4, 4, 4, 4, 4, 4, 4, 4]));
    expect(exact.status, `entropy 3.0: ${exact.text.slice(0, 300)}`).toBe(200);
    // Counts 5, 3 and six 4s: about 2.99 bits per character.
    const under = await attempt(shuffled([5, 3, 4, 4, 4, 4, 4, 4]));
    expect(under.status, `entropy 2.99: ${under.text.slice(0, 300)}`).toBe(400);
  });

  mockRule('without a public key on file: 400 Must configure a public key before registering API keys (the key removed through the admin route)', 40, ['register', 'admin'], async (h) => {
    const group = await h.group();
    const raw = JSON.stringify({ key: newKey() });
    const admin = (publicKey: string | null) => h.api.call('put', '/_mock/workspaces/workspace-a/register_public_key', { key: null, body: { public_key: publicKey } });
    expect((await admin(null)).status).toBe(200);
    try {
      const res = await register(h, group.id, raw, signed(h, raw));
      expect(res.status).toBe(400);
      h.expectMessage(res, 'Must configure a public key before registering API keys');
    } finally {
      await admin((h.t.register as { publicKey: string }).publicKey);
    }
  });
});
