import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/**
 * One mock per state file: `PATH.lock`, created exclusively, holds the owner's pid. A
 * lock whose pid is no longer running (a mock that was killed) is stale and taken over;
 * a live one refuses the start with a message that names the file and the pid.
 */

export class LockError extends Error {
  override name = 'LockError';
}

/** Whether a process with this pid runs (EPERM: it does, under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FileLock {
  private held = false;

  constructor(
    readonly lockPath: string,
    private readonly what: string,
  ) {}

  /** Takes the lock, or throws LockError when another live process holds it. */
  acquire(): void {
    for (let tries = 0; ; tries++) {
      let fd: number;
      try {
        fd = openSync(this.lockPath, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 2) throw new LockError(`cannot lock ${this.what}: ${(e as Error).message}`);
        const text = readText(this.lockPath);
        // Being written by its owner this very moment: wait for the pid rather than call it stale.
        if (text === '' && tries < 2) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
          continue;
        }
        const pid = Number.parseInt(text, 10);
        if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
          throw new LockError(
            `${this.what} is in use by another frontier-gateway-mock (pid ${pid}${pid === process.pid ? ', this process' : ''}); stop it or pick another file (lock: ${this.lockPath})`,
          );
        }
        // Stale: its owner died without removing it.
        rmSync(this.lockPath, { force: true });
        continue;
      }
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      this.held = true;
      return;
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    // Only our own lock: a takeover after we were presumed dead is not ours to remove.
    if (readText(this.lockPath).trim() === String(process.pid)) rmSync(this.lockPath, { force: true });
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
