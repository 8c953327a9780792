/**
 * What the relay sends one viewer and what of it the viewer reports lost: the video bytes
 * and packets its slots send, and the packets the viewer NACKs for the first time (every
 * loss is NACKed once the browser sees the gap, within a round trip — sooner and finer than
 * receiver reports, which come about once a second). Also the probe: while the viewer's
 * allocation tries whether its link carries the next step, the slots send a share of their
 * packets twice. A duplicate costs the link what a packet of the next layer would, and the
 * browser drops it as already received: lost, it is not NACKed (its original arrived) and
 * no picture waits for it.
 */
import { RateMeter } from './RateMeter';

/** Loss and rate are read over this much of the past: short, so a reaction reads what followed the last one. */
export const METER_WINDOW_MS = 500;
/** Fewer packets than this in the window tell nothing about loss. */
const MIN_PACKETS_FOR_LOSS = 10;
/** A probe sends a packet at most this many more times. */
const MAX_COPIES = 2;

export class DownlinkMeter {
  private readonly bytes = new RateMeter();
  /** Counted as one "byte" per packet: the meter's rates then compare packet counts. */
  private readonly packets = new RateMeter();
  private readonly lost = new RateMeter();
  /** Duplicates to send, as a share of the bytes sent (0: not probing). */
  private probeShare = 0;
  private probeCredit = 0;

  /** A video packet of `size` bytes went out (`original`: not a retransmission or a duplicate). */
  sent(size: number, original: boolean, nowMs: number): void {
    this.bytes.add(size, nowMs);
    if (original) this.packets.add(1, nowMs);
  }

  /** The viewer NACKed `count` packets it had not NACKed before. */
  nacked(count: number, nowMs: number): void {
    if (count > 0) this.lost.add(count, nowMs);
  }

  /** Video bits per second sent over the last `METER_WINDOW_MS`, duplicates and retransmissions included. */
  sentBps(nowMs: number): number {
    return this.bytes.bitrate(nowMs, METER_WINDOW_MS);
  }

  /** The share of the packets of the last `METER_WINDOW_MS` the viewer NACKed (0 when too few were sent to tell). */
  lossFraction(nowMs: number): number {
    const perSecond = this.packets.bitrate(nowMs, METER_WINDOW_MS) / 8;
    if ((perSecond * METER_WINDOW_MS) / 1000 < MIN_PACKETS_FOR_LOSS) return 0;
    return Math.min(1, this.lost.bitrate(nowMs, METER_WINDOW_MS) / 8 / perSecond);
  }

  /** Sends duplicates worth `share` of what is sent, until `stopProbe`. */
  startProbe(share: number): void {
    this.probeShare = Math.max(0, share);
    this.probeCredit = 0;
  }

  stopProbe(): void {
    this.probeShare = 0;
    this.probeCredit = 0;
  }

  get probing(): boolean {
    return this.probeShare > 0;
  }

  /** How many more times the packet of `size` bytes just sent goes out, as probe (at most `MAX_COPIES`). */
  duplicates(size: number): number {
    if (this.probeShare === 0 || size === 0) return 0;
    this.probeCredit += size * this.probeShare;
    const copies = Math.min(MAX_COPIES, Math.floor(this.probeCredit / size));
    // Credit a packet could not take is not carried over into a burst later.
    this.probeCredit = copies === MAX_COPIES ? 0 : this.probeCredit - copies * size;
    return copies;
  }
}
