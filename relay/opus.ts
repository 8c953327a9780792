/** Opus packet facts the relay needs without decoding (RFC 6716 §3.1, the TOC byte). */

/** Opus always runs its RTP clock at 48 kHz, whatever the coded bandwidth (RFC 7587 §4.1). */
export const OPUS_CLOCK_RATE = 48_000;

/** Samples at 48 kHz of one frame, by TOC config (0–31): SILK 10/20/40/60 ms, Hybrid 10/20, CELT 2.5/5/10/20. */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config % 4]!;
  if (config < 16) return [480, 960][config % 2]!;
  return [120, 240, 480, 960][config % 4]!;
}

/** RFC 6716 §3.4 R2: no frame is longer than this many bytes. */
const MAX_FRAME_BYTES = 1275;
/** RFC 6716 §3.4 R5: no packet lasts longer than 120 ms. */
const MAX_PACKET_SAMPLES = 120 * 48;

/**
 * Reads a frame length (RFC 6716 §3.2.1: one byte below 252, else two) at `pos`; returns the
 * length and the bytes it took, or undefined when the packet ends first.
 */
function frameLength(packet: Uint8Array, pos: number): [length: number, size: number] | undefined {
  const first = packet[pos];
  if (first === undefined) return undefined;
  if (first < 252) return [first, 1];
  const second = packet[pos + 1];
  return second === undefined ? undefined : [4 * second + first, 2];
}

/**
 * Duration of an Opus packet in 48 kHz samples, or `undefined` when the packet is empty or
 * malformed by RFC 6716 §3.4 (R1–R7): code 0 holds one frame, code 1 two of equal size, code 2
 * two with the first one's length given, code 3 a count in its second byte, with optional
 * padding and, when VBR, the lengths of all frames but the last.
 */
export function opusPacketSamples(packet: Uint8Array): number | undefined {
  const toc = packet[0];
  if (toc === undefined) return undefined; // R1
  const perFrame = frameSamples(toc >> 3);
  const n = packet.length;
  switch (toc & 0x03) {
    case 0:
      return n - 1 <= MAX_FRAME_BYTES ? perFrame : undefined; // R2
    case 1:
      // R3: two frames of equal size, so an even payload, each within R2.
      return (n - 1) % 2 === 0 && (n - 1) / 2 <= MAX_FRAME_BYTES ? 2 * perFrame : undefined;
    case 2: {
      // R4: the first frame's length fits in what follows it; the second takes the rest.
      const first = frameLength(packet, 1);
      if (!first) return undefined;
      const [length, size] = first;
      const rest = n - 1 - size - length;
      return length <= MAX_FRAME_BYTES && rest >= 0 && rest <= MAX_FRAME_BYTES ? 2 * perFrame : undefined;
    }
    default:
      return code3Samples(packet, perFrame);
  }
}

/** Code 3 (RFC 6716 §3.2.5): R5 (frame count), padding, then R6 (CBR) or R7 (VBR). */
function code3Samples(packet: Uint8Array, perFrame: number): number | undefined {
  const header = packet[1];
  if (header === undefined) return undefined;
  const count = header & 0x3f;
  const samples = count * perFrame;
  if (count === 0 || samples > MAX_PACKET_SAMPLES) return undefined; // R5
  let pos = 2;
  // Frame data left once the header, padding lengths and padding are taken away.
  let left = packet.length - 2;
  if (header & 0x40) {
    // Padding lengths: each 255 means 254 bytes and another length byte follows.
    for (;;) {
      const byte = packet[pos];
      if (byte === undefined) return undefined;
      pos += 1;
      left -= 1 + (byte === 255 ? 254 : byte);
      if (byte !== 255) break;
    }
    if (left < 0) return undefined;
  }
  if (!(header & 0x80)) {
    // R6 (CBR): the frame data splits into `count` equal frames.
    return left % count === 0 && left / count <= MAX_FRAME_BYTES ? samples : undefined;
  }
  // R7 (VBR): lengths of the first count − 1 frames, then those frames, then the last one.
  for (let i = 0; i < count - 1; i++) {
    const frame = frameLength(packet, pos);
    if (!frame) return undefined;
    const [length, size] = frame;
    if (length > MAX_FRAME_BYTES) return undefined;
    pos += size;
    left -= size + length;
    if (left < 0) return undefined;
  }
  return left <= MAX_FRAME_BYTES ? samples : undefined;
}
