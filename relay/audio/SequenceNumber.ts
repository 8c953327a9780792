/**
 * RTP sequence-number arithmetic (RFC 3550 §A.1, RFC 1982 serial numbers): 16-bit values
 * that wrap, compared by the shortest signed distance so 0 comes right after 65535.
 */

/** Mask for 16-bit RTP sequence numbers. */
export const SEQ_MASK = 0xffff;

/** Signed distance `a - b` in the range −32768..32767, wrap-around aware. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & SEQ_MASK) << 16) >> 16;
}

/** The sequence number `n` steps after `seq` (n may be negative). */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) & SEQ_MASK;
}
