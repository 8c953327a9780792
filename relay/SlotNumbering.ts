/**
 * A slot's numbering of the packets (or frames) of the source it forwards: the source's own
 * numbers, shifted so that the slot's stream continues (a new source starts right after the
 * last number given out, RFC 3550 §5.1), less the source's numbers skipped on the way (padding,
 * or a frame left out), so that they leave no hole the viewer would wait for, NACK and count as
 * loss. Skips are remembered by the source's number: a packet that arrives late — one the
 * relay asked the publisher to send again, or one reordered — gets the number it would have
 * had, not one that collides with a packet sent since (mediasoup's SeqManager does the same).
 * RTP sequence numbers by default (a slot's video, a mic's packets toward the mixer, less its
 * padding); VP8 picture IDs, TL0PICIDX and KEYIDX in their own spaces (Vp8PictureIds).
 */
/** Whether `a` comes after `b` in a wrapping space of `modulus` (serial number arithmetic). */
export const isNewer = (a: number, b: number, modulus: number): boolean => a !== b && (a - b + modulus) % modulus < modulus / 2;

/** Skips further back than this behind the newest number are folded into the offset (a packet that late is not coming). */
const SKIP_WINDOW = 2048;

export class SlotNumbering {
  private offset = 0;
  /** The newest source number seen since the last rebase. */
  private newestIn: number | undefined;
  /** Skipped source numbers since the last rebase, oldest first, within `skipWindow` of `newestIn`. */
  private readonly skipped: number[] = [];

  constructor(
    /** The last number of the slot's stream so far (random at first). */
    private newestOut: number,
    /** The size of the number space, a power of two (numbers wrap to 0 at it). */
    private readonly modulus = 0x10000,
    /** How far behind the newest a skip is still remembered (less than half the space). */
    private readonly skipWindow = Math.min(SKIP_WINDOW, modulus / 4),
  ) {}

  /** The newest number given out. */
  get newest(): number {
    return this.newestOut;
  }

  /** The next packet, `first`, starts a new source: it is numbered right after the last one given out. */
  rebase(first: number): void {
    this.offset = this.wrap(this.newestOut + 1 - first);
    this.newestIn = undefined;
    this.skipped.length = 0;
  }

  /** The slot's number for the source's `seq`. */
  map(seq: number): number {
    if (this.newestIn === undefined || isNewer(seq, this.newestIn, this.modulus)) this.newestIn = seq;
    const out = this.wrap(seq + this.offset - this.skippedBefore(seq));
    if (isNewer(out, this.newestOut, this.modulus)) this.newestOut = out;
    return out;
  }

  /**
   * The source's `seq` is not forwarded: the numbers after it close its gap. Only a number
   * newer than all seen can be: the ones after an older one were numbered already (it stays
   * a hole).
   */
  skip(seq: number): void {
    if (this.newestIn !== undefined && !isNewer(seq, this.newestIn, this.modulus)) return;
    this.newestIn = seq;
    this.skipped.push(seq);
    while (this.skipped.length > 0 && this.wrap(seq - this.skipped[0]!) > this.skipWindow) {
      this.skipped.shift();
      this.offset = this.wrap(this.offset - 1);
    }
  }

  /** Whether the source's `seq` was skipped (and is still remembered): a late packet of it must stay out. */
  wasSkipped(seq: number): boolean {
    return this.skipped.includes(seq);
  }

  /** How many skipped numbers come before `seq`. */
  private skippedBefore(seq: number): number {
    const count = this.skipped.length;
    if (count === 0 || isNewer(seq, this.skipped[count - 1]!, this.modulus)) return count;
    let before = 0;
    for (const skipped of this.skipped) if (isNewer(seq, skipped, this.modulus)) before += 1;
    return before;
  }

  /** `n` in the number space (a mask: the space is a power of two, and this runs per packet). */
  private wrap(n: number): number {
    return n & (this.modulus - 1);
  }
}
