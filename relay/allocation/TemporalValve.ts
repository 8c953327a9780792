/**
 * How many of its cameras' temporal layers one viewer gets now, from how long its video waits
 * at the relay (DownlinkPacer). The allocation (ViewerDownlink) sets what the viewer's link
 * carries a second at a time; between its decisions, a burst — a layer switch's keyframes,
 * one per camera at once, or a step up that did not fit — queues seconds of video at the
 * relay (weak-viewer at 40%: 0.5–1.3 s in half of the seconds under the cap). Draining that
 * faster than the budget overflows the link's queue (loss, then keyframes asked for again:
 * the freezes); leaving out the frames of the higher temporal layers (VP8's TL1 and TL2,
 * which no frame of a lower layer refers to) lowers what comes in to about 40% at once, and
 * the queue drains at the budget. Jitsi and LiveKit drop temporal layers for the same reason.
 *
 * The ceiling falls as soon as the queue is long, and rises a layer at a time once it has
 * been short for a while (each step up waits for a frame that may start that layer: see
 * TemporalThinning).
 */

/** The ceiling at which nothing is left out (VP8's TID has two bits). */
export const ALL_TEMPORAL_LAYERS = 3;
/** A queue this long (ms of sending at the pace) leaves out the top temporal layer (TL2)… */
const THIN_TOP_MS = 150;
/** …and this long everything above the base (TL1 and TL2). */
const THIN_ALL_MS = 300;
/** The ceiling rises a layer once the queue is below this… */
const CLEAR_MS = 50;
/** …and the last change is this old. */
const RAISE_AFTER_MS = 500;

export class TemporalValve {
  private level = ALL_TEMPORAL_LAYERS;
  private changedAt = -Infinity;
  /** Frames left out since `takeLeftOut`. */
  private leftOutSince = 0;

  /** `queuedMs`: how long the viewer's queued video takes to send at its pace now; `onLeftOut`: a slot left out a frame (the meeting's count). */
  constructor(
    private readonly queue: { readonly queuedMs: number },
    private readonly onLeftOut: () => void = () => {},
  ) {}

  /** The highest temporal layer the viewer's slots forward now (`ALL_TEMPORAL_LAYERS`: all). */
  ceiling(nowMs: number): number {
    const queuedMs = this.queue.queuedMs;
    const wanted = queuedMs >= THIN_ALL_MS ? 0 : queuedMs >= THIN_TOP_MS ? 1 : ALL_TEMPORAL_LAYERS;
    if (wanted < this.level) {
      this.level = wanted;
      this.changedAt = nowMs;
    } else if (this.level < ALL_TEMPORAL_LAYERS && queuedMs < CLEAR_MS && nowMs - this.changedAt >= RAISE_AFTER_MS) {
      this.level = this.level === 0 ? 1 : ALL_TEMPORAL_LAYERS;
      this.changedAt = nowMs;
    }
    return this.level;
  }

  /** A slot left out a frame. */
  leftOut(): void {
    this.leftOutSince += 1;
    this.onLeftOut();
  }

  /** Frames left out since the last call (the viewer's report). */
  takeLeftOut(): number {
    const count = this.leftOutSince;
    this.leftOutSince = 0;
    return count;
  }
}
