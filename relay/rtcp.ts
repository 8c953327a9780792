/**
 * Keyframe-request routing: a viewer's PLI or FIR names the *media* SSRC of the slot it wants a
 * keyframe on (Chrome sets the *sender* SSRC to one of its own outgoing streams), and the relay
 * turns it into a request to whichever publisher that slot shows now. libdatachannel hands a
 * slot's track the decrypted compound RTCP datagram; every packet in it is bounded by its own
 * length field (a FIR's FCI entries never run into the packet after it).
 */

import type { VideoSource } from './types';

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
 * The media SSRCs a decrypted (compound) RTCP datagram asks keyframes for, in order (empty when
 * it holds no PLI/FIR). Walking stops at the first packet whose header is not RTCP version 2
 * or whose length runs past the datagram: the rest cannot be framed.
 */
export function keyframeRequestTargets(datagram: Uint8Array): number[] {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const targets: number[] = [];
  for (let pos = 0; pos + 4 <= datagram.byteLength; ) {
    const first = datagram[pos]!;
    if (first >> 6 !== 2) break;
    // RFC 3550 §6.4.1: the length is in 32-bit words minus one, header and padding included.
    const size = (view.getUint16(pos + 2) + 1) * 4;
    if (pos + size > datagram.byteLength) break;
    const padding = first & 0x20 ? datagram[pos + size - 1]! : 0;
    const end = pos + size - padding;
    if (datagram[pos + 1] === PT_PSFB && end - pos >= FEEDBACK_HEADER_BYTES) {
      const fmt = first & 0x1f;
      if (fmt === FMT_PLI) {
        targets.push(view.getUint32(pos + 8));
      } else if (fmt === FMT_FIR) {
        // RFC 5104 §4.3.1.2: the FIR's own media SSRC is 0; the targets are its FCI entries,
        // as many as fit in its length.
        for (let entry = pos + FEEDBACK_HEADER_BYTES; entry + FIR_ENTRY_BYTES <= end; entry += FIR_ENTRY_BYTES) {
          targets.push(view.getUint32(entry));
        }
      }
    }
    pos += size;
  }
  return targets;
}

/** One throttle per video source of a publisher (`send` asks that source for a keyframe); default interval 500 ms (see RelayOptions). */
export function keyframeThrottles(intervalMs: number | undefined, send: (source: VideoSource) => void): Record<VideoSource, KeyframeThrottle> {
  const interval = intervalMs ?? 500;
  return { camera: new KeyframeThrottle(interval, () => send('camera')), screen: new KeyframeThrottle(interval, () => send('screen')) };
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
