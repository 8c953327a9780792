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

  /** Bits per second over the last second up to `nowMs` (the nine full buckets before now's, and now's so far). */
  bitrate(nowMs: number): number {
    this.advance(nowMs);
    let total = 0;
    for (const b of this.bytes) total += b;
    const windowMs = (BUCKETS - 1) * BUCKET_MS + (nowMs - this.lastBucket * BUCKET_MS);
    return (total * 8 * 1000) / windowMs;
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
