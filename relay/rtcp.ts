/**
 * Keyframe-request routing. werift's RTP router delivers an incoming PLI to the sender or
 * receiver registered under the packet's *sender* SSRC, which Chrome sets to one of its own
 * outgoing streams (its camera or mic), so a viewer's PLI for a forwarded slot never reaches
 * the slot's sender. The relay therefore reads keyframe requests off the transport itself
 * and routes them by the *media* SSRC they name.
 */
import { RtcpPayloadSpecificFeedback, type RtcpPacket } from 'werift';

/** PSFB FMT values (RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1 FIR). */
const FMT_PLI = 1;
const FMT_FIR = 4;

/** The media SSRCs an RTCP packet asks a keyframe for (empty when it is no PLI/FIR). */
export function keyframeRequestTargets(packet: RtcpPacket): number[] {
  if (packet.type !== RtcpPayloadSpecificFeedback.type) return [];
  // werift leaves `feedback` undefined for feedback types it cannot parse (SLI, RPSI, …).
  const feedback = packet.feedback as typeof packet.feedback | undefined;
  if (!feedback) return [];
  switch (feedback.count) {
    case FMT_PLI:
      return [feedback.mediaSsrc];
    case FMT_FIR:
      // RFC 5104 §4.3.1.2: the FIR's own media SSRC is 0; the targets are in its FCI entries.
      return 'fir' in feedback ? feedback.fir.map((entry) => entry.ssrc) : [];
    default:
      return [];
  }
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
