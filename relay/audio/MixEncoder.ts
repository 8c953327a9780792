/**
 * One outgoing mix stream: limiter, then an Opus encoder that keeps its own state (Opus
 * frames depend on the previous ones, so a stream must stay on one encoder to decode
 * cleanly). A talker owns one; all silent listeners share one.
 */
import { Encoder } from '@evan/opus';
import { FRAME_SAMPLES, SAMPLE_RATE } from './AudioFormat';
import { COMPLEXITY_STEPS, type Complexity } from './ComplexityGovernor';
import { Limiter } from './Limiter';

/** 32 kbit/s mono is what Chrome sends for voice; plenty for a mix of a few talkers. */
const MIX_BITRATE = 32_000;
/**
 * Chosen for delay: CELT only ('restricted_lowdelay') looks 2.5 ms ahead where 'voip'
 * (SILK and hybrid modes) looks 6.5 ms ahead; at 32 kbit/s CELT carries a voice mix at full
 * band. Frames stay 20 ms: browsers' packets bring 20 ms at once, so shorter mix frames
 * would let no sample leave sooner, and would double every encode and packet (half the
 * mixer's capacity, bench/mixer.ts).
 */
const MIX_APPLICATION = 'restricted_lowdelay';

/** Limits and Opus-encodes 20 ms mono mixes for one receiver (or one group of receivers). */
export class MixEncoder {
  private readonly encoder: Encoder;
  private readonly limiter = new Limiter();
  private readonly pcm = new Int16Array(FRAME_SAMPLES);
  private complexity: Complexity = COMPLEXITY_STEPS[0];

  constructor() {
    this.encoder = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE, application: MIX_APPLICATION });
    this.encoder.bitrate = MIX_BITRATE;
    this.encoder.complexity = this.complexity;
  }

  /** Encodes one frame of mix (Int16 scale, any magnitude) into a fresh Opus packet, at `complexity` (default the best). */
  encode(mix: Float32Array, complexity: Complexity = COMPLEXITY_STEPS[0]): Uint8Array {
    if (complexity !== this.complexity) {
      this.encoder.complexity = complexity;
      this.complexity = complexity;
    }
    this.limiter.process(mix, this.pcm);
    return this.encoder.encode(this.pcm);
  }

  /** Clears codec and limiter state so the encoder can serve a new receiver. */
  reset(): void {
    this.encoder.reset();
    this.limiter.reset();
  }
}
