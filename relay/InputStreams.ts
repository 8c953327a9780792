/**
 * A publisher's incoming video streams, identified where packets arrive: each SSRC maps to
 * one (publisher, source, layer). A viewer's slot starts a new outgoing sequence (rebases)
 * when the stream it forwards changes — another source, another layer, or the publisher's
 * new connection — by intent, never because an unknown SSRC happened by.
 */
import type { VideoSource } from './types';

/** One incoming RTP stream of a publisher. */
export interface InputStream {
  readonly publisherId: string;
  readonly source: VideoSource;
  /** Spatial layer, 0 the lowest; a camera sent without simulcast has layer 0 only. */
  readonly layer: number;
  readonly ssrc: number;
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
    ssrcs.forEach((ssrc, layer) => this.bySsrc.set(ssrc, { publisherId, source, layer, ssrc }));
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
    const learned: InputStream = { publisherId: this.publisherId, source: this.source, layer: 0, ssrc };
    this.bySsrc.set(ssrc, learned);
    return learned;
  }
}
