import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../domain/clock.js';
import { snapshotPieces } from './checkpoint.js';
import { FileLock, LockError } from './lock.js';
import { parseLog, RedoEncoder, Replay, type Redo } from './redo-log.js';
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SnapshotError, type Snapshot } from './snapshot.js';
import type { Store } from './store.js';

/**
 * `--state-file PATH`: the whole store kept on disk across restarts, as a database keeps
 * it: a snapshot, and a redo log of every change made since.
 *
 * - PATH is the snapshot (the store's snapshot format, plus `log_generation`).
 * - PATH.log.N is the redo log of generation N: one JSON line per change (src/store/
 *   redo-log.ts), appended synchronously, before the change is answered. A mock killed at
 *   any moment therefore loses nothing it acknowledged; with `fsync` every append is also
 *   flushed to the disk, so neither does a power cut.
 * - In the background the state is compacted into a new snapshot without stalling
 *   requests: a new log generation starts, the snapshot's text is built a slice of a few
 *   milliseconds at a time while changes go on (and into the new log), written to a
 *   temporary file, flushed, and renamed over PATH; older logs are then removed. Snapshot
 *   N plus log N is the state, whatever the moment the snapshot's records were read at.
 * - PATH.lock holds the pid of the one mock that may use PATH; a second one is refused.
 *   Temporary files of saves that were interrupted are removed at start-up.
 * - A disk error (a full disk, ...) is logged once, the last good files are kept, the
 *   health reports it, and the mock keeps serving; saving is retried and the health
 *   comes back once a whole save succeeds.
 *
 * At start-up the snapshot is read, the logs that follow it are replayed (a last line cut
 * short by a crash is left out), the clock keeps its offset (time that passed while the
 * mock was stopped counts), and the result is saved as a new snapshot. A file that is not
 * JSON, not a snapshot, of a newer version, inconsistent, or a damaged log, is refused and
 * left untouched: the mock does not start, and nothing is silently replaced.
 */

export class StateFileError extends Error {
  override name = 'StateFileError';
}

/** The file system calls a state file makes: a seam for tests that make the disk fail. */
export interface StateFileIo {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, text: string): number;
  fdatasyncSync(fd: number): void;
  fsyncSync(fd: number): void;
  fsync(fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void;
  ftruncateSync(fd: number, length: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  linkSync(existing: string, link: string): void;
  rm(path: string, callback: (err: NodeJS.ErrnoException | null) => void): void;
  rmSync(path: string, options: { force: boolean }): void;
  readFileSync(path: string, encoding: 'utf8'): string;
  readdirSync(path: string): string[];
}

const realIo: StateFileIo = {
  openSync: (p, f, m) => fs.openSync(p, f, m),
  writeSync: (fd, t) => fs.writeSync(fd, t),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fsync: (fd, cb) => fs.fsync(fd, cb),
  ftruncateSync: (fd, n) => fs.ftruncateSync(fd, n),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  linkSync: (a, b) => fs.linkSync(a, b),
  rm: (p, cb) => fs.rm(p, { force: true }, cb),
  rmSync: (p, o) => fs.rmSync(p, o),
  readFileSync: (p, e) => fs.readFileSync(p, e),
  readdirSync: (p) => fs.readdirSync(p),
};

export interface StateFileOptions {
  path: string;
  /** Shortest time between two background snapshots, in ms (default 250; longer for a big state: at least ten times the last one's duration). */
  intervalMs?: number;
  /** Flush every append of the redo log to the disk (fdatasync) before answering: survives a power cut, costs a disk flush per change. */
  fsync?: boolean;
  /** Longest slice of a background snapshot's work between two turns of the event loop, in ms (default 2). */
  sliceMs?: number;
  /** Where disk errors and recovery notes are reported, one line each (default: standard error); the mock keeps serving. */
  onError?: (message: string) => void;
  /** File system calls (tests make them fail); default node:fs. */
  io?: Partial<StateFileIo>;
}

/** Whether the state file keeps up: ok is false from a disk error until a whole save succeeds again. */
export interface StateFileHealth {
  ok: boolean;
  path: string;
  /** The last disk error, while not ok. */
  error?: string;
  /** When the last snapshot was saved whole (real time, RFC 3339). */
  last_saved_at?: string;
}

const LOG_INFIX = '.log.';

export class StateFile {
  readonly path: string;
  private readonly dir: string;
  private readonly base: string;
  private readonly intervalMs: number;
  private readonly sliceMs: number;
  private readonly fsyncEach: boolean;
  private readonly onError: (message: string) => void;
  private readonly io: StateFileIo;
  private readonly lock: FileLock;
  private timer: NodeJS.Timeout | undefined;
  /** Generation of the log appended to; its fd, -1 when there is none (disk error). */
  private generation = 0;
  private fd = -1;
  private logBytes = 0;
  private headerBytes = 0;
  /** An append failed since the current log began: it is not a whole record of the changes. */
  private broken = false;
  private compacting: Promise<void> | null = null;
  /** The temporary file of the save in progress, removed by close(). */
  private pendingTmp: { fd: number; path: string } | null = null;
  private lastEnd = 0;
  private lastDuration = 0;
  private failures = 0;
  private tmpCount = 0;
  private closed = false;
  /** Replaced snapshots being removed in the background; close() finishes the job. */
  private readonly oldFiles = new Set<string>();
  private status: StateFileHealth;
  private loggedError: string | undefined;

  constructor(
    private readonly store: Store,
    options: StateFileOptions,
  ) {
    this.path = options.path;
    this.dir = dirname(this.path);
    this.base = basename(this.path);
    this.intervalMs = options.intervalMs ?? 250;
    this.sliceMs = options.sliceMs ?? 2;
    this.fsyncEach = options.fsync === true;
    this.onError = options.onError ?? ((m) => process.stderr.write(`${m}\n`));
    this.io = { ...realIo, ...options.io };
    this.lock = new FileLock(`${this.path}.lock`, `state file ${this.path}`);
    this.status = { ok: true, path: this.path };
  }

  /**
   * Takes the lock, removes temporary files of interrupted saves, restores the snapshot
   * and its logs into the store when there is one (returns true), saves the result as a
   * new snapshot, and from then on logs every change. Throws StateFileError, leaving the
   * files as they are, when they cannot be read or restored, or when another mock uses them.
   */
  open(): boolean {
    try {
      this.lock.acquire();
    } catch (e) {
      throw new StateFileError((e as Error).message);
    }
    try {
      this.removeStrayTemporaries();
      const recovered = this.recover();
      if (recovered !== undefined) {
        try {
          this.store.restore(recovered.snapshot, { clock: 'offset' });
        } catch (e) {
          if (e instanceof SnapshotError) throw new StateFileError(`state file ${this.path} is refused (left as it is): ${e.message}`);
          throw e;
        }
      }
      this.generation = recovered?.lastGeneration ?? 0;
      this.startupSave();
      this.store.setChangeSink(new RedoEncoder(this.store, this.append));
      this.timer = setInterval(() => this.tick(), Math.max(1, Math.min(this.intervalMs, 1000)));
      this.timer.unref();
      return recovered !== undefined;
    } catch (e) {
      this.closeLog();
      this.lock.release();
      throw e;
    }
  }

  health(): StateFileHealth {
    return { ...this.status };
  }

  /** Saves a new snapshot in the background now (unless one is under way); resolves when it is done. */
  compact(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.compacting ??= this.runCompaction().finally(() => {
      this.compacting = null;
    });
    return this.compacting;
  }

  /** Stops logging, saves the final state as a snapshot (its logs are then removed), and releases the lock. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.store.setChangeSink(null);
    if (this.pendingTmp) {
      this.quietly(() => this.io.closeSync((this.pendingTmp as { fd: number }).fd));
      this.quietly(() => this.io.rmSync((this.pendingTmp as { path: string }).path, { force: true }));
      this.pendingTmp = null;
    }
    for (const old of this.oldFiles) this.quietly(() => this.io.rmSync(old, { force: true }));
    this.oldFiles.clear();
    try {
      const generation = this.generation + 1;
      this.writeWhole(`${JSON.stringify({ ...this.store.snapshot(), log_generation: generation })}\n`);
      this.closeLog();
      this.removeLogsBelow(generation + 1);
    } catch (e) {
      this.fail(`cannot write state file ${this.path} at exit (the last good files are kept): ${(e as Error).message}`);
      this.closeLog();
    }
    this.lock.release();
  }

  // ---- the redo log -----------------------------------------------------------

  /** Appends one record; on a disk error, cuts the log back to its last whole record and stops logging until a save succeeds. */
  private readonly append = (line: string): void => {
    if (this.fd === -1) return;
    const bytes = Buffer.byteLength(line);
    try {
      const written = this.io.writeSync(this.fd, line);
      if (written !== bytes) throw new Error(`short write (${written} of ${bytes} bytes)`);
      if (this.fsyncEach) this.io.fdatasyncSync(this.fd);
      this.logBytes += bytes;
    } catch (e) {
      const fd = this.fd;
      this.quietly(() => this.io.ftruncateSync(fd, this.logBytes));
      this.closeLog();
      this.broken = true;
      this.fail(`cannot append to ${this.logPath(this.generation)}: ${(e as Error).message}; changes are not saved until a save succeeds`);
    }
  };

  private logPath(generation: number): string {
    return `${this.path}${LOG_INFIX}${generation}`;
  }

  /** Starts log `generation` with its header line; `continues`: it carries on the current log with nothing missing. */
  private startLog(generation: number, continues: boolean): void {
    const header = `${JSON.stringify({ t: 'log', gen: generation, continues } satisfies Redo)}\n`;
    const path = this.logPath(generation);
    const fd = this.io.openSync(path, 'w', 0o600);
    try {
      if (this.io.writeSync(fd, header) !== Buffer.byteLength(header)) throw new Error('short write');
      if (this.fsyncEach) this.io.fdatasyncSync(fd);
    } catch (e) {
      this.quietly(() => this.io.closeSync(fd));
      this.quietly(() => this.io.rmSync(path, { force: true }));
      throw e;
    }
    this.closeLog();
    this.fd = fd;
    this.generation = generation;
    this.logBytes = this.headerBytes = Buffer.byteLength(header);
    this.broken = false;
  }

  private closeLog(): void {
    if (this.fd === -1) return;
    const fd = this.fd;
    this.fd = -1;
    this.quietly(() => this.io.closeSync(fd));
  }

  // ---- saving -----------------------------------------------------------------

  /** At start-up, synchronously: a new log, then the whole state as its snapshot. A disk error is reported, not thrown. */
  private startupSave(): void {
    const generation = this.generation + 1;
    try {
      this.startLog(generation, false);
      this.writeWhole(`${JSON.stringify({ ...this.store.snapshot(), log_generation: generation })}\n`);
      this.saved();
      this.removeLogsBelow(generation);
    } catch (e) {
      this.closeLog();
      this.broken = true;
      this.generation = generation;
      this.fail(`cannot write state file ${this.path}: ${(e as Error).message}; the last good file is kept, changes are not saved until a save succeeds`);
    }
  }

  private tick(): void {
    if (this.compacting || this.closed) return;
    const since = performance.now() - this.lastEnd;
    if (!this.status.ok || this.fd === -1) {
      // After a disk error: retry, less and less often (up to every 30 s).
      if (since >= Math.min(30_000, Math.max(this.intervalMs, 250) * 2 ** Math.min(this.failures, 10))) void this.compact();
      return;
    }
    if (this.logBytes > this.headerBytes && since >= Math.max(this.intervalMs, 10 * this.lastDuration)) void this.compact();
  }

  private async runCompaction(): Promise<void> {
    const started = performance.now();
    let tmp: { fd: number; path: string } | null = null;
    try {
      // The new log carries on the current one only if that one missed nothing.
      this.startLog(this.generation + 1, this.fd !== -1 && !this.broken);
      const generation = this.generation;
      const pieces = snapshotPieces(this.store, generation);
      tmp = this.pendingTmp = this.openTemporary();
      for (let done = false; !done; ) {
        const sliceStart = performance.now();
        let text = '';
        for (;;) {
          const r = pieces.next();
          if (r.done) {
            done = true;
            break;
          }
          text += r.value;
          if (text.length >= 1 << 14) {
            this.writeAll(tmp.fd, text);
            text = '';
          }
          if (performance.now() - sliceStart >= this.sliceMs) break;
        }
        if (text) this.writeAll(tmp.fd, text);
        if (!done) await new Promise((r) => setImmediate(r));
        if (this.closed) return;
      }
      await new Promise<void>((resolve, reject) => this.io.fsync((tmp as { fd: number }).fd, (err) => (err ? reject(err) : resolve())));
      if (this.closed) return;
      this.io.closeSync(tmp.fd);
      this.pendingTmp = null;
      // Renaming over a big file frees its blocks, which takes a while: the old file keeps
      // a second name for the moment, and is removed off the event loop. The rename itself
      // stays synchronous, so that close() can never be overtaken by it.
      const old = join(this.dir, `.${this.base}.${process.pid}.${++this.tmpCount}.tmp`);
      let linked = false;
      try {
        this.io.linkSync(this.path, old);
        linked = true;
      } catch {
        // No hard links here (or no old file): the rename frees the blocks itself.
      }
      this.io.renameSync(tmp.path, this.path);
      tmp = null;
      if (linked) {
        this.oldFiles.add(old);
        this.io.rm(old, () => this.oldFiles.delete(old));
      }
      await this.syncDirectoryInBackground();
      if (this.closed) return;
      this.removeLogsBelow(generation);
      // Whole only if the log kept up meanwhile.
      if (!this.broken && this.fd !== -1) this.saved();
    } catch (e) {
      if (this.closed) return;
      if (tmp) {
        const { fd, path } = tmp;
        this.quietly(() => this.io.closeSync(fd));
        this.quietly(() => this.io.rmSync(path, { force: true }));
        this.pendingTmp = null;
      }
      this.failures += 1;
      this.fail(`cannot write state file ${this.path}: ${(e as Error).message}; the last good file is kept`);
    } finally {
      this.lastEnd = performance.now();
      this.lastDuration = this.lastEnd - started;
    }
  }

  private openTemporary(): { fd: number; path: string } {
    const path = join(this.dir, `.${this.base}.${process.pid}.${++this.tmpCount}.tmp`);
    return { fd: this.io.openSync(path, 'w', 0o600), path };
  }

  private writeAll(fd: number, text: string): void {
    const bytes = Buffer.byteLength(text);
    const written = this.io.writeSync(fd, text);
    if (written !== bytes) throw new Error(`short write (${written} of ${bytes} bytes)`);
  }

  /** Temporary file in the same directory, flushed, renamed over PATH: readers see the old file or the new one. */
  private writeWhole(text: string): void {
    const tmp = this.openTemporary();
    try {
      try {
        this.writeAll(tmp.fd, text);
        this.io.fsyncSync(tmp.fd);
      } finally {
        this.io.closeSync(tmp.fd);
      }
      this.io.renameSync(tmp.path, this.path);
    } catch (e) {
      this.quietly(() => this.io.rmSync(tmp.path, { force: true }));
      throw e;
    }
    this.syncDirectory();
  }

  /** Makes the rename itself durable (not every file system can). */
  private syncDirectory(): void {
    this.quietly(() => {
      const fd = this.io.openSync(this.dir, 'r');
      try {
        this.io.fsyncSync(fd);
      } finally {
        this.io.closeSync(fd);
      }
    });
  }

  /** syncDirectory() with the flush off the event loop (it can wait on the disk's journal). */
  private async syncDirectoryInBackground(): Promise<void> {
    let fd: number;
    try {
      fd = this.io.openSync(this.dir, 'r');
    } catch {
      return;
    }
    await new Promise<void>((resolve) => this.io.fsync(fd, () => resolve()));
    this.quietly(() => this.io.closeSync(fd));
  }

  private saved(): void {
    const wasFailing = !this.status.ok;
    this.failures = 0;
    this.status = { ok: true, path: this.path, last_saved_at: new Date(systemClock.now()).toISOString() };
    if (wasFailing) {
      this.loggedError = undefined;
      this.onError(`state file ${this.path}: saved again; every change is logged again`);
    }
  }

  private fail(message: string): void {
    this.status = { ...this.status, ok: false, error: message };
    // One line per distinct error, not one per retry.
    if (message !== this.loggedError) this.onError(message);
    this.loggedError = message;
  }

  private quietly(fn: () => void): void {
    try {
      fn();
    } catch {
      // Best effort: cleaning up after an error already reported.
    }
  }

  // ---- files ------------------------------------------------------------------

  private files(): string[] {
    try {
      return this.io.readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  /** Generations of the logs beside PATH, ascending. */
  private logGenerations(): number[] {
    const prefix = `${this.base}${LOG_INFIX}`;
    return this.files()
      .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
      .map((f) => Number(f.slice(prefix.length)))
      .sort((a, b) => a - b);
  }

  private removeLogsBelow(generation: number): void {
    for (const g of this.logGenerations()) if (g < generation) this.quietly(() => this.io.rmSync(this.logPath(g), { force: true }));
  }

  /** Temporary files of saves that never finished (a crash, a full disk), from any earlier process: we hold the lock. */
  private removeStrayTemporaries(): void {
    // `.state.json.<pid>.tmp` (before the redo log) and `.state.json.<pid>.<n>.tmp`, not another state file's.
    const ours = new RegExp(`^\\.${this.base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+(\\.\\d+)?\\.tmp$`);
    for (const f of this.files()) if (ours.test(f)) this.quietly(() => this.io.rmSync(join(this.dir, f), { force: true }));
  }

  /** The snapshot with its logs replayed, and the highest log generation seen; undefined when there is no snapshot. */
  private recover(): { snapshot: unknown; lastGeneration: number } | undefined {
    return recoverState(this.path, this.io, (note) => this.onError(note));
  }
}

/**
 * What a state file at `path` holds: its snapshot with the logs that follow it replayed,
 * undefined when there is no snapshot (logs without one are left over from a removed
 * file, and ignored). Reads only. Throws StateFileError for a file that cannot be read or
 * parsed, or a damaged log; a last line cut short by a crash is left out (and `note`d).
 */
export function recoverState(
  path: string,
  io: Pick<StateFileIo, 'readFileSync' | 'readdirSync'> = realIo,
  note: (message: string) => void = () => {},
): { snapshot: unknown; lastGeneration: number } | undefined {
  const raw = readState(path, io);
  const prefix = `${basename(path)}${LOG_INFIX}`;
  let names: string[];
  try {
    names = io.readdirSync(dirname(path));
  } catch {
    names = [];
  }
  const generations = names
    .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
    .map((f) => Number(f.slice(prefix.length)))
    .sort((a, b) => a - b);
  const lastGeneration = Math.max(0, ...generations);
  if (raw === undefined) return undefined;
  const head = raw as Partial<Snapshot> & { log_generation?: unknown };
  // Not a snapshot this mock reads: Store.restore says why, in its words.
  if (!head || typeof head !== 'object' || head.format !== SNAPSHOT_FORMAT || typeof head.version !== 'number' || head.version > SNAPSHOT_VERSION) {
    return { snapshot: raw, lastGeneration };
  }
  const first = typeof head.log_generation === 'number' && Number.isInteger(head.log_generation) ? head.log_generation : 0;
  let replay: Replay;
  try {
    replay = new Replay(raw as Snapshot);
  } catch {
    // Not shaped like a snapshot: Store.restore says what is wrong.
    return { snapshot: raw, lastGeneration };
  }
  let replayed = false;
  for (let g = first; generations.includes(g); g++) {
    const name = `${path}${LOG_INFIX}${g}`;
    let text: string;
    try {
      text = io.readFileSync(name, 'utf8');
    } catch (e) {
      throw new StateFileError(`cannot read ${name}: ${(e as Error).message}`);
    }
    let parsed;
    try {
      parsed = parseLog(text, name);
    } catch (e) {
      throw new StateFileError(`state file ${path} is refused (left as it is): ${(e as Error).message}`);
    }
    const header = parsed.records[0];
    // A later log carries on only when it says so (it does not after a disk error lost changes).
    if (g > first && !(header?.t === 'log' && header.continues)) break;
    try {
      for (const r of parsed.records) replay.apply(r);
      replayed = true;
    } catch (e) {
      throw new StateFileError(`state file ${path} is refused (left as it is): ${name}: ${(e as Error).message}`);
    }
    if (parsed.torn) {
      note(`state file ${path}: the last change in ${name} was cut short by a crash before it was acknowledged; it is left out`);
      break;
    }
  }
  return { snapshot: replayed ? replay.toSnapshot() : raw, lastGeneration: Math.max(lastGeneration, first) };
}

/** The parsed file, undefined when there is none; StateFileError when it cannot be read or parsed. */
function readState(path: string, io: Pick<StateFileIo, 'readFileSync'>): unknown {
  let text: string;
  try {
    text = io.readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(`cannot read state file ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StateFileError(`state file ${path} is not valid JSON, so it may be corrupt (left as it is): ${(e as Error).message}`);
  }
}

export { LockError };
