/**
 * A rolling window of tick durations (or of mix inter-departure intervals) for the mixer's
 * percentiles, kept in a fixed ring so the hot path only stores a number; percentiles are computed when someone reads them.
 */

/** How many recent ticks the percentiles cover (10 s at 20 ms). */
const WINDOW = 500;

/** Ring buffer of recent tick durations (ms) with on-demand percentiles. */
export class TickTimings {
  private readonly samples = new Float64Array(WINDOW);
  /** The window sorted, kept until the next sample: a reading of several percentiles sorts once. */
  private readonly sorted = new Float64Array(WINDOW);
  private sortedValid = false;
  private count = 0;
  private cursor = 0;

  /** Records one tick's duration. */
  record(ms: number): void {
    this.samples[this.cursor] = ms;
    this.cursor = (this.cursor + 1) % WINDOW;
    if (this.count < WINDOW) this.count += 1;
    this.sortedValid = false;
  }

  /** The p-th percentile (0..100) of the window, nearest-rank; 0 before any tick. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const sorted = this.sorted.subarray(0, this.count);
    if (!this.sortedValid) {
      sorted.set(this.samples.subarray(0, this.count));
      sorted.sort();
      this.sortedValid = true;
    }
    const rank = Math.ceil((p / 100) * this.count) - 1;
    return sorted[Math.min(this.count - 1, Math.max(0, rank))]!;
  }
}
