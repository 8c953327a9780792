/**
 * A look-ahead-free peak limiter with a soft knee, turning a Float32 mix (Int16 scale, any
 * magnitude) into Int16 samples without wrap-around. The envelope follows peaks at once
 * (instant attack) and lets go slowly (release), and the gain curve bends smoothly towards
 * the ceiling above the knee, so |out| < ceiling always and the sign of every sample is
 * kept: three shouting talkers get quieter, never turned into a buzz of flipped samples.
 */
import { FULL_SCALE, SAMPLE_RATE } from './AudioFormat';

/** Limiter tuning. */
export interface LimiterOptions {
  /** Output never exceeds this (Int16 scale); −1 dBFS leaves room for codec overshoot. */
  ceiling?: number;
  /** Envelope level where gain reduction starts bending in (Int16 scale). */
  knee?: number;
  /** Time for the gain to recover by 1/e after a peak. */
  releaseMs?: number;
}

const DEFAULT_CEILING = FULL_SCALE * 0.891; // −1 dBFS
const DEFAULT_KNEE = FULL_SCALE * 0.5; // −6 dBFS: ordinary speech passes untouched
const DEFAULT_RELEASE_MS = 80;

/** Soft-knee peak limiter with per-stream state (one per encoded mix). */
export class Limiter {
  private readonly ceiling: number;
  private readonly knee: number;
  private readonly release: number;
  private envelope = 0;

  constructor(options: LimiterOptions = {}) {
    this.ceiling = Math.min(options.ceiling ?? DEFAULT_CEILING, FULL_SCALE - 1);
    this.knee = Math.min(options.knee ?? DEFAULT_KNEE, this.ceiling * 0.99);
    this.release = Math.exp(-1000 / ((options.releaseMs ?? DEFAULT_RELEASE_MS) * SAMPLE_RATE));
  }

  /** Writes `input` limited into `output` (same length). */
  process(input: Float32Array, output: Int16Array): void {
    const { knee, release } = this;
    const range = this.ceiling - knee;
    let env = this.envelope;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      const a = x < 0 ? -x : x;
      env = a > env ? a : env * release;
      let y = x;
      if (env > knee) {
        // Output level knee + range·(1 − e^(−over/range)): slope 1 at the knee (no corner),
        // approaching the ceiling but never reaching it; |x| ≤ env keeps |y| below it too.
        const limited = knee + range * (1 - Math.exp(-(env - knee) / range));
        y = x * (limited / env);
      }
      // Int16Array stores modulo 2^16; round and clamp explicitly so nothing can ever wrap.
      const s = Math.round(y);
      output[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
    }
    this.envelope = env;
  }

  /** Forgets the envelope, e.g. when the stream is handed to another listener. */
  reset(): void {
    this.envelope = 0;
  }
}
