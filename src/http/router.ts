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

interface Compiled {
  op: Operation;
  pattern: RegExp;
  names: string[];
}

/** Returns a matcher from method and path to the operation and its decoded path parameters. */
export function compileRouter(operations: readonly Operation[]): (method: string, path: string) => Route | undefined {
  const byMethod = new Map<string, Compiled[]>();
  for (const op of operations) {
    const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
    const source = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)');
    const list = byMethod.get(op.method) ?? [];
    list.push({ op, pattern: new RegExp(`^${source}/?$`, 'i'), names });
    byMethod.set(op.method, list);
  }
  return (method, path) => {
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
