/**
 * The mixer's Opus complexity against its CPU budget. A talker's own mix is a many-voiced
 * signal that costs libopus far more than one voice: here, a 49-voice mix costs 152 µs per
 * 20 ms frame at complexity 9, 116 µs at 5, 92 µs at 2 and 48 µs at 0 (one voice: ≈50 µs at
 * 9). With everyone talking, every talker needs its own encode, so the tick grows with the
 * talkers; when ticks stay heavy the complexity steps down, and steps back up once they stay
 * light — as WebRTC lowers a video's resolution when the CPU is overused. Fewer talkers (the
 * usual meeting) keep complexity 9.
 */

/** Complexities the mixer moves between, best first. */
export const COMPLEXITY_STEPS = [9, 5, 2, 0] as const;
export type Complexity = (typeof COMPLEXITY_STEPS)[number];

/** A tick that mixes and encodes for longer than this (30% of a frame) is heavy. */
const HEAVY_TICK_MS = 6;
/** Consecutive heavy ticks before stepping down (one preempted tick is not overload). */
const HEAVY_TICKS_TO_LOWER = 3;
/** Below this a tick is light enough that the next step up (≤ 2× the encode cost) stays under HEAVY_TICK_MS. */
const LIGHT_TICK_MS = 2.4;
/** Consecutive light ticks (2 s) before stepping back up. */
const LIGHT_TICKS_TO_RAISE = 100;

export class ComplexityGovernor {
  private step = 0;
  private heavyRun = 0;
  private lightRun = 0;

  /** The complexity every mix encoder uses now. */
  get complexity(): Complexity {
    return COMPLEXITY_STEPS[this.step]!;
  }

  /** Records how long one tick's mixing and encoding took. */
  record(tookMs: number): void {
    if (tookMs > HEAVY_TICK_MS) {
      this.lightRun = 0;
      this.heavyRun += 1;
      if (this.heavyRun >= HEAVY_TICKS_TO_LOWER && this.step < COMPLEXITY_STEPS.length - 1) {
        this.step += 1;
        this.heavyRun = 0;
      }
      return;
    }
    this.heavyRun = 0;
    if (tookMs < LIGHT_TICK_MS && this.step > 0) {
      this.lightRun += 1;
      if (this.lightRun >= LIGHT_TICKS_TO_RAISE) {
        this.step -= 1;
        this.lightRun = 0;
      }
    } else {
      this.lightRun = 0;
    }
  }
}
