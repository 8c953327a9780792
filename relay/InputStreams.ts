/**
 * A publisher's incoming video streams, identified where packets arrive: each SSRC maps to
 * one (publisher, source, layer). A viewer's slot starts a new outgoing sequence (rebases)
 * when the stream it forwards changes — another source, another layer, or the publisher's
 * new connection — by intent, never because an unknown SSRC happened by.
 */
import { RateMeter } from './allocation/RateMeter';
import type { RtpIn, VideoSource } from './types';
import { MissingPackets } from './uplink/MissingPackets';
import { ReceptionStats } from './uplink/ReceptionStats';
import { vp8KeyframeSize } from './vp8';

/** A layer that starts flowing this soon after the relay asked its publisher to resume it answers that request. */
const RESUME_ANSWER_MS = 3000;

/** One incoming RTP stream of a publisher, and what the relay measures of it. */
export class InputStream {
  /** Its rate over the last second, every packet counted (what arrives of it). */
  readonly rate = new RateMeter();
  /**
   * Its rate over the last second without its keyframes: what it costs a viewer between
   * keyframes, which the allocation plans with. Counting the keyframe the relay itself asked
   * for when it switched a viewer to this layer, the layer's rate rose by half for a second
   * and the next allocation round undid the switch (weak-viewer, after a cap was lifted: a
   * top layer taken, dropped 230 ms later, taken again — a keyframe each time).
   */
  readonly betweenKeyframes = new RateMeter();
  /** What arrives of it and what is lost, for the relay's receiver reports to the publisher. */
  readonly reception = new ReceptionStats();
  /** What of it did not arrive, to be asked for again. */
  readonly missing = new MissingPackets();
  /** The picture size its last keyframe declared (0 before one). */
  width = 0;
  height = 0;
  /** Since when it has been arriving without a second's pause (undefined while it is not). */
  private flowingSince: number | undefined;
  private lastPacketAt = -Infinity;
  /** When the relay last asked the publisher to resume this layer. */
  private resumeAskedAt: number | undefined;
  /** The RTP timestamp of the last keyframe: its packets share it (a keyframe is one frame). */
  private keyframeTimestamp: number | undefined;

  constructor(
    readonly publisherId: string,
    readonly source: VideoSource,
    /** Spatial layer, 0 the lowest; a camera sent without simulcast has layer 0 only. */
    readonly layer: number,
    readonly ssrc: number,
  ) {}

  /**
   * Whether it has been arriving steadily for `ms` up to `nowMs`: a layer the publisher's
   * encoder has just (re)started — its bandwidth estimate or its CPU coming and going —
   * is not worth a switch and a keyframe until it has lasted.
   */
  steadyFor(ms: number, nowMs: number): boolean {
    return this.flowingSince !== undefined && nowMs - this.lastPacketAt <= 1000 && nowMs - this.flowingSince >= ms;
  }

  /**
   * Whether it started flowing again within `RESUME_ANSWER_MS` of the relay asking its publisher to
   * resume it (PublisherLayers): a layer that answers a resume is expected, not an encoder
   * coming and going, and a viewer waiting for it need not wait as long.
   */
  answersResume(nowMs: number): boolean {
    return this.resumeAskedAt !== undefined && this.flowingSince !== undefined && this.flowingSince >= this.resumeAskedAt && this.flowingSince - this.resumeAskedAt <= RESUME_ANSWER_MS && nowMs - this.lastPacketAt <= 1000;
  }

  /** The relay asked the publisher to send this layer again (it was paused: nobody watched it). */
  resumeAsked(nowMs: number): void {
    this.resumeAskedAt = nowMs;
  }

  /** Counts a padding-only packet of it: received (for the reports and gaps), but no picture and no layer flowing. */
  measurePadding(packet: RtpIn, nowMs: number): void {
    this.reception.receive(packet.sequenceNumber, packet.timestamp, nowMs);
    this.missing.arrived(packet.sequenceNumber, nowMs);
  }

  /** Counts a packet of it (its RTP size and, at a keyframe, the picture size). */
  measure(packet: RtpIn, nowMs: number): void {
    if (nowMs - this.lastPacketAt > 1000) this.flowingSince = nowMs;
    this.lastPacketAt = nowMs;
    this.rate.add(packet.size, nowMs);
    this.reception.receive(packet.sequenceNumber, packet.timestamp, nowMs);
    this.missing.arrived(packet.sequenceNumber, nowMs);
    const size = vp8KeyframeSize(packet.payload);
    if (size) {
      this.width = size.width;
      this.height = size.height;
      this.keyframeTimestamp = packet.timestamp;
    }
    if (packet.timestamp !== this.keyframeTimestamp) this.betweenKeyframes.add(packet.size, nowMs);
  }
}

/** The streams of one source (camera or screen) of one connection. */
export class SourceStreams {
  private readonly bySsrc = new Map<number, InputStream>();
  /** SSRCs were declared in the offer: packets on others are not this source's. */
  private readonly declared: boolean;

  constructor(
    private readonly publisherId: string,
    private readonly source: VideoSource,
    /** The SSRCs the offer declared for this source, lowest layer first (may be empty). */
    ssrcs: readonly number[],
  ) {
    this.declared = ssrcs.length > 0;
    ssrcs.forEach((ssrc, layer) => this.bySsrc.set(ssrc, new InputStream(publisherId, source, layer, ssrc)));
  }

  /** Its streams, lowest layer first. */
  layers(): InputStream[] {
    return [...this.bySsrc.values()].sort((a, b) => a.layer - b.layer);
  }

  /** The stream of this SSRC if it is one of this source's (never learns one). */
  known(ssrc: number): InputStream | undefined {
    return this.bySsrc.get(ssrc);
  }

  /**
   * The stream a packet with this SSRC belongs to. An offer that declared none (allowed by
   * RFC 8843) gets its first SSRC learned as layer 0, and a later one replaces it (the
   * sender restarted its stream); with declared SSRCs an unknown one is undefined.
   */
  lookup(ssrc: number): InputStream | undefined {
    const known = this.bySsrc.get(ssrc);
    if (known || this.declared) return known;
    this.bySsrc.clear();
    const learned = new InputStream(this.publisherId, this.source, 0, ssrc);
    this.bySsrc.set(ssrc, learned);
    return learned;
  }
}
