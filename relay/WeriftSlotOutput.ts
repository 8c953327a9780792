/**
 * A video slot's sending stream on werift: a server-side `RTCRtpSender` on one of the
 * viewer's `recvonly` transceivers.
 */
import { uint16Add, uint32Add, type RTCRtpSender } from 'werift';
import { NO_EXTENSIONS, PacketRing } from './PacketRing';
import type { RelayLogger, RtpIn } from './types';
import { SOURCE_SWITCH_TICKS, type SlotOutput } from './VideoSlot';

/** No CSRCs on forwarded packets (the relay forwards one source per slot). */
const NO_CSRC: number[] = [];

export class WeriftSlotOutput implements SlotOutput {
  private readonly ring = new PacketRing();
  /** One handler for every send's rejection (no closure per packet). */
  private readonly onSendFailed = (error: unknown): void => {
    this.log.debug({ err: error }, 'forwarding a video packet failed');
  };

  constructor(
    readonly sender: RTCRtpSender,
    private readonly log: RelayLogger,
  ) {}

  get connected(): boolean {
    return this.sender.dtlsTransport?.state === 'connected';
  }

  get ssrc(): number {
    return this.sender.ssrc;
  }

  send(packet: RtpIn, rebase: boolean): number {
    if (rebase) {
      // werift's sender adds a per-sender offset to sequence numbers and timestamps: set it so
      // the viewer sees this source continue right after the previous one. No-op before the
      // sender's first packet.
      this.sender.replaceRTP({
        sequenceNumber: uint16Add(packet.sequenceNumber, -1),
        timestamp: uint32Add(packet.timestamp, -SOURCE_SWITCH_TICKS),
      });
    }
    // werift's sendRtp rewrites the header in place and keeps the object for NACK replies, so
    // every viewer needs its own copy, taken from this slot's ring; the publisher's header
    // extensions are dropped (their IDs belong to the publisher's negotiation, and werift would
    // copy them over its own), and so is its padding (werift's payload already excludes it).
    const copy = this.ring.next();
    const to = copy.header;
    to.marker = packet.marker;
    to.payloadType = packet.payloadType;
    to.sequenceNumber = packet.sequenceNumber;
    to.timestamp = packet.timestamp;
    to.ssrc = packet.ssrc;
    to.csrc = NO_CSRC;
    to.csrcLength = 0;
    to.extension = false;
    to.extensions = NO_EXTENSIONS;
    copy.payload = packet.payload;
    this.sender.sendRtp(copy).catch(this.onSendFailed);
    // Fixed header and payload: what the relay counts (werift's own extensions aside).
    return 12 + packet.payload.length;
  }
}
