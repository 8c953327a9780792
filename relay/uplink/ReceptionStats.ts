/**
 * What the relay receives of one publisher's RTP stream, as its receiver reports tell the
 * publisher (RFC 3550 §6.4.1, appendix A.3 and A.8): packets expected and received, the
 * extended highest sequence number, interarrival jitter, and the publisher's last sender
 * report. One per SSRC: libdatachannel's own reports count one sequence for a whole m-line,
 * which simulcast layers (one SSRC each, numbered apart) turn into nonsense loss.
 */
import type { ReportBlock } from '../rtcp';

/** A jump this far ahead is taken as the sender's restart, not as loss (RFC 3550 A.1's MAX_DROPOUT). */
const MAX_DROPOUT = 3000;
/** Video's RTP clock: jitter is reported in its units. */
const CLOCK_RATE = 90_000;

export class ReceptionStats {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** RFC 3550 A.8's estimate, in RTP units, times 16 (kept scaled as the RFC does). */
  private jitterScaled = 0;
  private lastTransit: number | undefined;
  private lastSr: { ntpMiddle: number; atMs: number } | undefined;

  /** Counts a packet: its sequence number, its RTP timestamp and its arrival (ms). */
  receive(sequenceNumber: number, timestamp: number, nowMs: number): void {
    if (!this.started) {
      this.started = true;
      this.baseSeq = sequenceNumber;
      this.maxSeq = sequenceNumber;
    } else {
      const delta = (sequenceNumber - this.maxSeq) & 0xffff;
      if (delta > 0 && delta < MAX_DROPOUT) {
        if (sequenceNumber < this.maxSeq) this.cycles += 0x10000;
        this.maxSeq = sequenceNumber;
      } else if (delta >= MAX_DROPOUT && delta <= 0x10000 - 100) {
        // A jump: the sender restarted its numbering. Start over from here.
        this.baseSeq = sequenceNumber;
        this.maxSeq = sequenceNumber;
        this.cycles = 0;
        this.received = 0;
        this.expectedPrior = 0;
        this.receivedPrior = 0;
      }
    }
    this.received += 1;
    const arrival = (nowMs * CLOCK_RATE) / 1000;
    const transit = arrival - timestamp;
    if (this.lastTransit !== undefined) {
      let d = Math.abs(transit - this.lastTransit);
      // RTP timestamps wrap at 2^32; a difference that large is a wrap, not jitter.
      if (d > 0x8000_0000) d = Math.abs(d - 0x1_0000_0000);
      this.jitterScaled += d - this.jitterScaled / 16;
    }
    this.lastTransit = transit;
  }

  /** The publisher's sender report for this stream arrived. */
  senderReport(ntpMiddle: number, nowMs: number): void {
    this.lastSr = { ntpMiddle, atMs: nowMs };
  }

  /**
   * The report block for this stream now, and the packets expected and lost since the
   * previous one (for the uplink estimate); starts the next interval. Undefined before the
   * first packet.
   */
  report(ssrc: number, nowMs: number): { block: ReportBlock; expected: number; lost: number } | undefined {
    if (!this.started) return undefined;
    const extendedMax = this.cycles + this.maxSeq;
    const expected = extendedMax - this.baseSeq + 1;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = Math.max(0, expectedInterval - receivedInterval);
    const block: ReportBlock = {
      ssrc,
      fractionLost: expectedInterval > 0 ? lostInterval / expectedInterval : 0,
      cumulativeLost: expected - this.received,
      highestSequence: extendedMax,
      jitter: this.jitterScaled / 16,
      lastSenderReport: this.lastSr?.ntpMiddle ?? 0,
      delaySinceLastSenderReport: this.lastSr ? ((nowMs - this.lastSr.atMs) / 1000) * 65536 : 0,
    };
    return { block, expected: Math.max(0, expectedInterval), lost: lostInterval };
  }
}
