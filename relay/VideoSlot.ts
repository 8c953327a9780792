/**
 * One pre-allocated video slot of a viewer: a server-side sender on one of the viewer's
 * `recvonly` transceivers, forwarding one publisher's camera or shared screen RTP as is
 * (no transcoding). The slot decides what to send (which source, from which keyframe);
 * its `SlotOutput`, one per transport, sends it.
 */
import type { InputStream } from './InputStreams';
import type { LayerReason } from '../protocol/signaling';
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
  /** Sends again what the viewer NACKed (sequence numbers of this stream), within a retransmission budget. */
  resend(lost: readonly number[]): void;
  /**
   * A packet of the forwarded stream that is not sent (padding only): the next ones are
   * numbered to close its gap, which the viewer would count as loss (and NACK).
   */
  skip(packet: RtpIn): void;
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

/** Which of the shown source's layers the slot forwards: a layer index (0 the lowest), or none while the viewer's downlink cannot carry even the lowest. */
export type SlotTarget = number | 'paused';

/**
 * A viewer's slot: which publisher's source it shows, which of its layers, and the RTP
 * plumbing to show it. A layer is taken at its keyframe: until the target layer's keyframe
 * arrives the slot keeps forwarding the layer it has (a viewer never sees a picture built on
 * another layer's references, nor a gap while it waits).
 */
export class VideoSlot {
  private current: string | null = null;
  private currentSource: VideoSource = 'camera';
  private target: SlotTarget = 0;
  private targetReason: LayerReason = 'best';
  /** The input stream being forwarded (its keyframe was seen); undefined while waiting for one. */
  private forwarding: InputStream | undefined;
  private lastKeyframeAskAt = -Infinity;
  /** Whether a picture of the assigned source has been forwarded since `assign` (until then the viewer may see the previous one's). */
  private pictureSent = true;
  /** Set by the first picture forwarded after `assign`, until `takeFirstPicture` reads it. */
  private firstPicture = false;

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

  /** The layer the allocation wants (or `paused`). */
  get targetLayer(): SlotTarget {
    return this.target;
  }

  /** The layer forwarded now, if any. */
  get forwardedLayer(): number | undefined {
    return this.forwarding?.layer;
  }

  /** Starts showing `publisherId`'s `source` (or nothing); forwarding resumes at that source's next keyframe. */
  assign(publisherId: string | null, source: VideoSource = 'camera'): void {
    if (publisherId === this.current && (publisherId === null || source === this.currentSource)) return;
    this.current = publisherId;
    this.currentSource = source;
    this.forwarding = undefined;
    this.pictureSent = publisherId === null;
    this.firstPicture = false;
    // The caller requests a keyframe when it assigns; count that as the first ask.
    this.lastKeyframeAskAt = performance.now();
  }

  /**
   * Sets the layer to forward (the allocation's choice) and why; returns whether the target
   * changed. A new target is asked a keyframe for at once (by the caller, through `forward`'s
   * result on that layer's next packet); `paused` stops forwarding now.
   */
  setTarget(target: SlotTarget, reason: LayerReason): boolean {
    this.targetReason = reason;
    if (target === this.target) return false;
    this.target = target;
    if (target === 'paused') this.forwarding = undefined;
    this.lastKeyframeAskAt = -Infinity;
    return true;
  }

  /** Sends one of the shown publisher's packets, which arrived on `stream`, to the viewer. */
  forward(packet: RtpIn, stream: InputStream): ForwardResult {
    if (!this.connected || packet.payload.length === 0 || this.target === 'paused') return FORWARD_DROPPED;
    if (stream === this.forwarding) return this.output.send(packet, false);
    // Another stream: the target layer (or that layer of the publisher's new connection)
    // is taken at its keyframe; a decoder fed delta frames that reference another stream's
    // pictures shows garbage until the next keyframe (RFC 7741 §4.3).
    if (stream.layer !== this.target) return FORWARD_DROPPED;
    if (!isVp8KeyframeStart(packet.payload)) return this.keyframeAskDue() ? FORWARD_WANTS_KEYFRAME : FORWARD_DROPPED;
    this.forwarding = stream;
    if (!this.pictureSent) {
      this.pictureSent = true;
      this.firstPicture = true;
    }
    // The stream's numbers continue right after the previous one's (RFC 3550 §5.1).
    return this.output.send(packet, true);
  }

  /** Whether the assigned source's first picture went out since the last call (the viewer's table should say so at once). */
  takeFirstPicture(): boolean {
    const first = this.firstPicture;
    this.firstPicture = false;
    return first;
  }

  /**
   * A packet of the shown publisher's that carries no picture (padding: its browser's
   * estimator probing the uplink): never sent, and not left as a hole in the numbering.
   */
  skip(packet: RtpIn, stream: InputStream): void {
    if (stream === this.forwarding && this.target !== 'paused') this.output.skip(packet);
  }

  /** The slot as the client sees it, with the layer it gets (`layers`: the source's layers now). */
  toAssignment(layers: readonly InputStream[] = []): SlotAssignment {
    const assignment: SlotAssignment = { mid: this.mid, participantId: this.current, source: this.current === null ? 'camera' : this.currentSource };
    if (this.current === null) return assignment;
    if (!this.pictureSent) return { ...assignment, waiting: true, ...(this.target === 'paused' ? { paused: 'bandwidth' } : {}) };
    if (this.target === 'paused') return { ...assignment, paused: 'bandwidth' };
    const shown = this.forwarding;
    if (!shown || layers.length === 0) return assignment;
    return { ...assignment, layer: { index: shown.layer, of: layers.length, width: shown.width, height: shown.height, reason: this.targetReason } };
  }

  private keyframeAskDue(): boolean {
    const now = performance.now();
    if (now - this.lastKeyframeAskAt < KEYFRAME_RETRY_MS) return false;
    this.lastKeyframeAskAt = now;
    return true;
  }
}
