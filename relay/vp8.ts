/** VP8 RTP payload facts the relay needs to forward without decoding (RFC 7741). */

/**
 * Whether this RTP payload starts a VP8 keyframe: the payload descriptor (§4.2) marks the start
 * of partition 0 (S=1, PID=0), and the VP8 payload header that follows has P=0 (§4.3).
 */
export function isVp8KeyframeStart(payload: Uint8Array): boolean {
  const first = payload[0];
  if (first === undefined) return false;
  const extended = (first & 0x80) !== 0;
  const start = (first & 0x10) !== 0;
  const partition = first & 0x07;
  if (!start || partition !== 0) return false;
  let offset = 1;
  if (extended) {
    const ext = payload[offset++];
    if (ext === undefined) return false;
    if (ext & 0x80) {
      // PictureID: 7 bits, or 15 bits when its M bit is set.
      const picture = payload[offset];
      if (picture === undefined) return false;
      offset += picture & 0x80 ? 2 : 1;
    }
    if (ext & 0x40) offset += 1; // TL0PICIDX
    if (ext & 0x30) offset += 1; // TID/Y/KEYIDX
  }
  const header = payload[offset];
  return header !== undefined && (header & 0x01) === 0;
}
