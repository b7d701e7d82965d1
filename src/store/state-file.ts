import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SnapshotError } from './snapshot.js';
import type { Store } from './store.js';

/**
 * `--state-file PATH`: the whole store kept in one file across restarts.
 *
 * At start-up an existing file is restored with the clock's offset kept, so the time that
 * passed while the mock was stopped counts (counters age, days roll over). A file that
 * is not JSON, not a snapshot, of a newer version, or inconsistent is refused and left
 * untouched: the mock does not start, and nothing is silently replaced.
 *
 * Afterwards the file is rewritten after changes: a timer compares the store's revision
 * (an integer every write bumps) with the one last saved, so the hot path pays nothing
 * beyond that increment, and bursts of changes are written once per interval. Writes go
 * to a temporary file in the same directory, are flushed to disk, then renamed over the
 * file, so a crash leaves either the old state or the new one, never half of one.
 * close() writes one last time.
 */

export class StateFileError extends Error {
  override name = 'StateFileError';
}

export interface StateFileOptions {
  path: string;
  /** Longest time between a change and its write, in ms (default 250). */
  intervalMs?: number;
  /** Where a failed background write is reported (default: standard error); the mock keeps serving. */
  onError?: (message: string) => void;
}

export class StateFile {
  readonly path: string;
  private readonly intervalMs: number;
  private readonly onError: (message: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private savedRevision = -1;

  constructor(
    private readonly store: Store,
    options: StateFileOptions,
  ) {
    this.path = options.path;
    this.intervalMs = options.intervalMs ?? 250;
    this.onError = options.onError ?? ((m) => process.stderr.write(`${m}\n`));
  }

  /**
   * Restores the file into the store when it exists (returns true), then writes the
   * current state and starts watching. Throws StateFileError, leaving the file as it is,
   * when the file cannot be read or restored.
   */
  open(): boolean {
    const raw = readState(this.path);
    if (raw !== undefined) {
      try {
        this.store.restore(raw, { clock: 'offset' });
      } catch (e) {
        if (e instanceof SnapshotError) throw new StateFileError(`state file ${this.path} is refused (left as it is): ${e.message}`);
        throw e;
      }
    }
    this.save();
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch (e) {
        this.onError((e as Error).message);
      }
    }, this.intervalMs);
    this.timer.unref();
    return raw !== undefined;
  }

  /** Writes the state when it changed since the last write. */
  flush(): void {
    if (this.store.revision !== this.savedRevision) this.save();
  }

  /** Stops watching and writes the final state. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.save();
  }

  private save(): void {
    const revision = this.store.revision;
    writeAtomically(this.path, `${JSON.stringify(this.store.snapshot())}\n`);
    this.savedRevision = revision;
  }
}

/** The parsed file, undefined when there is none; StateFileError when it cannot be read or parsed. */
function readState(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
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

/** Temp file in the same directory, fsync, rename: readers see the old file or the new one. */
export function writeAtomically(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new StateFileError(`cannot write state file ${path}: ${(e as Error).message}`);
  }
}
