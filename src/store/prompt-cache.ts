/**
 * The prefixes of prompts recently sent (src/domain/prompt-cache.ts says which count):
 * a map from a prefix's key to the mock time it was last sent, bounded in entries (the
 * oldest sent go first) and kept in memory only: a restart, reset or restore forgets it,
 * as a model's prompt cache may be cold after a deploy.
 */

/** How many prefixes the cache remembers at most. */
export const PROMPT_CACHE_ENTRIES = 20_000;

export class PromptCache {
  private readonly seen = new Map<number, number>();

  constructor(private readonly maxEntries = PROMPT_CACHE_ENTRIES) {}

  /** The index of the longest of `keys` sent within `windowMs` before `now` (and not after it), or -1. */
  longest(keys: readonly number[], now: number, windowMs: number): number {
    for (let k = keys.length - 1; k >= 0; k -= 1) {
      const at = this.seen.get(keys[k]!);
      if (at !== undefined && at <= now && now - at <= windowMs) return k;
    }
    return -1;
  }

  /** Records every prefix as sent at `now`. */
  remember(keys: readonly number[], now: number): void {
    for (const key of keys) {
      // Delete first so the map's order stays the order prefixes were last sent in.
      this.seen.delete(key);
      this.seen.set(key, now);
    }
    if (this.seen.size <= this.maxEntries) return;
    let over = this.seen.size - this.maxEntries;
    for (const key of this.seen.keys()) {
      if (over-- <= 0) break;
      this.seen.delete(key);
    }
  }

  get size(): number {
    return this.seen.size;
  }

  clear(): void {
    this.seen.clear();
  }
}
