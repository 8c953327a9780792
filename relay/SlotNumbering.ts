/**
 * A slot's sequence numbers for the packets of the source it forwards: the source's own,
 * shifted so that the slot's stream continues (a new source starts right after the last
 * number given out, RFC 3550 §5.1), less the source's packets skipped on the way (padding,
 * which is not forwarded), so that they leave no hole the viewer would NACK and count as
 * loss. Skips are remembered by the source's number: a packet that arrives late — one the
 * relay asked the publisher to send again, or one reordered — gets the number it would have
 * had, not one that collides with a packet sent since (mediasoup's SeqManager does the same).
 * A mic's packets toward the mixer are numbered the same way, less its padding.
 */

/** Whether `a` comes after `b` in a wrapping space of `modulus` (serial number arithmetic). */
export const isNewer = (a: number, b: number, modulus: number): boolean => a !== b && (a - b + modulus) % modulus < modulus / 2;

/** Skips further back than this behind the newest packet are folded into the offset (a packet that late is not coming). */
const SKIP_WINDOW = 2048;

export class SlotNumbering {
  private offset = 0;
  /** The newest source number seen since the last rebase. */
  private newestIn: number | undefined;
  /** Skipped source numbers since the last rebase, oldest first, within `SKIP_WINDOW` of `newestIn`. */
  private readonly skipped: number[] = [];

  /** `newestOut`: the last number of the slot's stream so far (random at first). */
  constructor(private newestOut: number) {}

  /** The newest number given out. */
  get newest(): number {
    return this.newestOut;
  }

  /** The next packet, `first`, starts a new source: it is numbered right after the last one given out. */
  rebase(first: number): void {
    this.offset = (this.newestOut + 1 - first) & 0xffff;
    this.newestIn = undefined;
    this.skipped.length = 0;
  }

  /** The slot's number for the source's packet `seq`. */
  map(seq: number): number {
    if (this.newestIn === undefined || isNewer(seq, this.newestIn, 0x10000)) this.newestIn = seq;
    const out = (seq + this.offset - this.skippedBefore(seq)) & 0xffff;
    if (isNewer(out, this.newestOut, 0x10000)) this.newestOut = out;
    return out;
  }

  /**
   * The source's packet `seq` is not forwarded: the packets after it are numbered to close
   * its gap. Only a packet newer than all seen can be: the ones after an older one were
   * numbered already (it stays a hole).
   */
  skip(seq: number): void {
    if (this.newestIn !== undefined && !isNewer(seq, this.newestIn, 0x10000)) return;
    this.newestIn = seq;
    this.skipped.push(seq);
    while (this.skipped.length > 0 && ((seq - this.skipped[0]!) & 0xffff) > SKIP_WINDOW) {
      this.skipped.shift();
      this.offset = (this.offset - 1) & 0xffff;
    }
  }

  /** How many skipped packets come before `seq`. */
  private skippedBefore(seq: number): number {
    const count = this.skipped.length;
    if (count === 0 || isNewer(seq, this.skipped[count - 1]!, 0x10000)) return count;
    let before = 0;
    for (const skipped of this.skipped) if (isNewer(seq, skipped, 0x10000)) before += 1;
    return before;
  }
}
