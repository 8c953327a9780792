/**
 * The relay's estimate of one publisher's uplink, sent to its browser as REMB with the
 * receiver reports: a browser that negotiated REMB (not transport-wide feedback) takes the
 * receiver's estimate as the ceiling of its own send rate, and without one it only learns
 * of its full uplink from loss it sees late — a keyframe that no longer fits is lost
 * again and again, and nobody sees that camera move. This is the loss-based half of
 * libwebrtc's congestion control run at the receiving end:
 * - no ceiling (no REMB) until the uplink loses packets: a healthy publisher is left alone;
 * - loss of `DECREASE_LOSS` or more in a report interval: the ceiling drops to
 *   `DECREASE_SHARE` of what arrived (the queue drains, keyframes fit again);
 * - loss below `INCREASE_LOSS`, `HOLD_MS` after the last cut: it climbs
 *   `INCREASE_PER_SECOND` — above what arrives too: with simulcast the browser turns a layer
 *   back on only once its ceiling has room for it, so a ceiling held near what arrives would
 *   keep the top layer off for good — and goes away once it is `RELEASE_RATIO` × what
 *   arrives and at least `RELEASE_MIN_BPS` (the browser's own control takes over).
 */

const DECREASE_LOSS = 0.1;
const INCREASE_LOSS = 0.02;
const DECREASE_SHARE = 0.85;
const INCREASE_PER_SECOND = 0.08;
const HOLD_MS = 3000;
const RELEASE_RATIO = 4;
const RELEASE_MIN_BPS = 1_500_000;
/** The ceiling never goes below this: the lowest layer and the voice fit (a cut read while a layer restarts can be tiny). */
const MIN_CEILING_BPS = 100_000;
/** Fewer packets than this in an interval tell nothing about loss. */
const MIN_PACKETS = 10;

export class UplinkEstimate {
  private ceiling: number | undefined;
  private lastAt: number | undefined;
  private lastCutAt = -Infinity;

  /** The ceiling to send now (bits per second), or undefined when the uplink is not limited. */
  get bitrateBps(): number | undefined {
    return this.ceiling;
  }

  /**
   * One report interval: packets expected and lost over the publisher's video streams, and
   * the bits per second that arrived. Returns the ceiling after it.
   */
  update(expected: number, lost: number, arrivingBps: number, nowMs: number): number | undefined {
    const elapsedS = this.lastAt === undefined ? 0 : Math.min(2, (nowMs - this.lastAt) / 1000);
    this.lastAt = nowMs;
    // Too few packets to tell loss: no cut, but no reason to hold back either (a ceiling
    // that left the browser one small layer would otherwise never climb again).
    const loss = expected < MIN_PACKETS ? 0 : lost / expected;
    if (loss >= DECREASE_LOSS) {
      const lowered = Math.max(MIN_CEILING_BPS, arrivingBps * DECREASE_SHARE);
      this.ceiling = this.ceiling === undefined ? lowered : Math.min(this.ceiling, lowered);
      this.lastCutAt = nowMs;
    } else if (loss < INCREASE_LOSS && this.ceiling !== undefined && nowMs - this.lastCutAt >= HOLD_MS) {
      this.ceiling *= 1 + INCREASE_PER_SECOND * elapsedS;
      if (this.ceiling >= RELEASE_MIN_BPS && this.ceiling >= arrivingBps * RELEASE_RATIO) this.ceiling = undefined;
    }
    return this.ceiling;
  }
}
