import { appendFileSync } from 'node:fs';

/**
 * How many runs each property makes: small in `npm test` (a few seconds per file), large
 * under `npm run fuzz`, which sets FUZZ_RUNS and collects these figures through FUZZ_FIGURES.
 */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;

export class Figures {
  requests = 0;
  invariants = 0;
  statuses = new Map<number, number>();
  constructor(private readonly name: string) {}
  saw(status: number): void {
    this.requests += 1;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }
  /** Appends one JSON line to $FUZZ_FIGURES, read by scripts/fuzz.mjs. */
  flush(): void {
    const file = process.env.FUZZ_FIGURES;
    if (!file) return;
    appendFileSync(file, `${JSON.stringify({ name: this.name, requests: this.requests, invariants: this.invariants, statuses: Object.fromEntries(this.statuses) })}\n`);
  }
}
