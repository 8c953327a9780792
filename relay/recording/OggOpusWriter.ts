/**
 * Ogg Opus (RFC 7845 in Ogg, RFC 3533) for a stream of 20 ms mono Opus packets: the
 * OpusHead and OpusTags pages, then audio pages of up to a second each, the last one
 * flagged end-of-stream. Written here (about a hundred lines) rather than taken from npm:
 * the Ogg muxers there are demuxers, unmaintained, or pull in a whole media framework for
 * what is a page header and a CRC.
 */

/** Samples (at 48 kHz) the decoder drops at the start: libopus's encoder lookahead. */
const PRE_SKIP = 312;
const SAMPLES_PER_PACKET = 960;
/** Packets per page: one second of audio; a page holds at most 255 lacing values. */
const PACKETS_PER_PAGE = 50;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** The Ogg CRC-32 (polynomial 0x04C11DB7, no reflection, initial 0). */
export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  return crc;
}

/** Turns Opus packets into Ogg pages, as Buffers to append to a file in order. */
export class OggOpusWriter {
  private readonly serial: number;
  private sequence = 0;
  private granule = 0;
  private pending: Uint8Array[] = [];
  private pendingSegments = 0;

  constructor(serial = (Math.random() * 2 ** 32) >>> 0) {
    this.serial = serial;
  }

  /** The two header pages (OpusHead, OpusTags). */
  headers(vendor = 'MeetMesh'): Buffer {
    const head = Buffer.alloc(19);
    head.write('OpusHead', 0, 'ascii');
    head[8] = 1; // version
    head[9] = 1; // channels: the mix is mono
    head.writeUInt16LE(PRE_SKIP, 10);
    head.writeUInt32LE(48_000, 12); // input sample rate (informational)
    head.writeInt16LE(0, 16); // output gain
    head[18] = 0; // channel mapping family 0
    const vendorBytes = Buffer.from(vendor, 'utf8');
    const tags = Buffer.alloc(8 + 4 + vendorBytes.length + 4);
    tags.write('OpusTags', 0, 'ascii');
    tags.writeUInt32LE(vendorBytes.length, 8);
    vendorBytes.copy(tags, 12);
    tags.writeUInt32LE(0, 12 + vendorBytes.length); // no user comments
    return Buffer.concat([this.page([head], 0x02, 0), this.page([tags], 0, 0)]);
  }

  /** Adds one 20 ms packet; returns the pages completed by it (often an empty Buffer). */
  packet(opus: Uint8Array): Buffer {
    const segments = Math.floor(opus.length / 255) + 1;
    // A page's segment table holds 255 entries: large packets close a page early.
    const full = this.pendingSegments + segments > 255 ? this.flush(0) : undefined;
    this.pending.push(opus);
    this.pendingSegments += segments;
    this.granule += SAMPLES_PER_PACKET;
    const page = this.pending.length >= PACKETS_PER_PAGE ? this.flush(0) : undefined;
    return Buffer.concat([full ?? Buffer.alloc(0), page ?? Buffer.alloc(0)]);
  }

  /** The last page, flagged end-of-stream (may carry no packet). */
  end(): Buffer {
    return this.flush(0x04);
  }

  private flush(flags: number): Buffer {
    const packets = this.pending;
    this.pending = [];
    this.pendingSegments = 0;
    return this.page(packets, flags, this.granule + PRE_SKIP);
  }

  private page(packets: Uint8Array[], flags: number, granule: number): Buffer {
    const lacing: number[] = [];
    for (const p of packets) {
      // A packet of n bytes is n/255 segments of 255 and one shorter (possibly 0) segment.
      for (let left = p.length; ; left -= 255) {
        lacing.push(Math.min(left, 255));
        if (left < 255) break;
      }
    }
    const header = Buffer.alloc(27 + lacing.length);
    header.write('OggS', 0, 'ascii');
    header[4] = 0; // version
    header[5] = flags;
    header.writeBigUInt64LE(BigInt(granule), 6);
    header.writeUInt32LE(this.serial, 14);
    header.writeUInt32LE(this.sequence++, 18);
    header.writeUInt32LE(0, 22); // CRC, filled below
    header[26] = lacing.length;
    for (let i = 0; i < lacing.length; i++) header[27 + i] = lacing[i]!;
    const page = Buffer.concat([header, ...packets]);
    page.writeUInt32LE(oggCrc(page), 22);
    return page;
  }
}
