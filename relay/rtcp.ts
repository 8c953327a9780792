/**
 * What the relay reads from a viewer's RTCP itself (libdatachannel hands a slot's track the
 * decrypted compound datagram; every packet in it is bounded by its own length field, so a
 * FIR's FCI entries never run into the packet after it):
 * - keyframe requests: a PLI or FIR names the *media* SSRC of the slot it wants a keyframe on
 *   (Chrome sets the *sender* SSRC to one of its own outgoing streams), and the relay turns
 *   it into a request to whichever publisher that slot shows now;
 * - downlink feedback for the per-viewer allocation: what it NACKs, and its transport-wide
 *   feedback (when each packet the relay sent it arrived, `readTransportFeedback`).
 */


/** RTCP packet type of payload-specific feedback (RFC 4585 §6.1). */
const PT_PSFB = 206;
/** PSFB FMT values (RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1 FIR). */
const FMT_PLI = 1;
const FMT_FIR = 4;
/** Common header (4) + sender SSRC (4) + media SSRC (4): the fixed part of every feedback packet. */
const FEEDBACK_HEADER_BYTES = 12;
/** One FIR FCI entry: SSRC, sequence number, 24 reserved bits (RFC 5104 §4.3.1.1). */
const FIR_ENTRY_BYTES = 8;

/**
 * Calls `visit` for each packet of a decrypted compound RTCP datagram, with its packet type,
 * its 5-bit count/FMT field and its bounds (padding excluded). Walking stops at the first
 * packet whose header is not RTCP version 2 or whose length runs past the datagram: the rest
 * cannot be framed.
 */
export function forEachRtcpPacket(datagram: Uint8Array, visit: (type: number, fmt: number, view: DataView, start: number, end: number) => void): void {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  for (let pos = 0; pos + 4 <= datagram.byteLength; ) {
    const first = datagram[pos]!;
    if (first >> 6 !== 2) break;
    // RFC 3550 §6.4.1: the length is in 32-bit words minus one, header and padding included.
    const size = (view.getUint16(pos + 2) + 1) * 4;
    if (pos + size > datagram.byteLength) break;
    const padding = first & 0x20 ? datagram[pos + size - 1]! : 0;
    visit(datagram[pos + 1]!, first & 0x1f, view, pos, pos + size - padding);
    pos += size;
  }
}

/** The media SSRCs a decrypted (compound) RTCP datagram asks keyframes for, in order (empty when it holds no PLI/FIR). */
export function keyframeRequestTargets(datagram: Uint8Array): number[] {
  const targets: number[] = [];
  forEachRtcpPacket(datagram, (type, fmt, view, start, end) => {
    if (type !== PT_PSFB || end - start < FEEDBACK_HEADER_BYTES) return;
    if (fmt === FMT_PLI) {
      targets.push(view.getUint32(start + 8));
    } else if (fmt === FMT_FIR) {
      // RFC 5104 §4.3.1.2: the FIR's own media SSRC is 0; the targets are its FCI entries,
      // as many as fit in its length.
      for (let entry = start + FEEDBACK_HEADER_BYTES; entry + FIR_ENTRY_BYTES <= end; entry += FIR_ENTRY_BYTES) {
        targets.push(view.getUint32(entry));
      }
    }
  });
  return targets;
}

/** Receiver report (RFC 3550 §6.4.2) and sender report (§6.4.1) packet types. */
const PT_SR = 200;
const PT_RR = 201;
const REPORT_BLOCK_BYTES = 24;

/** RTCP packet type of transport-layer feedback (RFC 4585 §6.1), whose FMT 1 is the generic NACK. */
const PT_RTPFB = 205;
const FMT_NACK = 1;

/** The sequence numbers a (compound) RTCP datagram NACKs for `mediaSsrc` (RFC 4585 §6.2.1: PID and a 16-bit BLP per FCI entry). */
export function nackedSequences(datagram: Uint8Array, mediaSsrc: number): number[] {
  const lost: number[] = [];
  forEachRtcpPacket(datagram, (type, fmt, view, start, end) => {
    if (type !== PT_RTPFB || fmt !== FMT_NACK || end - start < FEEDBACK_HEADER_BYTES + 4 || view.getUint32(start + 8) !== mediaSsrc >>> 0) return;
    for (let fci = start + FEEDBACK_HEADER_BYTES; fci + 4 <= end; fci += 4) {
      const pid = view.getUint16(fci);
      const blp = view.getUint16(fci + 2);
      lost.push(pid);
      for (let bit = 0; bit < 16; bit += 1) if (blp & (1 << bit)) lost.push((pid + bit + 1) & 0xffff);
    }
  });
  return lost;
}

/**
 * A generic NACK (RFC 4585 §6.2.1) from `sender` for the packets `seqs` of `media`, in
 * sequence order: one FCI entry (PID, and a bitmask of the 16 after it) per run.
 */
export function nackPacket(sender: number, media: number, seqs: readonly number[]): Buffer {
  const entries: Array<[number, number]> = [];
  for (const seq of seqs) {
    const last = entries.at(-1);
    const after = last ? (seq - last[0]) & 0xffff : 0;
    if (last && after >= 1 && after <= 16) last[1] |= 1 << (after - 1);
    else entries.push([seq & 0xffff, 0]);
  }
  const packet = Buffer.alloc(FEEDBACK_HEADER_BYTES + entries.length * 4);
  packet.writeUInt32BE(((2 << 30) | (FMT_NACK << 24) | (PT_RTPFB << 16) | (packet.length / 4 - 1)) >>> 0, 0);
  packet.writeUInt32BE(sender >>> 0, 4);
  packet.writeUInt32BE(media >>> 0, 8);
  entries.forEach(([pid, blp], i) => {
    packet.writeUInt16BE(pid, FEEDBACK_HEADER_BYTES + i * 4);
    packet.writeUInt16BE(blp, FEEDBACK_HEADER_BYTES + i * 4 + 2);
  });
  return packet;
}

/** A PLI (RFC 4585 §6.3.1) from `sender` asking for a keyframe on `media`. */
export function pliPacket(sender: number, media: number): Buffer {
  const packet = Buffer.alloc(FEEDBACK_HEADER_BYTES);
  packet.writeUInt32BE(((2 << 30) | (FMT_PLI << 24) | (PT_PSFB << 16) | 2) >>> 0, 0);
  packet.writeUInt32BE(sender >>> 0, 4);
  packet.writeUInt32BE(media >>> 0, 8);
  return packet;
}

/**
 * Coalesces keyframe requests to one publisher: at most one per `minIntervalMs`, and a request
 * that arrives inside the interval is sent at its end instead of being dropped, so a viewer
 * that asked always gets its keyframe without a PLI storm reaching the encoder.
 */
export class KeyframeThrottle {
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly minIntervalMs: number,
    private readonly send: () => void,
  ) {}

  /** Asks for a keyframe now, or at the end of the current interval. */
  request(): void {
    if (this.closed || this.timer) return;
    const wait = this.lastSentAt + this.minIntervalMs - performance.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, wait);
  }

  /** Cancels a pending request; later requests are ignored. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    if (this.closed) return;
    this.lastSentAt = performance.now();
    this.send();
  }
}

/** One report block of a receiver report (RFC 3550 §6.4.1), about one stream the relay receives. */
export interface ReportBlock {
  ssrc: number;
  /** Lost since the previous report, as a fraction of what was expected (0..1). */
  fractionLost: number;
  /** Lost since the stream began (negative with duplicates: clamped to 0). */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles in the upper 16 bits). */
  highestSequence: number;
  /** Interarrival jitter, in RTP timestamp units. */
  jitter: number;
  /** The middle 32 bits of the NTP time of the sender's last SR (0: none yet). */
  lastSenderReport: number;
  /** Since that SR, in units of 1/65536 s (0: none yet). */
  delaySinceLastSenderReport: number;
}

/** A receiver report from `sender` (the relay's own SSRC) with up to 31 report blocks (RFC 3550 §6.4.2). */
export function receiverReport(sender: number, blocks: readonly ReportBlock[]): Buffer {
  const count = Math.min(31, blocks.length);
  const packet = Buffer.alloc(8 + count * REPORT_BLOCK_BYTES);
  packet.writeUInt32BE(((2 << 30) | (count << 24) | (PT_RR << 16) | (packet.length / 4 - 1)) >>> 0, 0);
  packet.writeUInt32BE(sender >>> 0, 4);
  for (let i = 0; i < count; i += 1) {
    const block = blocks[i]!;
    const at = 8 + i * REPORT_BLOCK_BYTES;
    packet.writeUInt32BE(block.ssrc >>> 0, at);
    packet.writeUInt8(Math.min(255, Math.max(0, Math.floor(block.fractionLost * 256))), at + 4);
    // 24-bit signed cumulative loss, clamped to what it can hold.
    packet.writeUIntBE(Math.min(0x7fffff, Math.max(0, Math.round(block.cumulativeLost))), at + 5, 3);
    packet.writeUInt32BE(block.highestSequence >>> 0, at + 8);
    packet.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(block.jitter))) >>> 0, at + 12);
    packet.writeUInt32BE(block.lastSenderReport >>> 0, at + 16);
    packet.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(block.delaySinceLastSenderReport))) >>> 0, at + 20);
  }
  return packet;
}

/** The sender reports in a publisher's (compound) RTCP datagram: each one's SSRC and the middle 32 bits of its NTP time (for the LSR of the relay's reports). */
export function senderReports(datagram: Uint8Array): Array<{ ssrc: number; ntpMiddle: number }> {
  const reports: Array<{ ssrc: number; ntpMiddle: number }> = [];
  forEachRtcpPacket(datagram, (type, _fmt, view, start, end) => {
    if (type !== PT_SR || end - start < 28) return;
    reports.push({ ssrc: view.getUint32(start + 4), ntpMiddle: ((view.getUint32(start + 8) << 16) | (view.getUint32(start + 12) >>> 16)) >>> 0 });
  });
  return reports;
}

/** Transport-layer feedback FMT of transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1). */
const FMT_TRANSPORT_CC = 15;
/** Receive deltas are in units of 250 µs; the reference time in units of 64 ms (256 deltas). */
export const TRANSPORT_CC_TICKS_PER_REFERENCE = 256;
/** The most packets one run-length chunk counts (13 bits). */
const MAX_RUN_LENGTH = 0x1fff;

/** One transport-wide feedback packet's content: the receive delta (250 µs units) of each sequence number from `baseSequence` on, undefined for one not received. */
export interface TransportFeedbackContent {
  baseSequence: number;
  /** 64 ms units (24 bits); the first received packet's delta counts from it. */
  referenceTime: number;
  /** Incremented (mod 256) for each feedback packet sent, so the sender can tell lost feedback. */
  feedbackCount: number;
  /** Per sequence number: its delta from the previous received one (the first: from the reference time); at most 16 bits signed. */
  deltas: ReadonlyArray<number | undefined>;
}

/** Packet status symbols (§3.1.1): not received, received with a 1-byte delta, with a 2-byte delta. */
const enum Status { NotReceived = 0, SmallDelta = 1, LargeDelta = 2 }

const statusOf = (delta: number | undefined): Status => (delta === undefined ? Status.NotReceived : delta >= 0 && delta <= 0xff ? Status.SmallDelta : Status.LargeDelta);

/**
 * The packet status chunks (16-bit words) for `symbols`, greedily: a run-length chunk where a
 * run covers at least what one status vector would, else a 1-bit vector (14 symbols, none a
 * large delta) or a 2-bit one (7). A vector's unused tail is "not received" and beyond the
 * status count, where the reader stops.
 */
function statusChunks(symbols: readonly Status[]): number[] {
  const chunks: number[] = [];
  for (let i = 0; i < symbols.length; ) {
    const first = symbols[i]!;
    let run = 1;
    while (i + run < symbols.length && symbols[i + run] === first && run < MAX_RUN_LENGTH) run += 1;
    const rest = symbols.length - i;
    const oneBit = symbols.slice(i, i + 14).every((s) => s !== Status.LargeDelta);
    const vectorCovers = Math.min(rest, oneBit ? 14 : 7);
    if (run >= vectorCovers) {
      chunks.push((first << 13) | run);
      i += run;
    } else if (oneBit) {
      let chunk = 0x8000;
      for (let k = 0; k < vectorCovers; k += 1) chunk |= symbols[i + k]! << (13 - k);
      chunks.push(chunk);
      i += vectorCovers;
    } else {
      let chunk = 0xc000;
      for (let k = 0; k < vectorCovers; k += 1) chunk |= symbols[i + k]! << (12 - 2 * k);
      chunks.push(chunk);
      i += vectorCovers;
    }
  }
  return chunks;
}

/**
 * A transport-wide congestion control feedback packet (RTPFB, FMT 15) from `sender` about
 * the packets of the transport that carries `media`: base sequence, status count, reference
 * time, feedback count, the status chunks, the receive deltas, zero padding to 32 bits.
 * Throws a RangeError on a delta that does not fit 16 bits signed (the caller splits there).
 */
export function transportFeedbackPacket(sender: number, media: number, content: TransportFeedbackContent): Buffer {
  const { deltas } = content;
  if (deltas.length === 0 || deltas.length > 0xffff) throw new RangeError(`status count ${deltas.length}`);
  const symbols = deltas.map(statusOf);
  const chunks = statusChunks(symbols);
  let deltaBytes = 0;
  for (const [i, delta] of deltas.entries()) {
    if (delta === undefined) continue;
    if (delta < -0x8000 || delta > 0x7fff || !Number.isInteger(delta)) throw new RangeError(`receive delta ${delta}`);
    deltaBytes += symbols[i] === Status.SmallDelta ? 1 : 2;
  }
  const unpadded = FEEDBACK_HEADER_BYTES + 8 + chunks.length * 2 + deltaBytes;
  const packet = Buffer.alloc(Math.ceil(unpadded / 4) * 4);
  packet.writeUInt32BE(((2 << 30) | (FMT_TRANSPORT_CC << 24) | (PT_RTPFB << 16) | (packet.length / 4 - 1)) >>> 0, 0);
  packet.writeUInt32BE(sender >>> 0, 4);
  packet.writeUInt32BE(media >>> 0, 8);
  packet.writeUInt16BE(content.baseSequence & 0xffff, 12);
  packet.writeUInt16BE(deltas.length, 14);
  packet.writeUInt32BE((((content.referenceTime & 0xffffff) << 8) | (content.feedbackCount & 0xff)) >>> 0, 16);
  let at = 20;
  for (const chunk of chunks) at = packet.writeUInt16BE(chunk, at);
  for (const [i, delta] of deltas.entries()) {
    if (delta === undefined) continue;
    at = symbols[i] === Status.SmallDelta ? packet.writeUInt8(delta, at) : packet.writeInt16BE(delta, at);
  }
  return packet;
}

/** Status symbols in a scratch array, one per packet of a feedback packet (its status count is 16 bits). */
const feedbackSymbols = new Uint8Array(0x10000);

/**
 * Reads the transport-wide feedback packets (RTPFB, FMT 15) of a decrypted compound RTCP
 * datagram: `visit` gets each reported sequence number with its arrival time in ms on the
 * viewer's clock (the reference time, 64 ms units, plus the receive deltas, 250 µs units;
 * the 24-bit reference is read unsigned: it wraps after 12 days, beyond any connection the
 * relay compares), or NaN for a packet reported not received. A malformed packet (reserved
 * symbol, chunks or deltas running past its end) is read no further. Returns how many
 * feedback packets the datagram held.
 */
export function readTransportFeedback(datagram: Uint8Array, visit: (sequence: number, arrivalMs: number) => void): number {
  let packets = 0;
  forEachRtcpPacket(datagram, (type, fmt, view, start, end) => {
    if (type !== PT_RTPFB || fmt !== FMT_TRANSPORT_CC || end - start < FEEDBACK_HEADER_BYTES + 8) return;
    packets += 1;
    const base = view.getUint16(start + 12);
    const count = view.getUint16(start + 14);
    const referenceMs = (view.getUint32(start + 16) >>> 8) * 64;
    let at = start + 20;
    let read = 0;
    while (read < count) {
      if (at + 2 > end) return;
      const chunk = view.getUint16(at);
      at += 2;
      if (!(chunk & 0x8000)) {
        const symbol = (chunk >> 13) & 0x3;
        const run = Math.min(chunk & 0x1fff, count - read);
        if (symbol === 3) return;
        feedbackSymbols.fill(symbol, read, read + run);
        read += run;
      } else if (!(chunk & 0x4000)) {
        for (let k = 0; k < 14 && read < count; k += 1) feedbackSymbols[read++] = (chunk >> (13 - k)) & 0x1;
      } else {
        for (let k = 0; k < 7 && read < count; k += 1) {
          const symbol = (chunk >> (12 - 2 * k)) & 0x3;
          if (symbol === 3) return;
          feedbackSymbols[read++] = symbol;
        }
      }
    }
    let arrivalMs = referenceMs;
    for (let i = 0; i < count; i += 1) {
      const sequence = (base + i) & 0xffff;
      const symbol = feedbackSymbols[i]!;
      if (symbol === Status.NotReceived) {
        visit(sequence, NaN);
        continue;
      }
      const bytes = symbol === Status.SmallDelta ? 1 : 2;
      if (at + bytes > end) return;
      arrivalMs += (bytes === 1 ? view.getUint8(at) : view.getInt16(at)) / 4;
      at += bytes;
      visit(sequence, arrivalMs);
    }
  });
  return packets;
}
