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
 * IDs after it close. Each counter is a `SlotNumbering` in its own space, as the slot's
 * sequence numbers are in theirs.
 */
import { SlotNumbering } from './SlotNumbering';

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

/** A frame left out is remembered this many picture IDs back (at 30 fps, 8 s: a packet that late is not coming). */
const DROP_WINDOW = 256;

/** One of the descriptor's counters (picture ID, TL0PICIDX or KEYIDX), continued across sources. */
class ContinuedCounter {
  /** Made on the first value ever: the first source keeps its own values. */
  private numbering: SlotNumbering | undefined;
  /** The next source is to be rebased on its first packet carrying the field. */
  private pending = true;

  constructor(
    private readonly space: number,
    private readonly dropWindow?: number,
  ) {}

  rebase(): void {
    this.pending = true;
  }

  /** A value of the current source, as it is numbered: what is added to it (mod `space`). */
  see(value: number): number {
    return (this.start(value).map(value) - value + this.space) % this.space;
  }

  /** A value of the current source that is not forwarded (a frame left out): the next values close its gap. */
  drop(value: number): void {
    this.start(value).skip(value);
  }

  /** Whether `value` of the current source was dropped. */
  wasDropped(value: number): boolean {
    return !this.pending && (this.numbering?.wasSkipped(value) ?? false);
  }

  /** The numbering, rebased on a new source's first value: right after the newest given out. */
  private start(value: number): SlotNumbering {
    this.numbering ??= new SlotNumbering((value - 1 + this.space) % this.space, this.space, this.dropWindow);
    if (this.pending) {
      this.pending = false;
      this.numbering.rebase(value);
    }
    return this.numbering;
  }
}

export class Vp8PictureIds {
  private readonly pictureId = new ContinuedCounter(PICTURE_ID_SPACE, DROP_WINDOW);
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
    if (!readFields(payload, 0)) return 0;
    const pictureShift = fields.pictureIdAt >= 0 ? this.pictureId.see(readPictureId(payload, fields.pictureIdAt, fields.pictureIdBits)) : 0;
    const tl0Shift = fields.tl0At >= 0 ? this.tl0.see(payload[fields.tl0At]!) : 0;
    const keyIdxShift = fields.keyIdxAt >= 0 ? this.keyIdx.see(payload[fields.keyIdxAt]! & 0x1f) : 0;
    return pack(pictureShift, tl0Shift, keyIdxShift);
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
