/** Opus packet facts the relay needs without decoding (RFC 6716 §3.1, the TOC byte). */

/** Opus always runs its RTP clock at 48 kHz, whatever the coded bandwidth (RFC 7587 §4.1). */
export const OPUS_CLOCK_RATE = 48_000;

/** Samples at 48 kHz of one frame, by TOC config (0–31): SILK 10/20/40/60 ms, Hybrid 10/20, CELT 2.5/5/10/20. */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config % 4]!;
  if (config < 16) return [480, 960][config % 2]!;
  return [120, 240, 480, 960][config % 4]!;
}

/**
 * Duration of an Opus packet in 48 kHz samples, or `undefined` when the packet is empty or
 * malformed. Code 0 holds one frame, codes 1 and 2 two, code 3 a count in its second byte.
 */
export function opusPacketSamples(packet: Uint8Array): number | undefined {
  const toc = packet[0];
  if (toc === undefined) return undefined;
  const perFrame = frameSamples(toc >> 3);
  switch (toc & 0x03) {
    case 0:
      return perFrame;
    case 1:
    case 2:
      return 2 * perFrame;
    default: {
      const count = (packet[1] ?? 0) & 0x3f;
      const samples = count * perFrame;
      // RFC 6716 §3.2.5: a packet never exceeds 120 ms.
      return count > 0 && samples <= 120 * 48 ? samples : undefined;
    }
  }
}
