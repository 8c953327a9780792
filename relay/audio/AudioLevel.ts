/**
 * Audio levels for active-speaker detection: RMS relative to full scale, as a linear 0..1
 * value (what browsers report as `audioLevel`) and as RFC 6464's 0..127 "−dBov" number.
 */
import { FULL_SCALE } from './AudioFormat';

/** Quietest level RFC 6464 can express; anything below is silence. */
const MIN_DBOV = -127;

/** Linear level 0..1 from a sum of squared Int16-scale samples (1 = full-scale square wave). */
export function rmsLevel(sumOfSquares: number, sampleCount: number): number {
  if (sampleCount <= 0 || sumOfSquares <= 0) return 0;
  return Math.min(1, Math.sqrt(sumOfSquares / sampleCount) / FULL_SCALE);
}

/** Level in dBov (0 = overload point, −127 = silence floor). */
export function levelToDbov(level: number): number {
  if (level <= 0) return MIN_DBOV;
  return Math.max(MIN_DBOV, Math.min(0, 20 * Math.log10(level)));
}

/** The RFC 6464 header value (0 = loudest .. 127 = silence) for a linear level. */
export function levelToRfc6464(level: number): number {
  return Math.round(-levelToDbov(level));
}
