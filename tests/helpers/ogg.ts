/** Reads an Ogg Opus file back (checking every page's CRC) and decodes it, to assert on what was recorded. */
import { Decoder } from '@evan/opus';
import { oggCrc } from '../../relay/recording/OggOpusWriter';
import { pcmFromBytes } from '../../relay/audio/tones';

export interface OggPage { flags: number; granule: bigint; sequence: number; packets: Uint8Array[] }

/** Every page, in order; throws on a bad capture pattern or CRC. Packets are complete (none spans pages here). */
export function readOggPages(file: Uint8Array): OggPage[] {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const pages: OggPage[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.toString('ascii', at, at + 4) !== 'OggS') throw new Error(`no page at byte ${at}`);
    const count = buf[at + 26]!;
    const lacing = [...buf.subarray(at + 27, at + 27 + count)];
    const bodyLength = lacing.reduce((a, b) => a + b, 0);
    const page = Buffer.from(buf.subarray(at, at + 27 + count + bodyLength));
    const crc = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    if (oggCrc(page) !== crc) throw new Error(`bad CRC on the page at byte ${at}`);
    const packets: Uint8Array[] = [];
    let offset = 27 + count;
    let size = 0;
    for (const l of lacing) {
      size += l;
      if (l < 255) {
        packets.push(page.subarray(offset, offset + size));
        offset += size;
        size = 0;
      }
    }
    pages.push({ flags: page[5]!, granule: page.readBigUInt64LE(6), sequence: page.readUInt32LE(18), packets });
    at += page.length;
  }
  return pages;
}

/** The audio of an Ogg Opus file as 48 kHz mono samples (headers checked, pre-skip dropped). */
export function decodeOggOpus(file: Uint8Array): Int16Array {
  const [head, tags, ...audio] = readOggPages(file);
  const headPacket = Buffer.from(head?.packets[0] ?? []);
  if (headPacket.toString('ascii', 0, 8) !== 'OpusHead') throw new Error('no OpusHead');
  if (Buffer.from(tags?.packets[0] ?? []).toString('ascii', 0, 8) !== 'OpusTags') throw new Error('no OpusTags');
  const preSkip = headPacket.readUInt16LE(10);
  const decoder = new Decoder({ channels: 1, sample_rate: 48_000 });
  const chunks = audio.flatMap((p) => p.packets).map((packet) => pcmFromBytes(decoder.decode(packet)));
  const all = new Int16Array(chunks.reduce((a, c) => a + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return all.subarray(preSkip);
}
