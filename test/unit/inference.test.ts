import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { GatewayError } from '../../src/domain/errors.js';
import { Gateway } from '../../src/service/gateway.js';
import { checkMetadata, MAX_COMPLETION_TOKENS, MAX_METADATA_BYTES, MAX_METADATA_DEPTH } from '../../src/domain/inference.js';
import { serveCompletion, type BillingSink, type PromptCount } from '../../src/service/inference.js';
import { textChoice, usageOf } from '../../src/domain/completion.js';
import { promptTokens } from '../../src/domain/tokens.js';
import type { BillingEvent } from '../../src/domain/webhooks.js';
import { PromptCache } from '../../src/store/prompt-cache.js';
import { assertSaneJson, jsonDepth } from '../../src/domain/json-bounds.js';
import { Store } from '../../src/store/store.js';

function setup() {
  const clock = new ManualClock();
  const gw = new Gateway(new Store({ seed: () => ({ workspaces: [{ id: 'ws', onboarded: true, webhookUrl: null, webhookSecret: 's', orgPrefixes: ['ws'], environments: ['production'], registerPublicKey: null }], managementKeys: [] }), baseClock: clock }));
  const g = gw.groups.create('ws', { metadata: { external_entity_id: 'e' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 1 }] }], hierarchy: {} });
  const minted = gw.keys.mint('ws', g.id, null);
  const caller = gw.access.federatedCaller(minted.api_key);
  const committed: unknown[] = [];
  const sink: BillingSink = { prepare: (_w, events) => ({ commit: () => committed.push(...events) }) };
  const used = () => gw.store.meter.dailyUsage(`${g.id}|a/b|REQUEST|DAY`, gw.store.clock.now())?.used ?? 0;
  return { gw, clock: gw.store.clock, caller, sink, committed, used };
}
const ask = { model: 'a/b', messages: [{ role: 'user', content: 'hello' }] };

describe('the inference use case charges only what it answers', () => {
  it('charges and records one billing event for a served completion', () => {
    const { gw, clock, caller, sink, committed, used } = setup();
    const out = serveCompletion({ usage: gw.usage, clock, billing: sink }, caller, 'r1', ask);
    expect(out.completion.choices[0]!.content).toBe('Echo: hello');
    expect(used()).toBe(1);
    expect(committed).toHaveLength(1);
  });

  it('a failure while building the billing event leaves the counters as they were', () => {
    const { gw, clock, caller, used } = setup();
    const broken: BillingSink = {
      prepare: () => {
        throw new Error('serializer broke');
      },
    };
    expect(() => serveCompletion({ usage: gw.usage, clock, billing: broken }, caller, 'r1', ask)).toThrow('serializer broke');
    expect(used()).toBe(0);
  });

  it('over-limit metadata and max_tokens are 400s naming the field, before any charge', () => {
    const { gw, clock, caller, sink, committed, used } = setup();
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 1; i < MAX_METADATA_DEPTH + 1; i++) cur = (cur.a = {}) as Record<string, unknown>;
    for (const [body, param] of [
      [{ ...ask, metadata: deep }, 'metadata'],
      [{ ...ask, metadata: { s: 'x'.repeat(MAX_METADATA_BYTES) } }, 'metadata'],
      [{ ...ask, max_tokens: MAX_COMPLETION_TOKENS + 1 }, 'max_tokens'],
      [{ ...ask, max_completion_tokens: MAX_COMPLETION_TOKENS + 1 }, 'max_completion_tokens'],
    ] as const) {
      try {
        serveCompletion({ usage: gw.usage, clock, billing: sink }, caller, 'r', body);
        throw new Error('expected a 400');
      } catch (e) {
        expect(e).toBeInstanceOf(GatewayError);
        expect((e as GatewayError).param).toBe(param);
      }
    }
    expect(used()).toBe(0);
    expect(committed).toHaveLength(0);
  });

  it('a scripted Completion is billed and charged as it is, its cached tokens included; a scripted function gets the prompt count by the prefix rule', () => {
    const { gw, clock, caller, sink, committed } = setup();
    const prompts = { cache: new PromptCache(), rule: { minTokens: 0, windowMs: 2 * 86_400_000 } };
    const deps = { usage: gw.usage, clock, billing: sink, prompts };
    const choice = textChoice('Scripted reply', null);
    const scripted = { choices: [choice], usage: usageOf(9, [choice], 5) };
    expect(serveCompletion(deps, caller, 'r1', ask, scripted).completion).toBe(scripted);
    expect((committed[0] as BillingEvent).tokens).toEqual({ inputTokens: 9, outputTokens: 2, cachedInputTokens: 5 });
    // The scripted request's prompt was remembered: the same prompt again (the next day: one request a day) is cached in full.
    clock.advance(86_400_000);
    const seen: PromptCount[] = [];
    serveCompletion(deps, caller, 'r2', ask, (prompt) => (seen.push(prompt), { choices: [choice], usage: usageOf(prompt.tokens, [choice], prompt.cached) }));
    expect(seen).toEqual([{ tokens: promptTokens(ask.messages), cached: promptTokens(ask.messages) }]);
    expect((committed[1] as BillingEvent).tokens.cachedInputTokens).toBe(promptTokens(ask.messages));
  });

  it('metadata at the limits is accepted', () => {
    const flat = { s: 'x'.repeat(MAX_METADATA_BYTES - 10) };
    expect(() => checkMetadata(flat)).not.toThrow();
    expect(() => checkMetadata(null)).not.toThrow();
  });
});

describe('JSON bounds', () => {
  it('measure depth without recursion, even 100 000 levels', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(jsonDepth(v)).toBe(100_000);
    expect(() => assertSaneJson(v, 'x')).toThrow(/x is nested more than 64 levels/);
  });

  it('name the field holding a lone surrogate, in values and keys', () => {
    expect(() => assertSaneJson({ a: [{ b: 'ok\uD800' }] }, '')).toThrow(/a\[0\]\.b contains a lone UTF-16 surrogate/);
    expect(() => assertSaneJson({ a: { ['k\uDC00']: 1 } }, '')).toThrow(/^a contains a lone/);
    expect(() => assertSaneJson({ a: 'emoji \u{1F600} is fine' }, '')).not.toThrow();
  });
});
