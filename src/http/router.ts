import type { Operation } from './spec.js';

/**
 * One dispatcher for every operation of the spec, in place of an Express route per
 * operation (Express tried each registered route in turn on every request, which cost
 * time and, under load, memory). It keeps Express's routing rules: HEAD is served by
 * the GET operation, paths match case-insensitively with an optional trailing slash,
 * operations are tried in the spec's order, and path parameters are percent-decoded (a
 * malformed escape is a client error, status 400).
 */

export interface Route {
  op: Operation;
  params: Record<string, string>;
}

export interface Router {
  /** The operation serving `method` on `path`, with its decoded path parameters. */
  match(method: string, path: string): Route | undefined;
  /** The methods the operations of `path` answer (for a 405's `Allow`), upper case. */
  allowed(path: string): string[];
}

interface Compiled {
  op: Operation;
  pattern: RegExp;
  names: string[];
}

/** Compiles the operations' path patterns (the spec's own, made case-insensitive) once. */
export function compileRouter(operations: readonly Operation[]): Router {
  const all: Compiled[] = operations.map((op) => ({
    op,
    pattern: new RegExp(op.pathPattern.source, 'i'),
    names: [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string),
  }));
  const byMethod = new Map<string, Compiled[]>();
  for (const c of all) byMethod.set(c.op.method, [...(byMethod.get(c.op.method) ?? []), c]);
  return {
    match(method, path) {
      const list = byMethod.get(method === 'HEAD' ? 'get' : method.toLowerCase());
      if (!list) return undefined;
      for (const c of list) {
        const m = c.pattern.exec(path);
        if (!m) continue;
        const params: Record<string, string> = {};
        for (let i = 0; i < c.names.length; i++) params[c.names[i] as string] = decodeParam(m[i + 1] as string);
        return { op: c.op, params };
      }
      return undefined;
    },
    allowed(path) {
      return all.filter((c) => c.pattern.test(path)).map((c) => c.op.method.toUpperCase());
    },
  };
}

function decodeParam(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw Object.assign(new Error(`Failed to decode param '${value}'`), { status: 400, statusCode: 400 });
  }
}
