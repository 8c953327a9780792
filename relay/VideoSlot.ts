/**
 * One pre-allocated video slot of a viewer: a server-side sender on one of the viewer's
 * `recvonly` transceivers, forwarding one publisher's camera or shared screen RTP as is
 * (no transcoding). The slot decides what to send (which source, from which keyframe);
 * its `SlotOutput`, one per transport, sends it.
 */
import type { InputStream } from './InputStreams';
import type { RtpIn, SlotAssignment, VideoSource } from './types';
import { isVp8KeyframeStart } from './vp8';

/** Timestamp step put between the last packet of one source and the first of the next (one 30 fps frame at 90 kHz). */
export const SOURCE_SWITCH_TICKS = 3000;

/** One sending video stream of a viewer's connection, as a slot uses it. */
export interface SlotOutput {
  /** Whether the viewer's transport is up, so a packet sent (or a keyframe asked for it) reaches it. */
  readonly connected: boolean;
  /** The SSRC the viewer receives this stream on (its keyframe requests name it); undefined before negotiation. */
  readonly ssrc: number | undefined;
  /**
   * Sends `packet` as this stream's next, without the publisher's header extensions, SSRC or
   * numbering; `rebase`: it is the first of a new source, whose numbers must continue right
   * after the previous source's (RFC 3550 §5.1), not jump as massive loss would.
   * Returns the RTP size sent.
   */
  send(packet: RtpIn, rebase: boolean): number;
}

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
  /** The input stream last forwarded; another one (source, layer or connection) means the output must be rebased. */
  private lastStream: InputStream | undefined;
  private waitingForKeyframe = true;
  private lastKeyframeAskAt = -Infinity;

  constructor(
    readonly viewerId: string,
    readonly mid: string,
    readonly output: SlotOutput,
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
    return this.output.connected;
  }

  /** Starts showing `publisherId`'s `source` (or nothing); forwarding resumes at that source's next keyframe. */
  assign(publisherId: string | null, source: VideoSource = 'camera'): void {
    if (publisherId === this.current && (publisherId === null || source === this.currentSource)) return;
    this.current = publisherId;
    this.currentSource = source;
    this.lastStream = undefined;
    this.waitingForKeyframe = true;
    // The caller requests a keyframe when it assigns; count that as the first ask.
    this.lastKeyframeAskAt = performance.now();
  }

  /** Sends one of the shown publisher's packets, which arrived on `stream`, to the viewer. */
  forward(packet: RtpIn, stream: InputStream): ForwardResult {
    if (!this.connected || packet.payload.length === 0) return FORWARD_DROPPED;
    if (stream !== this.lastStream && !this.waitingForKeyframe) {
      // Another stream of the same source (a restarted sender; later, another layer): its
      // pictures do not follow the last one's, so it too starts on a keyframe, asked for now.
      this.waitingForKeyframe = true;
      this.lastKeyframeAskAt = -Infinity;
    }
    if (this.waitingForKeyframe) {
      // A decoder fed delta frames that reference another source's pictures shows garbage
      // until the next keyframe: start each new source on a keyframe (RFC 7741 §4.3).
      if (!isVp8KeyframeStart(packet.payload)) return this.keyframeAskDue() ? FORWARD_WANTS_KEYFRAME : FORWARD_DROPPED;
      this.waitingForKeyframe = false;
    }
    const rebase = stream !== this.lastStream;
    this.lastStream = stream;
    return this.output.send(packet, rebase);
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
