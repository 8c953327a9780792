/** VP8 RTP payload facts the relay needs to forward without decoding (RFC 7741). */

/**
 * Whether this RTP payload starts a VP8 keyframe: the payload descriptor (§4.2) marks the start
 * of partition 0 (S=1, PID=0), and the VP8 payload header that follows has P=0 (§4.3).
 */
export function isVp8KeyframeStart(payload: Uint8Array): boolean {
  const offset = vp8HeaderOffset(payload);
  if (offset === undefined) return false;
  const header = payload[offset];
  return header !== undefined && (header & 0x01) === 0;
}

/**
 * The picture size a VP8 keyframe's first packet declares (RFC 6386 §9.1: after the 3-byte
 * frame tag, the start code 9d 01 2a, then 14-bit width and height, little-endian, each
 * with 2 bits of scaling), or undefined when the packet does not start a keyframe.
 */
export function vp8KeyframeSize(payload: Uint8Array): { width: number; height: number } | undefined {
  // One descriptor walk per packet: this runs on every received video packet.
  const at = vp8HeaderOffset(payload);
  if (at === undefined || at + 10 > payload.length || (payload[at]! & 0x01) !== 0) return undefined;
  if (payload[at + 3] !== 0x9d || payload[at + 4] !== 0x01 || payload[at + 5] !== 0x2a) return undefined;
  return { width: (payload[at + 6]! | (payload[at + 7]! << 8)) & 0x3fff, height: (payload[at + 8]! | (payload[at + 9]! << 8)) & 0x3fff };
}

/** Where the VP8 payload header starts, after the payload descriptor, when the packet starts partition 0 of a frame. */
function vp8HeaderOffset(payload: Uint8Array): number | undefined {
  const first = payload[0];
  if (first === undefined) return undefined;
  const extended = (first & 0x80) !== 0;
  const start = (first & 0x10) !== 0;
  const partition = first & 0x07;
  if (!start || partition !== 0) return undefined;
  let offset = 1;
  if (extended) {
    const ext = payload[offset++];
    if (ext === undefined) return undefined;
    if (ext & 0x80) {
      // PictureID: 7 bits, or 15 bits when its M bit is set.
      const picture = payload[offset];
      if (picture === undefined) return undefined;
      offset += picture & 0x80 ? 2 : 1;
    }
    if (ext & 0x40) offset += 1; // TL0PICIDX
    if (ext & 0x30) offset += 1; // TID/Y/KEYIDX
  }
  return offset;
}

/** `vp8Temporal`'s packed result: the temporal layer (TID) in bits 0–1… */
export const VP8_TID_MASK = 0x03;
/** …the layer sync bit (Y: the frame refers only to the base layer, TL0)… */
export const VP8_LAYER_SYNC = 0x04;
/** …and whether the packet starts a frame (S=1, PID=0). */
export const VP8_FRAME_START = 0x08;

/**
 * The temporal layer facts of a VP8 packet (RFC 7741 §4.2: TID and Y, when its descriptor
 * carries them; the T bit), packed into one number so the per-packet path allocates nothing;
 * -1 when the packet has no temporal layer (a stream without temporal layers).
 */
export function vp8Temporal(payload: Uint8Array): number {
  const first = payload[0];
  if (first === undefined || (first & 0x80) === 0) return -1;
  const ext = payload[1];
  if (ext === undefined || (ext & 0x20) === 0) return -1;
  let offset = 2;
  if (ext & 0x80) {
    const picture = payload[offset];
    if (picture === undefined) return -1;
    offset += picture & 0x80 ? 2 : 1;
  }
  if (ext & 0x40) offset += 1;
  const tidByte = payload[offset];
  if (tidByte === undefined) return -1;
  const start = (first & 0x10) !== 0 && (first & 0x07) === 0;
  return (tidByte >> 6) | (tidByte & 0x20 ? VP8_LAYER_SYNC : 0) | (start ? VP8_FRAME_START : 0);
}
