/**
 * Test tones and their measurement, for checking what a mix really contains (tests,
 * benchmarks, diagnostics): phase-continuous sine frames, and a Goertzel filter that
 * measures the amplitude of one frequency in decoded audio.
 */
import { FRAME_SAMPLES, SAMPLE_RATE } from './AudioFormat';

/** Endless 20 ms mono frames of one sine, continuous across frames. */
export class ToneGenerator {
  private phase = 0;

  constructor(
    readonly frequency: number,
    readonly amplitude: number,
  ) {}

  /** The next frame as Int16 samples (clamped to the Int16 range). */
  next(): Int16Array {
    const frame = new Int16Array(FRAME_SAMPLES);
    const step = (2 * Math.PI * this.frequency) / SAMPLE_RATE;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      frame[i] = Math.max(-32768, Math.min(32767, Math.round(this.amplitude * Math.sin(this.phase))));
      this.phase += step;
    }
    this.phase %= 2 * Math.PI;
    return frame;
  }
}

/** Amplitude (Int16 scale) of `frequency` in `samples`, Hann-windowed Goertzel. */
export function toneAmplitude(samples: ArrayLike<number>, frequency: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * frequency) / SAMPLE_RATE);
  let s1 = 0;
  let s2 = 0;
  let windowSum = 0;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1 || 1));
    windowSum += w;
    const s0 = samples[i] * w + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / windowSum;
}

/** Decoded Opus bytes (little-endian Int16) as samples. */
export function pcmFromBytes(bytes: Uint8Array): Int16Array {
  return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.byteLength & ~1)));
}
