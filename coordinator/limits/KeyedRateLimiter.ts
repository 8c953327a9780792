/**
 * Token buckets keyed by client address, with a bounded table: a bucket that has refilled
 * completely is indistinguishable from no bucket, so it is forgotten. A flood of distinct
 * addresses therefore costs at most `maxKeys` entries; past that the oldest entries go
 * (their addresses merely get a fresh, full bucket).
 */

/** What `take` answers: allowed, or refused with the wait until the next token. */
export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  last: number;
}

export class KeyedRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    /** Tokens a fresh bucket holds (actions allowed at once). */
    private readonly burst: number,
    /** Refill rate. */
    perSecond: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perSecond / 1000;
  }

  /** Addresses currently tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key`. */
  take(key: string): TakeResult {
    const t = this.now();
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (t - bucket.last) * this.perMs);
      bucket.last = t;
    } else {
      if (this.buckets.size >= this.maxKeys) this.makeRoom();
      bucket = { tokens: this.burst, last: t };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / this.perMs) };
    bucket.tokens -= 1;
    return { ok: true };
  }

  /** Forgets every bucket that is full again; call now and then. */
  prune(): void {
    const t = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (t - bucket.last) * this.perMs >= this.burst) this.buckets.delete(key);
    }
  }

  /** Frees every entry. */
  clear(): void {
    this.buckets.clear();
  }

  private makeRoom(): void {
    this.prune();
    // Still full: drop the oldest tenth (Map keeps insertion order), so a flood of new
    // addresses pays for a full sweep only once per maxKeys/10 insertions.
    const target = Math.floor(this.maxKeys * 0.9);
    while (this.buckets.size > target) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
  }
}
