/**
 * RTP packets as bytes (RFC 3550 §5.1), as node-datachannel hands them to the relay: read one into a reused view, write one into a reused buffer.
 */
import type { RtpIn } from './types';

/** The largest RTP packet the relay sends (UDP over a 1,500-byte MTU, minus SRTP's tag). */
export const MAX_RTP_BYTES = 1400;

/** RTCP packet types are 192–223 in the second byte (RFC 5761 §4); RTP payload types, with the marker bit, are not. */
export const isRtcp = (packet: Uint8Array): boolean => packet.length >= 2 && packet[1]! >= 192 && packet[1]! <= 223;

/**
 * Reads an RTP packet into `view` — CSRCs, the header extension and padding skipped, the
 * payload a view of `packet` — and returns true; false (view untouched) when it is not one.
 */
export function readRtp(packet: Buffer, view: RtpIn): boolean {
  if (packet.length < 12 || packet[0]! >> 6 !== 2 || isRtcp(packet)) return false;
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (offset + 4 > packet.length) return false;
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  const end = packet[0]! & 0x20 ? packet.length - packet[packet.length - 1]! : packet.length;
  if (offset > end) return false;
  view.marker = packet[1]! >> 7 === 1;
  view.payloadType = packet[1]! & 0x7f;
  view.sequenceNumber = packet.readUInt16BE(2);
  view.timestamp = packet.readUInt32BE(4);
  view.ssrc = packet.readUInt32BE(8);
  view.payload = packet.subarray(offset, end);
  view.size = end;
  return true;
}

/** Bytes the transport-wide sequence number adds to a packet: the one-byte extension header (4), one element (1 + 2) and a byte of padding. */
export const TRANSPORT_CC_BYTES = 8;

/** `writeRtp`'s transport-wide sequence number for a packet that carries none (a probe's duplicate): the extension is padding only, the same size. */
export const UNNUMBERED = -1;

/**
 * Writes a 12-byte RTP header (no CSRC, no padding) and `payload` into `out` (which must hold
 * both); with `transportCcId` (1..14) the header carries the transport-wide sequence number
 * `transportSequence` (RFC 8285 one-byte form), or, when that is `UNNUMBERED`, an extension
 * of padding only (the same size, no number). Returns the packet, a view of `out`.
 */
export function writeRtp(
  out: Buffer, payloadType: number, marker: boolean, seq: number, timestamp: number, ssrc: number, payload: Uint8Array,
  transportCcId?: number, transportSequence = 0,
): Buffer {
  out[0] = transportCcId === undefined ? 0x80 : 0x90;
  out[1] = (marker ? 0x80 : 0) | payloadType;
  out.writeUInt16BE(seq & 0xffff, 2);
  out.writeUInt32BE(timestamp >>> 0, 4);
  out.writeUInt32BE(ssrc >>> 0, 8);
  let offset = 12;
  if (transportCcId !== undefined) {
    // RFC 8285 §4.2: 0xBEDE, length 1 word; element ID/length-1 (2 bytes follow), then padding.
    out.writeUInt32BE(0xbede0001, 12);
    if (transportSequence === UNNUMBERED) {
      out.writeUInt32BE(0, 16);
    } else {
      out[16] = (transportCcId << 4) | 1;
      out[17] = (transportSequence >> 8) & 0xff;
      out[18] = transportSequence & 0xff;
      out[19] = 0;
    }
    offset = 12 + TRANSPORT_CC_BYTES;
  }
  out.set(payload, offset);
  return out.subarray(0, offset + payload.length);
}

/** The transport-wide sequence number header extension's URI (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2). */
export const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

/**
 * The 16-bit value of header extension element `id` in an RTP packet (RFC 8285: the one-byte
 * form, profile 0xBEDE, or the two-byte form, 0x100X), or undefined when the packet has no
 * such element of at least two bytes or its extension block is malformed.
 */
export function readExtension16(packet: Uint8Array, id: number): number | undefined {
  if (packet.length < 12 || !(packet[0]! & 0x10)) return undefined;
  const block = 12 + 4 * (packet[0]! & 0x0f);
  if (block + 4 > packet.length) return undefined;
  const profile = (packet[block]! << 8) | packet[block + 1]!;
  const end = block + 4 + 4 * ((packet[block + 2]! << 8) | packet[block + 3]!);
  if (end > packet.length) return undefined;
  const oneByte = profile === 0xbede;
  if (!oneByte && (profile & 0xfff0) !== 0x1000) return undefined;
  for (let at = block + 4; at < end; ) {
    const first = packet[at]!;
    // Padding bytes (ID 0) may sit between elements in both forms.
    if (first === 0) {
      at += 1;
      continue;
    }
    let elementId: number;
    let length: number;
    if (oneByte) {
      elementId = first >> 4;
      // ID 15 ends the block (RFC 8285 §4.2).
      if (elementId === 15) return undefined;
      length = (first & 0x0f) + 1;
      at += 1;
    } else {
      if (at + 2 > end) return undefined;
      elementId = first;
      length = packet[at + 1]!;
      at += 2;
    }
    if (at + length > end) return undefined;
    if (elementId === id) return length >= 2 ? (packet[at]! << 8) | packet[at + 1]! : undefined;
    at += length;
  }
  return undefined;
}
