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
 * - loss below `INCREASE_LOSS`: it climbs `INCREASE_PER_SECOND`, never above
 *   `HEADROOM` × what arrives (an unused ceiling says nothing), and goes away once it is
 *   far above what the browser sends at full quality.
 */

const DECREASE_LOSS = 0.1;
const INCREASE_LOSS = 0.02;
const DECREASE_SHARE = 0.85;
const INCREASE_PER_SECOND = 0.08;
const HEADROOM = 1.5;
/** A ceiling above this is no ceiling (more than a 720p camera and a screen ask for). */
const NO_LIMIT_BPS = 5_000_000;
/** Fewer packets than this in an interval tell nothing about loss. */
const MIN_PACKETS = 10;

export class UplinkEstimate {
  private ceiling: number | undefined;
  private lastAt: number | undefined;

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
    if (expected < MIN_PACKETS) return this.ceiling;
    const loss = lost / expected;
    if (loss >= DECREASE_LOSS) {
      const lowered = arrivingBps * DECREASE_SHARE;
      this.ceiling = this.ceiling === undefined ? lowered : Math.min(this.ceiling, lowered);
    } else if (loss < INCREASE_LOSS && this.ceiling !== undefined) {
      const raised = this.ceiling * (1 + INCREASE_PER_SECOND * elapsedS);
      this.ceiling = Math.min(raised, Math.max(this.ceiling, arrivingBps * HEADROOM));
      if (this.ceiling >= NO_LIMIT_BPS) this.ceiling = undefined;
    }
    return this.ceiling;
  }
}
