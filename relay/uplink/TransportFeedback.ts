/**
 * The relay as the receiving end of transport-wide congestion control for one publisher
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): it records when each packet of the
 * connection arrived, by the transport-wide sequence number the browser writes into every
 * packet (audio and every video layer), and reports those times back every few tens of
 * milliseconds. With them the browser runs its whole send-side estimator (GoogCC's
 * delay-based part included): it sees its uplink's queue grow before it overflows, where
 * receiver reports and REMB only ever told it of loss.
 *
 * Memory is bounded: arrival times live in a ring of `CAPACITY` sequence numbers; what falls
 * out of it unreported is never reported (a sender takes an unreported packet as unknown,
 * not as lost). A packet that arrives after its number was reported (as not received) is
 * dropped, as libwebrtc's own receiver does: it was late enough to count as lost.
 */
import { TRANSPORT_CC_TICKS_PER_REFERENCE, transportFeedbackPacket } from '../rtcp';

/** Sequence numbers remembered (a power of two): about 16 s of a publisher's 250 packets a second. */
const CAPACITY = 4096;
/** A receive delta's unit (µs) and its largest magnitude in one packet (16 bits signed). */
const TICK_US = 250;
const MAX_DELTA = 0x7fff;
const MIN_DELTA = -0x8000;
/** Kept under a datagram with room for SRTCP's tag: a feedback packet ends before it would grow past this. */
const MAX_PACKET_BYTES = 1100;

export class TransportFeedback {
  /** Arrival per sequence number (ring index: extended number mod CAPACITY), in 250 µs ticks since `epochMs`; NaN: not received. */
  private readonly arrivals = new Float64Array(CAPACITY).fill(Number.NaN);
  private epochMs: number | undefined;
  /** The highest extended sequence number received, and the first one not yet reported. */
  private highest = 0;
  private nextToReport = 0;
  private feedbackCount = 0;
  /** The SSRC of the last packet recorded: the browser takes feedback naming one of its streams. */
  private mediaSsrc = 0;

  /** Records a packet's transport-wide sequence number (16 bits, as in the extension) and its arrival (ms, monotonic). */
  record(sequence: number, ssrc: number, arrivalMs: number): void {
    if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xffff || !Number.isFinite(arrivalMs)) return;
    this.mediaSsrc = ssrc;
    if (this.epochMs === undefined) {
      this.epochMs = arrivalMs;
      this.highest = sequence;
      this.nextToReport = sequence;
    }
    // Unwrap: the nearest extended number to the highest with these low 16 bits.
    const ext = this.highest + ((((sequence - this.highest) & 0xffff) ^ 0x8000) - 0x8000);
    if (ext > this.highest) {
      if (ext - this.highest >= CAPACITY) {
        // A gap longer than the ring (an outage): start over from here.
        this.arrivals.fill(Number.NaN);
        this.nextToReport = ext;
      } else {
        for (let s = this.highest + 1; s < ext; s += 1) this.arrivals[s & (CAPACITY - 1)] = Number.NaN;
        // What would be overwritten unreported is given up.
        this.nextToReport = Math.max(this.nextToReport, ext - CAPACITY + 1);
      }
      this.highest = ext;
    } else if (ext < this.nextToReport || this.highest - ext >= CAPACITY) {
      // Already reported as not received, or too old to place.
      return;
    } else if (!Number.isNaN(this.arrivals[ext & (CAPACITY - 1)]!)) {
      // A duplicate: the first arrival counts.
      return;
    }
    this.arrivals[ext & (CAPACITY - 1)] = Math.max(0, Math.round(((arrivalMs - this.epochMs) * 1000) / TICK_US));
  }

  /** Whether packets arrived since the last feedback. */
  get pending(): boolean {
    return this.epochMs !== undefined && this.nextToReport <= this.highest;
  }

  /**
   * The feedback for every packet since the last call, from `sender` (the relay's SSRC): one
   * packet, or several when its deltas do not fit one (a pause longer than 8 s between two
   * arrivals) or it would grow too large. Empty when nothing arrived.
   */
  feedback(sender: number): Buffer[] {
    if (!this.pending) return [];
    const packets: Buffer[] = [];
    // Each packet runs from `base` to a received packet (the last status is always a received one).
    let base = this.nextToReport;
    let deltas: Array<number | undefined> = [];
    let referenceTicks = 0;
    let previous: number | undefined;
    let bytes = 0;
    const flush = (end: number): void => {
      const count = end - base;
      packets.push(transportFeedbackPacket(sender, this.mediaSsrc, {
        baseSequence: base & 0xffff,
        referenceTime: referenceTicks / TRANSPORT_CC_TICKS_PER_REFERENCE,
        feedbackCount: this.feedbackCount++ & 0xff,
        deltas: deltas.slice(0, count),
      }));
      deltas = deltas.slice(count);
      base = end;
      previous = undefined;
      bytes = 0;
    };
    let lastReceived = base - 1;
    for (let s = base; s <= this.highest; s += 1) {
      const ticks = this.arrivals[s & (CAPACITY - 1)]!;
      if (Number.isNaN(ticks)) {
        deltas.push(undefined);
        continue;
      }
      const delta = previous === undefined ? 0 : ticks - previous;
      // Header, fixed FCI, a chunk per 7 statuses at worst, 2 bytes per delta at worst.
      const grown = 20 + Math.ceil((deltas.length + 1) / 7) * 2 + bytes + 2;
      if (previous !== undefined && (delta > MAX_DELTA || delta < MIN_DELTA || grown > MAX_PACKET_BYTES || deltas.length + 1 > 0xffff)) {
        flush(lastReceived + 1);
      }
      if (previous === undefined) {
        // The first received packet of a feedback packet: its reference time is the 64 ms step at or before it.
        referenceTicks = Math.floor(ticks / TRANSPORT_CC_TICKS_PER_REFERENCE) * TRANSPORT_CC_TICKS_PER_REFERENCE;
        deltas.push(ticks - referenceTicks);
        bytes += 1;
      } else {
        deltas.push(delta);
        bytes += delta >= 0 && delta <= 0xff ? 1 : 2;
      }
      previous = ticks;
      lastReceived = s;
    }
    flush(this.highest + 1);
    this.nextToReport = this.highest + 1;
    return packets;
  }
}
