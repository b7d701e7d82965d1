import { expect } from 'vitest';
import { GatewayError } from '../../src/domain/errors.js';

/** The 400 (a domain GatewayError, invalid_request) that `fn` throws: its param, message and code. */
export function refusal(fn: () => unknown): { param: string | null; message: string; code: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    const g = e as GatewayError;
    expect(g.kind).toBe('invalid_request');
    return { param: g.param, message: g.message, code: g.code };
  }
  throw new Error('expected a 400');
}
