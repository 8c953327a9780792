/**
 * One pre-allocated video slot of a viewer: a server-side sender on one of the viewer's
 * `recvonly` transceivers, forwarding one publisher's camera or shared screen RTP as is
 * (no transcoding).
 */
import { uint16Add, uint32Add, type RTCRtpSender, type RtpPacket } from 'werift';
import { NO_EXTENSIONS, PacketRing } from './PacketRing';
import type { RelayLogger, SlotAssignment, VideoSource } from './types';
import { isVp8KeyframeStart } from './vp8';

/** Timestamp step put between the last packet of one source and the first of the next (one 30 fps frame at 90 kHz). */
const SOURCE_SWITCH_TICKS = 3000;

/** While waiting for a keyframe, ask again this often (the first request's keyframe may have been lost). */
const KEYFRAME_RETRY_MS = 1000;

/**
 * What `forward` did with a packet, as a number so the per-packet path allocates nothing:
 * > 0 sent (its RTP size in bytes), `FORWARD_DROPPED` dropped, `FORWARD_WANTS_KEYFRAME`
 * dropped while the slot waits for a keyframe and it is time to ask (again).
 */
export type ForwardResult = number;
export const FORWARD_DROPPED = 0;
export const FORWARD_WANTS_KEYFRAME = -1;

/** A viewer's slot: which publisher's source it shows and the RTP plumbing to show it. */
export class VideoSlot {
  private current: string | null = null;
  private currentSource: VideoSource = 'camera';
  /** SSRC of the source last forwarded; a different one means the sender must be rebased. */
  private sourceSsrc: number | undefined;
  private waitingForKeyframe = true;
  private lastKeyframeAskAt = -Infinity;
  private readonly ring = new PacketRing();
  /** One handler for every send's rejection (no closure per packet). */
  private readonly onSendFailed = (error: unknown): void => {
    this.log.debug({ viewer: this.viewerId, mid: this.mid, err: error }, 'forwarding a video packet failed');
  };

  constructor(
    readonly viewerId: string,
    readonly mid: string,
    readonly sender: RTCRtpSender,
    private readonly log: RelayLogger,
  ) {}

  /** The participant whose camera or screen this slot shows, or `null`. */
  get publisherId(): string | null {
    return this.current;
  }

  /** Which of the publisher's video sources the slot shows (meaningless while empty). */
  get source(): VideoSource {
    return this.currentSource;
  }

  /** Whether the slot shows exactly this source. */
  shows(publisherId: string, source: VideoSource): boolean {
    return this.current === publisherId && this.currentSource === source;
  }

  /** Whether the viewer's transport is up, so a forwarded packet (or a keyframe asked for it) reaches it. */
  get connected(): boolean {
    return this.sender.dtlsTransport?.state === 'connected';
  }

  /** Starts showing `publisherId`'s `source` (or nothing); forwarding resumes at that source's next keyframe. */
  assign(publisherId: string | null, source: VideoSource = 'camera'): void {
    if (publisherId === this.current && (publisherId === null || source === this.currentSource)) return;
    this.current = publisherId;
    this.currentSource = source;
    this.sourceSsrc = undefined;
    this.waitingForKeyframe = true;
    // The caller requests a keyframe when it assigns; count that as the first ask.
    this.lastKeyframeAskAt = performance.now();
  }

  /** Sends one of the shown publisher's packets to the viewer. */
  forward(packet: RtpPacket): ForwardResult {
    if (!this.connected || packet.payload.length === 0) return FORWARD_DROPPED;
    if (this.waitingForKeyframe) {
      // A decoder fed delta frames that reference another source's pictures shows garbage
      // until the next keyframe: start each new source on a keyframe (RFC 7741 §4.3).
      if (!isVp8KeyframeStart(packet.payload)) return this.keyframeAskDue() ? FORWARD_WANTS_KEYFRAME : FORWARD_DROPPED;
      this.waitingForKeyframe = false;
    }
    if (packet.header.ssrc !== this.sourceSsrc) {
      // werift's sender adds a per-sender offset to sequence numbers and timestamps; set it so
      // the viewer sees this source continue right after the previous one (RFC 3550 §5.1),
      // not a jump it would take for massive loss. No-op before the sender's first packet.
      this.sender.replaceRTP({
        sequenceNumber: uint16Add(packet.header.sequenceNumber, -1),
        timestamp: uint32Add(packet.header.timestamp, -SOURCE_SWITCH_TICKS),
      });
      this.sourceSsrc = packet.header.ssrc;
    }
    // werift's sendRtp rewrites the header in place and keeps the object for NACK replies, so
    // every viewer needs its own copy, taken from this slot's ring; the publisher's header
    // extensions are dropped (their IDs belong to the publisher's negotiation, and werift would
    // copy them over its own), and so is its padding (werift's payload already excludes it).
    const copy = this.ring.next();
    const from = packet.header;
    const to = copy.header;
    to.marker = from.marker;
    to.payloadType = from.payloadType;
    to.sequenceNumber = from.sequenceNumber;
    to.timestamp = from.timestamp;
    to.ssrc = from.ssrc;
    to.csrc = from.csrc;
    to.csrcLength = from.csrcLength;
    to.extension = false;
    to.extensions = NO_EXTENSIONS;
    copy.payload = packet.payload;
    // Fixed header, CSRCs, payload: what the relay counts (werift's own extensions aside).
    const bytes = 12 + 4 * from.csrc.length + packet.payload.length;
    this.sender.sendRtp(copy).catch(this.onSendFailed);
    return bytes;
  }

  /** The slot as the client sees it. */
  toAssignment(): SlotAssignment {
    return { mid: this.mid, participantId: this.current, source: this.current === null ? 'camera' : this.currentSource };
  }

  private keyframeAskDue(): boolean {
    const now = performance.now();
    if (now - this.lastKeyframeAskAt < KEYFRAME_RETRY_MS) return false;
    this.lastKeyframeAskAt = now;
    return true;
  }
}
