/**
 * The pace at which one viewer's video leaves the relay (the rate is ViewerDownlink's). A
 * free viewer's is 2.5× what it gets: its packets go out as they come, only bursts wait. A
 * limited one's are spread at its budget (a tenth below what its link carried): a
 * keyframe — ten times a frame's size, and after a layer switch one per camera at once —
 * sent in one burst overflows the queue in front of a slow link, is lost, asked for again
 * and lost again, and the picture freezes; spread over a few hundred milliseconds it fits,
 * and the mix (on its own track, never paced) does not wait behind it in that queue.
 *
 * Retransmissions go before queued media (a picture waits for them). Nothing queued is
 * dropped: when the queue holds more than `QUEUE_LIMIT_MS` of sending at the paced rate, it
 * drains faster (libwebrtc's pacer does the same), so a budget set too low costs delay, not
 * video; well before that, fewer frames come in (TemporalValve).
 */

/** How often a non-empty queue is served. */
const TICK_MS = 5;
/** What may go out at once after a quiet moment: this much sending… */
const BURST_MS = 10;
/** …and never less than two full packets. */
const MIN_BURST_BYTES = 2 * 1200;
/**
 * The queue is drained within about this long, whatever the rate. Before that, the viewer's
 * slots leave out their higher temporal layers (TemporalValve, from 150 ms of queue), which
 * drains it at the pace: at 400 ms this drain ran in half of the seconds under a 40% cap in
 * weak-viewer (queues of 0.5–1.3 s after a layer switch's keyframes), sending up to 2.8× the
 * budget into the link's queue, whose loss asked for the keyframes again. What still reaches
 * it: bursts of base-layer frames and keyframes, and streams without temporal layers.
 */
export const QUEUE_LIMIT_MS = 1000;

export type PacedKind = 'resend' | 'media';

interface Queued {
  size: number;
  transmit: () => void;
}

export class DownlinkPacer {
  private rateBps = Infinity;
  private readonly resends: Queued[] = [];
  private readonly media: Queued[] = [];
  private queuedBytes = 0;
  /** Bytes that may go out now (negative: sent ahead of the pace). */
  private credit = MIN_BURST_BYTES;
  private creditAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** The longest the queue stood (ms of sending at the pace) since `takePeakQueueMs`. */
  private peakQueueMs = 0;

  /** `now`: the clock (a test's own). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The pace, bits per second; Infinity sends everything as it comes (what is queued goes at once). */
  setRate(bps: number): void {
    this.rateBps = bps > 0 ? bps : Infinity;
    if (this.rateBps === Infinity) this.serve();
  }

  get pacedBps(): number {
    return this.rateBps;
  }

  /** Bytes waiting to go out. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** How long what waits takes to go out at the pace (ms; 0 when not pacing). */
  get queuedMs(): number {
    return this.rateBps === Infinity ? 0 : (this.queuedBytes * 8000) / this.rateBps;
  }

  /** Sends a packet of `size` bytes now or at its turn: `transmit` writes it. */
  send(size: number, kind: PacedKind, transmit: () => void): void {
    if (this.admit(size)) transmit();
    else this.queue(size, kind, transmit);
  }

  /**
   * Whether a packet of `size` bytes may go out now (then counted against the pace); when
   * not, `queue` it. Apart from `send` so that the per-packet path makes a closure only for a
   * packet that waits.
   */
  admit(size: number): boolean {
    if (this.closed) return false;
    if (this.rateBps === Infinity) return true;
    this.refill(this.now());
    if (this.queuedBytes > 0 || this.credit <= 0) return false;
    this.credit -= size;
    return true;
  }

  /** Queues a packet of `size` bytes that `admit` did not let go: `transmit` writes it at its turn. */
  queue(size: number, kind: PacedKind, transmit: () => void): void {
    if (this.closed) return;
    (kind === 'resend' ? this.resends : this.media).push({ size, transmit });
    this.queuedBytes += size;
    this.peakQueueMs = Math.max(this.peakQueueMs, this.queuedMs);
    this.timer ??= setInterval(() => this.serve(), TICK_MS);
  }

  /** The longest the queue stood since the last call (ms of sending at the pace; beyond `QUEUE_LIMIT_MS` it drained faster), for the debug trace. */
  takePeakQueueMs(): number {
    const peak = this.peakQueueMs;
    this.peakQueueMs = 0;
    return peak;
  }

  close(): void {
    this.closed = true;
    this.resends.length = 0;
    this.media.length = 0;
    this.queuedBytes = 0;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends what the pace allows now (everything, when not pacing); its timer calls it every `TICK_MS`. */
  serve(): void {
    this.refill(this.now());
    while (this.queuedBytes > 0 && (this.rateBps === Infinity || this.credit > 0)) {
      const next = (this.resends.length > 0 ? this.resends : this.media).shift()!;
      this.queuedBytes -= next.size;
      this.credit -= next.size;
      next.transmit();
    }
    if (this.queuedBytes === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Adds the credit earned since the last refill, at the pace or faster to drain a long queue. */
  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.creditAt);
    this.creditAt = nowMs;
    if (this.rateBps === Infinity) return;
    const bytesPerMs = Math.max(this.rateBps / 8000, this.queuedBytes / QUEUE_LIMIT_MS);
    this.credit = Math.min(this.credit + elapsed * bytesPerMs, Math.max(MIN_BURST_BYTES, bytesPerMs * BURST_MS));
  }
}
