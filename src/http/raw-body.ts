import express, { type Request, type RequestHandler } from 'express';

/**
 * A JSON body parser that also keeps the exact bytes it parsed (a reference, no copy),
 * for operations that verify a signature over the raw body. Only those operations use
 * it, so no other route pays for it.
 */
export const rawJsonParser = (limit: string): RequestHandler =>
  express.json({
    limit,
    type: ['application/json', 'application/*+json'],
    verify: (req, _res, buf) => {
      (req as Request & { rawBody?: Buffer }).rawBody = buf;
    },
  });

const EMPTY = Buffer.alloc(0);

/** The bytes rawJsonParser kept; empty when there was no JSON body. */
export const rawBodyOf = (req: Request): Buffer => (req as Request & { rawBody?: Buffer }).rawBody ?? EMPTY;
