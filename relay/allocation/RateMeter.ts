/**
 * The rate of one incoming stream over the last second, in bits per second, from the bytes
 * of its packets: ten buckets of 100 ms, so a layer that stops shows within a second and a
 * keyframe's burst is averaged over the second it belongs to. Allocation-free per packet.
 */
const BUCKET_MS = 100;
const BUCKETS = 10;

export class RateMeter {
  private readonly bytes = new Float64Array(BUCKETS);
  /** Index of the bucket `lastBucket` falls in, in units of BUCKET_MS since the clock's origin. */
  private lastBucket = -Infinity;

  /** Counts a packet of `size` bytes arriving at `nowMs`. */
  add(size: number, nowMs: number): void {
    this.advance(nowMs);
    this.bytes[this.lastBucket % BUCKETS]! += size;
  }

  /**
   * Bits per second over the last `windowMs` (at most a second, in whole buckets) up to
   * `nowMs`: the full buckets before now's, and now's so far.
   */
  bitrate(nowMs: number, windowMs = BUCKETS * BUCKET_MS): number {
    this.advance(nowMs);
    const buckets = Math.max(1, Math.min(BUCKETS, Math.round(windowMs / BUCKET_MS)));
    let total = 0;
    for (let i = 0; i < buckets; i += 1) total += this.bytes[(this.lastBucket - i + BUCKETS * 2) % BUCKETS]!;
    const spanMs = (buckets - 1) * BUCKET_MS + (nowMs - this.lastBucket * BUCKET_MS);
    return (total * 8 * 1000) / spanMs;
  }

  /** Moves to `nowMs`'s bucket, emptying the buckets passed on the way (all of them after a silence of a second). */
  private advance(nowMs: number): void {
    const bucket = Math.floor(nowMs / BUCKET_MS);
    if (bucket <= this.lastBucket) return;
    const passed = Math.min(BUCKETS, bucket - this.lastBucket);
    for (let i = 1; i <= passed; i += 1) this.bytes[(bucket - passed + i) % BUCKETS] = 0;
    this.lastBucket = bucket;
  }
}
