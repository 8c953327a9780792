/**
 * A slot's VP8 picture IDs, TL0PICIDX and KEYIDX (RFC 7741 §4.2) across a change of source,
 * continued the way its sequence numbers and timestamps are (TrackSlotOutput). Each
 * simulcast layer, and each publisher, counts these on its own; a viewer's slot that moves
 * from one to another would otherwise jump back or ahead in them. The receiver keys its
 * decoding state on them: libwebrtc's VP8 reference finder keeps what it learnt of recent
 * TL0PICIDX values, and a layer whose numbers run into the previous layer's takes its
 * frames for ones already seen and drops them — the picture froze after the keyframe, with
 * no packet lost, until the viewer asked for another keyframe, for seconds at a time
 * (weak-viewer, after the way back to the top layers). mediasoup's VP8 encoding context and
 * LiveKit's VP8 munger rewrite the same fields for the same reason.
 *
 * The shift is fixed on a source's first packet that carries each field and kept until the
 * next source: every packet of that source (a late or retransmitted one included) gets the
 * same. `map` runs when a packet is numbered, `write` when it is written out (the pacer may
 * hold it in between, and a NACK may ask for it again after a change of source), so the
 * shift travels with the packet as one number. A frame left out (`drop`) is a gap the picture
 * IDs after it close.
 */
import { isNewer } from './SlotNumbering';

const PICTURE_ID_SPACE = 0x8000;
const TL0_SPACE = 0x100;
const KEY_IDX_SPACE = 0x20;

/** Where a VP8 payload descriptor keeps the fields (byte offsets, -1: absent; `pictureIdBits` 7 or 15). */
interface Fields {
  pictureIdAt: number;
  pictureIdBits: number;
  tl0At: number;
  keyIdxAt: number;
}

/** One reusable result: the per-packet path allocates nothing. */
const fields: Fields = { pictureIdAt: -1, pictureIdBits: 0, tl0At: -1, keyIdxAt: -1 };

/** Finds the descriptor's fields in `payload` from `at` (into the shared `fields`); false when it has none or is cut off. */
function readFields(payload: Uint8Array, at: number): boolean {
  fields.pictureIdAt = -1;
  fields.tl0At = -1;
  fields.keyIdxAt = -1;
  const first = payload[at];
  if (first === undefined || (first & 0x80) === 0) return false;
  const ext = payload[at + 1];
  if (ext === undefined) return false;
  let offset = at + 2;
  if (ext & 0x80) {
    const picture = payload[offset];
    if (picture === undefined) return false;
    fields.pictureIdAt = offset;
    fields.pictureIdBits = picture & 0x80 ? 15 : 7;
    offset += picture & 0x80 ? 2 : 1;
  }
  if (ext & 0x40) fields.tl0At = offset++;
  // TID/Y/KEYIDX: present with T or K; KEYIDX means something only with K.
  if (ext & 0x30) {
    if (ext & 0x10) fields.keyIdxAt = offset;
    offset += 1;
  }
  return offset <= payload.length;
}

function readPictureId(payload: Uint8Array, at: number, bits: number): number {
  return bits === 15 ? ((payload[at]! & 0x7f) << 8) | payload[at + 1]! : payload[at]! & 0x7f;
}

/** The shifts of one source, packed into one number (picture ID: bits 0–14, TL0PICIDX: 15–22, KEYIDX: 23–27). */
const pack = (pictureId: number, tl0: number, keyIdx: number): number => pictureId | (tl0 << 15) | (keyIdx << 23);

/** Dropped picture IDs remembered one by one; older ones are folded into the shift (a packet that late is not coming). */
const MAX_DROPPED = 64;

/** One of the descriptor's counters (picture ID, TL0PICIDX or KEYIDX), continued across sources. */
class ContinuedCounter {
  /** What is added to the current source's values (mod `space`), before the drops. */
  shift = 0;
  /** The newest value given out (-1: none yet). */
  private newest = -1;
  /** The next source's shift is still to be fixed (on its first packet carrying the field). */
  private pending = false;
  /** Values of the current source left out (frames not forwarded), oldest first: the values after each close its gap. */
  private readonly dropped: number[] = [];

  constructor(private readonly space: number) {}

  rebase(): void {
    this.pending = true;
  }

  /** What is added to the current source's `value` (mod `space`): the shift, less the values dropped before it. */
  offsetOf(value: number): number {
    const count = this.dropped.length;
    // Most packets come after every drop: no walk.
    if (count === 0 || isNewer(value, this.dropped[count - 1]!, this.space)) return (this.shift - count + this.space) % this.space;
    let before = 0;
    for (const dropped of this.dropped) if (isNewer(value, dropped, this.space)) before += 1;
    return (this.shift - before + this.space) % this.space;
  }

  /** Whether `value` of the current source was dropped. */
  wasDropped(value: number): boolean {
    return this.dropped.includes(value);
  }

  /** A value of the current source, as it is numbered. */
  see(value: number): void {
    this.fix(value);
    const out = (value + this.offsetOf(value)) % this.space;
    if (this.newest < 0 || isNewer(out, this.newest, this.space)) this.newest = out;
  }

  /** A value of the current source that is not forwarded (a frame left out): the next values close its gap. */
  drop(value: number): void {
    this.fix(value);
    const last = this.dropped.at(-1);
    if (last !== undefined && !isNewer(value, last, this.space)) return;
    this.dropped.push(value);
    if (this.dropped.length > MAX_DROPPED) {
      this.dropped.shift();
      this.shift = (this.shift - 1 + this.space) % this.space;
    }
  }

  /** Fixes a new source's shift on its first value: right after the newest given out. */
  private fix(value: number): void {
    if (!this.pending) return;
    this.pending = false;
    this.dropped.length = 0;
    this.shift = this.newest < 0 ? 0 : (this.newest + 1 - value + this.space) % this.space;
  }
}

export class Vp8PictureIds {
  private readonly pictureId = new ContinuedCounter(PICTURE_ID_SPACE);
  private readonly tl0 = new ContinuedCounter(TL0_SPACE);
  private readonly keyIdx = new ContinuedCounter(KEY_IDX_SPACE);

  /** The next packet starts a new source: its fields continue right after the newest given out. */
  rebase(): void {
    this.pictureId.rebase();
    this.tl0.rebase();
    this.keyIdx.rebase();
  }

  /** Reads a packet's fields as it is numbered; returns the shift to `write` it with. */
  map(payload: Uint8Array): number {
    let pictureShift = this.pictureId.shift;
    if (readFields(payload, 0)) {
      if (fields.pictureIdAt >= 0) {
        const id = readPictureId(payload, fields.pictureIdAt, fields.pictureIdBits);
        this.pictureId.see(id);
        pictureShift = this.pictureId.offsetOf(id);
      }
      if (fields.tl0At >= 0) this.tl0.see(payload[fields.tl0At]!);
      if (fields.keyIdxAt >= 0) this.keyIdx.see(payload[fields.keyIdxAt]! & 0x1f);
    }
    return pack(pictureShift, this.tl0.shift, this.keyIdx.shift);
  }

  /** Whether the frame of this packet was left out (`drop`): a late packet of it must not go out with the ID of the frame after. */
  wasDropped(payload: Uint8Array): boolean {
    return readFields(payload, 0) && fields.pictureIdAt >= 0 && this.pictureId.wasDropped(readPictureId(payload, fields.pictureIdAt, fields.pictureIdBits));
  }

  /**
   * A frame left out (a higher temporal layer, see TemporalThinning): the picture IDs after it
   * close its gap, as mediasoup's VP8 encoding context does — libwebrtc's reference finder
   * waits for a missing picture ID as a frame not yet received. Its TL0PICIDX is the base
   * layer's, which is never left out.
   */
  drop(payload: Uint8Array): void {
    if (readFields(payload, 0) && fields.pictureIdAt >= 0) this.pictureId.drop(readPictureId(payload, fields.pictureIdAt, fields.pictureIdBits));
  }

  /** Rewrites the fields of the VP8 payload written at `at` in `out` by `shift` (from `map`). */
  static write(out: Buffer, at: number, shift: number): void {
    if (shift === 0 || !readFields(out, at)) return;
    if (fields.pictureIdAt >= 0) {
      const space = fields.pictureIdBits === 15 ? PICTURE_ID_SPACE : 0x80;
      const id = (readPictureId(out, fields.pictureIdAt, fields.pictureIdBits) + (shift & 0x7fff)) % space;
      if (fields.pictureIdBits === 15) {
        out[fields.pictureIdAt] = 0x80 | (id >> 8);
        out[fields.pictureIdAt + 1] = id & 0xff;
      } else {
        out[fields.pictureIdAt] = id;
      }
    }
    if (fields.tl0At >= 0) out[fields.tl0At] = (out[fields.tl0At]! + ((shift >> 15) & 0xff)) & 0xff;
    if (fields.keyIdxAt >= 0) {
      const byte = out[fields.keyIdxAt]!;
      out[fields.keyIdxAt] = (byte & 0xe0) | (((byte & 0x1f) + ((shift >> 23) & 0x1f)) & 0x1f);
    }
  }
}
