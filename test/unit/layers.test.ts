import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layout's one rule (docs/architecture.md): src/ is built in floors, and a module
 * imports only from its own floor or the floors below it, never from one above:
 *
 *   lib <- domain <- store <- service <- import <- http <- app
 *
 * Imports are read with TypeScript's own pre-processor, type-only imports included.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

const FLOORS = ['lib', 'domain', 'store', 'service', 'import', 'http', 'app'] as const;
type Floor = (typeof FLOORS)[number];

/**
 * The floor of a file under src/: its first directory, or `app` for the files at the top.
 * paths.ts (a leaf every floor may read) and generated/ (the wire types openapi-typescript
 * writes from the spec; they import nothing) are `lib`.
 */
function floorOf(file: string): Floor {
  const rel = relative(SRC, file).split(/[\\/]/);
  if (rel.length === 1) return rel[0] === 'paths.ts' ? 'lib' : 'app';
  if (rel[0] === 'generated') return 'lib';
  // The validating proxy (src/proxy/) stands beside the app: it uses the contract checker and
  // the report model, and only the CLI reaches it (checked below).
  if (rel[0] === 'proxy') return 'app';
  const floor = rel[0] as Floor;
  if (!FLOORS.includes(floor) || floor === 'app') throw new Error(`src/${rel.join('/')}: src/${rel[0]}/ is not a floor; add it to FLOORS or move the file`);
  return floor;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of every module under src/, resolved to the .ts file it names. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => resolve(dirname(file), name).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

const graph = importGraph();
const rel = (f: string) => relative(ROOT, f);

describe('the layers of src/', () => {
  it('every import points to the same floor or one below', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const t of targets) {
        if (FLOORS.indexOf(floorOf(t)) > FLOORS.indexOf(floorOf(file))) upward.push(`${rel(file)} (${floorOf(file)}) imports ${rel(t)} (${floorOf(t)})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('only the CLI reaches the validating proxy (src/proxy/, an app-level floor of its own)', () => {
    const inside = (f: string) => relative(SRC, f).startsWith(`proxy${'/'}`) || relative(SRC, f).startsWith('proxy\\');
    const reaching = [...graph].filter(([file, targets]) => !inside(file) && rel(file) !== join('src', 'cli.ts') && targets.some(inside)).map(([file]) => rel(file));
    expect(reaching).toEqual([]);
    expect([...graph.keys()].some(inside), 'src/proxy/ has modules').toBe(true);
  });

  it('has no import cycle', () => {
    // Tarjan's strongly connected components: any component of two or more files is a cycle.
    let counter = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      index.set(v, counter);
      low.set(v, counter);
      counter += 1;
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop() as string;
          onStack.delete(w);
          component.push(rel(w));
        } while (w !== v);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const v of graph.keys()) if (!index.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });

  it('knows every file it judges (the check itself can fail)', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(floorOf(join(SRC, 'domain', 'limits.ts'))).toBe('domain');
    expect(floorOf(join(SRC, 'app.ts'))).toBe('app');
    expect(floorOf(join(SRC, 'proxy', 'server.ts'))).toBe('app');
    expect(() => floorOf(join(SRC, 'elsewhere', 'x.ts'))).toThrow(/not a floor/);
    // An import from the domain up into the store is what the first test reports.
    expect(FLOORS.indexOf(floorOf(join(SRC, 'store', 'store.ts')))).toBeGreaterThan(FLOORS.indexOf(floorOf(join(SRC, 'domain', 'groups.ts'))));
  });
});
