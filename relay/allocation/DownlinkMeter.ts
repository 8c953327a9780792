/**
 * What the relay sends one viewer and what of it the viewer reports lost: the video bytes
 * and packets its slots send, and the packets the viewer NACKs (every loss is NACKed once
 * the browser sees the gap, within a round trip — sooner and finer than receiver reports,
 * which come about once a second). A loss is counted against the moment its packet was
 * sent, and the loss and rate the allocation reads are those of a window that ended
 * `FEEDBACK_DELAY_MS` ago, whose NACKs have all arrived: read against what is sent now,
 * the NACKs of a burst sent before would make a quieter present look like a total loss.
 *
 * Also the probe: while the viewer's allocation tries whether its link carries the next
 * step, the slots send a share of their packets twice. A duplicate costs the link what a
 * packet of the next layer would, and the browser drops it as already received: lost, it is
 * not NACKed (its original arrived) and no picture waits for it.
 */

const BUCKET_MS = 100;
/** Two seconds of buckets: the window and its delay fit, with room. */
const BUCKETS = 20;
/** The window read: its length, and how long ago it ended (a round trip and a queue's worth for its NACKs). */
export const METER_WINDOW_MS = 500;
export const FEEDBACK_DELAY_MS = 300;
/** Fewer packets than this in the window tell nothing about loss. */
const MIN_PACKETS_FOR_LOSS = 10;
/** A probe sends a packet at most this many more times. */
export const MAX_PROBE_COPIES = 2;

export class DownlinkMeter {
  private readonly bytes = new Float64Array(BUCKETS);
  private readonly packets = new Float64Array(BUCKETS);
  private readonly lostPackets = new Float64Array(BUCKETS);
  /** The newest bucket's number (time / BUCKET_MS). */
  private newest = -Infinity;
  /** Duplicates to send, as a share of the bytes sent (0: not probing). */
  private probeShare = 0;
  private probeCredit = 0;
  /** While probing: when it started (-1: not probing) and the bytes sent since, everything included. */
  private probeStartedAt = -1;
  private probeBytes = 0;
  private lastProbeBps = 0;

  /** A video packet of `size` bytes went out (`original`: not a retransmission or a duplicate). */
  sent(size: number, original: boolean, nowMs: number): void {
    const at = this.advance(nowMs);
    this.bytes[at]! += size;
    if (original) this.packets[at]! += 1;
    if (this.probeStartedAt >= 0) this.probeBytes += size;
  }

  /**
   * What the last probe sent, everything included (bit/s from its start to `stopProbe`): what
   * it tested, which may be less than its target — its duplicates multiply what goes out, and
   * less goes out while a new layer waits for its keyframe or frames are left out.
   */
  get probeSentBps(): number {
    return this.lastProbeBps;
  }

  /** The viewer NACKed, for the first time, a packet sent at `sentAtMs`. */
  lost(sentAtMs: number): void {
    const bucket = Math.floor(sentAtMs / BUCKET_MS);
    if (bucket > this.newest || bucket <= this.newest - BUCKETS) return;
    this.lostPackets[bucket % BUCKETS]! += 1;
  }

  /** Video bits per second sent over the read window, duplicates and retransmissions included. */
  sentBps(nowMs: number): number {
    return (this.sum(this.bytes, nowMs) * 8 * 1000) / METER_WINDOW_MS;
  }

  /** The share of the read window's packets the viewer NACKed (0 when too few were sent to tell). */
  lossFraction(nowMs: number): number {
    const packets = this.sum(this.packets, nowMs);
    if (packets < MIN_PACKETS_FOR_LOSS) return 0;
    return Math.min(1, this.sum(this.lostPackets, nowMs) / packets);
  }

  /** Sends duplicates worth `share` of what is sent, until `stopProbe`. */
  startProbe(share: number, nowMs: number): void {
    this.probeShare = Math.max(0, share);
    this.probeCredit = 0;
    this.probeStartedAt = nowMs;
    this.probeBytes = 0;
  }

  stopProbe(nowMs: number): void {
    if (this.probeStartedAt >= 0 && nowMs > this.probeStartedAt) this.lastProbeBps = (this.probeBytes * 8000) / (nowMs - this.probeStartedAt);
    this.probeStartedAt = -1;
    this.probeShare = 0;
    this.probeCredit = 0;
  }

  /** How many more times the packet of `size` bytes just sent goes out, as probe (at most `MAX_PROBE_COPIES`). */
  duplicates(size: number): number {
    if (this.probeShare === 0 || size === 0) return 0;
    this.probeCredit += size * this.probeShare;
    const copies = Math.min(MAX_PROBE_COPIES, Math.floor(this.probeCredit / size));
    // Credit a packet could not take is not carried over into a burst later.
    this.probeCredit = copies === MAX_PROBE_COPIES ? 0 : this.probeCredit - copies * size;
    return copies;
  }

  /** The sum of `counts` over the read window. */
  private sum(counts: Float64Array, nowMs: number): number {
    this.advance(nowMs);
    const end = Math.floor((nowMs - FEEDBACK_DELAY_MS) / BUCKET_MS);
    let total = 0;
    for (let bucket = end - METER_WINDOW_MS / BUCKET_MS + 1; bucket <= end; bucket += 1) total += counts[((bucket % BUCKETS) + BUCKETS) % BUCKETS]!;
    return total;
  }

  /** Moves to `nowMs`'s bucket, emptying the ones passed (all after a silence of the whole ring); returns its index. */
  private advance(nowMs: number): number {
    const bucket = Math.floor(nowMs / BUCKET_MS);
    if (bucket > this.newest) {
      const passed = Math.min(BUCKETS, bucket - this.newest);
      for (let i = 0; i < passed; i += 1) {
        const at = (((bucket - i) % BUCKETS) + BUCKETS) % BUCKETS;
        this.bytes[at] = 0;
        this.packets[at] = 0;
        this.lostPackets[at] = 0;
      }
      this.newest = bucket;
    }
    return ((bucket % BUCKETS) + BUCKETS) % BUCKETS;
  }
}
