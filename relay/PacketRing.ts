/**
 * Reusable RTP packet objects for one outgoing stream, so sending allocates no header per
 * packet. werift's sender rewrites the header it is given and keeps the packet in a NACK
 * history of 128 entries indexed by sequence number, checking the number on lookup: once 128
 * newer packets went out, the oldest object is free to reuse (a stale history entry then fails
 * that check, exactly as an evicted one would).
 */
import { RtpHeader, RtpPacket } from 'werift';

/** werift's RTP_HISTORY_SIZE (rtpSender.ts). */
export const PACKET_RING_SIZE = 128;

/**
 * Header extensions of the relay's packets: none of ours (werift adds its own in a new array).
 * Frozen and shared: anything writing into it throws instead of corrupting every packet.
 */
export const NO_EXTENSIONS: RtpHeader['extensions'] = Object.freeze([]) as unknown as RtpHeader['extensions'];

const EMPTY_PAYLOAD = Buffer.alloc(0);

/** A fixed ring of packet objects, allocated on first use and then reused in turn. */
export class PacketRing {
  private readonly packets: RtpPacket[] = [];
  private nextIndex = 0;

  /** The next packet object; the caller sets every header field it sends and the payload. */
  next(): RtpPacket {
    const index = this.nextIndex;
    this.nextIndex = index + 1 === PACKET_RING_SIZE ? 0 : index + 1;
    let packet = this.packets[index];
    if (packet === undefined) {
      packet = new RtpPacket(new RtpHeader(), EMPTY_PAYLOAD);
      this.packets[index] = packet;
    }
    return packet;
  }
}
