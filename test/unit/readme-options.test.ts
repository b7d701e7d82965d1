import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StartOptions } from '../../src/index.js';

/**
 * The README's `startMock({...})` line names every option startMock takes. The records
 * below list the options' keys; `npx tsc --noEmit -p .` fails when an option is added to
 * StartOptions (src/index.ts, src/app.ts) and not here, and this test when the README
 * does not name it.
 */
type Inference = NonNullable<StartOptions['inference']>;
type Webhook = NonNullable<StartOptions['webhook']>;

const TOP: Record<keyof StartOptions, true> = {
  port: true, host: true, admin: true, webhook: true, inference: true, replies: true, viewScope: true, config: true, scenarios: true,
  stateFile: true, idSeed: true, unknownFields: true, errorFormat: true, managementRateLimit: true, endpoints: true, register: true,
  events: true, journal: true, timeouts: true, baseClock: true, log: true, logFormat: true, logError: true, prettyJson: true,
};
const INFERENCE: Record<keyof Inference, true> = {
  allowBearer: true, latencyMs: true, tokenLimitPolicy: true, promptCache: true, cachedTokenWeight: true, replyHeader: true,
};
const WEBHOOK: Record<keyof Webhook, true> = { url: true, secret: true, policy: true, maxLog: true, maxLogBytes: true, maxConcurrent: true };

describe("the README's startMock option list", () => {
  const line = readFileSync('README.md', 'utf8').split('\n').find((l) => l.startsWith('`startMock({ ')) ?? '';
  /** The text between `name: {` and its closing brace. */
  const inner = (name: string) => {
    const from = line.search(new RegExp(`\\b${name}: \\{`));
    if (from < 0) return '';
    let depth = 0;
    for (let i = line.indexOf('{', from); i < line.length; i++) {
      if (line[i] === '{') depth += 1;
      else if (line[i] === '}' && --depth === 0) return line.slice(from, i);
    }
    return '';
  };

  it('names every option, replies and inference.replyHeader included', () => {
    expect(line).not.toBe('');
    const words = (text: string) => new Set(text.match(/[A-Za-z]+/g) ?? []);
    const top = words(line);
    expect(Object.keys(TOP).filter((k) => !top.has(k))).toEqual([]);
    const inference = words(inner('inference'));
    expect(Object.keys(INFERENCE).filter((k) => !inference.has(k))).toEqual([]);
    const webhook = words(inner('webhook'));
    expect(Object.keys(WEBHOOK).filter((k) => !webhook.has(k))).toEqual([]);
  });
});
