/**
 * A slot's answers to its viewer's NACKs (RFC 4585 §6.2.1), with a budget. Every packet the
 * slot sent is remembered (its header fields and the publisher's payload, which is the
 * received packet's own Buffer: nothing is copied) in a ring of `HISTORY` entries, and a
 * NACKed one is sent again — once per `RESEND_GAP_MS` at most, and only while the
 * retransmissions of the last second stay under `RESEND_SHARE` of what the slot sent. A
 * viewer behind a full queue NACKs everything it lost, again every round trip; answering
 * all of it (libdatachannel's RtcpNackResponder does) multiplies the traffic into that very
 * queue, and nothing gets through.
 */
import { RateMeter } from './allocation/RateMeter';

/** Packets remembered per slot: about a second of a 640×480 layer. */
export const HISTORY = 256;
/** The same packet is not sent again sooner than this (about a round trip here). */
const RESEND_GAP_MS = 100;
/** Retransmissions take at most this share of what the slot sends. */
const RESEND_SHARE = 0.25;

/** One sent packet, as it can be written again. */
interface Sent {
  seq: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer | undefined;
  /** How the payload's VP8 picture IDs were shifted when it was sent (Vp8PictureIds): the same again. */
  idShift: number;
  sentAt: number;
  resentAt: number;
  /** The viewer has NACKed it (it was lost once, however often it is asked for again). */
  nacked: boolean;
}

export class RetransmitHistory {
  private readonly ring: Sent[] = Array.from({ length: HISTORY }, () => ({ seq: -1, timestamp: 0, marker: false, payload: undefined, idShift: 0, sentAt: -Infinity, resentAt: -Infinity, nacked: false }));
  private readonly sentRate = new RateMeter();
  private readonly resentRate = new RateMeter();
  /** Retransmissions refused for the budget (a figure for tests and counters). */
  refused = 0;

  /** Remembers a packet the slot sent (`size`: its RTP size). */
  remember(seq: number, timestamp: number, marker: boolean, payload: Buffer, idShift: number, size: number, nowMs: number): void {
    const entry = this.ring[seq % HISTORY]!;
    entry.seq = seq;
    entry.timestamp = timestamp;
    entry.marker = marker;
    entry.payload = payload;
    entry.idShift = idShift;
    entry.sentAt = nowMs;
    entry.resentAt = -Infinity;
    entry.nacked = false;
    this.sentRate.add(size, nowMs);
  }

  /**
   * For each NACKed sequence number still remembered, calls `resend` (which sends it and
   * returns its size, 0 when not sent), within the budget. `lostOnce` hears, once per
   * packet, when each NACKed packet was first sent (the viewer's loss, by send time).
   */
  answer(lost: Iterable<number>, nowMs: number, resend: (seq: number, timestamp: number, marker: boolean, payload: Buffer, idShift: number) => number, lostOnce?: (sentAtMs: number) => void): void {
    for (const seq of lost) {
      const entry = this.ring[seq % HISTORY]!;
      if (entry.seq !== seq || !entry.payload) continue;
      if (!entry.nacked) {
        entry.nacked = true;
        lostOnce?.(entry.sentAt);
      }
      if (nowMs - entry.resentAt < RESEND_GAP_MS) continue;
      if (this.resentRate.bitrate(nowMs) > RESEND_SHARE * this.sentRate.bitrate(nowMs)) {
        this.refused += 1;
        continue;
      }
      const size = resend(seq, entry.timestamp, entry.marker, entry.payload, entry.idShift);
      if (size === 0) continue;
      entry.resentAt = nowMs;
      this.resentRate.add(size, nowMs);
    }
  }
}
