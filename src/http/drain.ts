import type { Request } from 'express';
import { assertSaneJson } from '../domain/json-bounds.js';
import { HttpError } from './errors.js';
import type { Exchange, Next, Step } from './pipeline.js';

/**
 * Two steps of the request path that keep hostile bodies harmless.
 *
 * `drain-body` (after `parse`): a body the JSON parser did not take (text/plain, a form,
 * no Content-Type) is still read, and thrown away, before the request is answered:
 * answering mid-upload and closing makes the client fail with EPIPE and never see the
 * 400. Past `maxBytes` the mock answers 413 with `Connection: close` instead.
 *
 * `json-bounds` (before `validate`): a JSON body nested too deep, or holding a string that
 * is not well-formed UTF-16, is a 400 naming the field (src/domain/json-bounds.ts).
 */

/** How much of a body that is not JSON the mock reads (and discards) before answering: 16 MiB. */
export const MAX_DRAINED_BYTES = 16 * 1024 * 1024;

/** Whether the client sent a body at all. */
export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Reads and discards the rest of the body; resolves false as soon as it passes `maxBytes`. */
function drain(req: Request, maxBytes: number): Promise<boolean> {
  if (!hasBody(req) || req.readableEnded) return Promise.resolve(true);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (ok: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done(false);
    };
    const onEnd = () => done(true);
    const onError = () => done(false);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

export function drainBodyStep(maxBytes: number = MAX_DRAINED_BYTES): Step {
  return {
    name: 'drain-body',
    run(x, next) {
      // Nothing left to read (no body, or the JSON parser read it): pass on synchronously.
      if (!hasBody(x.req) || x.req.readableEnded) return next();
      return drainThen(x, next, maxBytes);
    },
  };
}

/** Reads the rest of a body no parser took, then goes on, or answers 413 past `maxBytes`. */
async function drainThen(x: Exchange, next: Next, maxBytes: number): Promise<void> {
  if (await drain(x.req, maxBytes)) return next();
  x.res.on('finish', () => x.req.destroy());
  throw new HttpError(413, `The request body is too large (limit ${maxBytes / 1024 / 1024} MiB for a body that is not JSON, 1 MB for JSON).`, 'body_too_large', { Connection: 'close' });
}

export function jsonBoundsStep(): Step {
  return {
    name: 'json-bounds',
    run(x, next) {
      if (x.req.body !== undefined) assertSaneJson(x.req.body, '');
      return next();
    },
  };
}
