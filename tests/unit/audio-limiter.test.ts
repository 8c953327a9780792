/** The mix limiter: loud sums get quieter, never wrapped; quiet audio is untouched. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_SAMPLES, FULL_SCALE } from '../../relay/audio/AudioFormat';
import { Limiter } from '../../relay/audio/Limiter';
import { ToneGenerator, toneAmplitude } from '../../relay/audio/tones';

const CEILING = FULL_SCALE * 0.891;

/** Sums frames of several tones into Float32 mixes, as the mixer does. */
function mixOf(tones: ToneGenerator[], frames: number): Float32Array[] {
  return Array.from({ length: frames }, () => {
    const mix = new Float32Array(FRAME_SAMPLES);
    for (const tone of tones) {
      const frame = tone.next();
      for (let i = 0; i < FRAME_SAMPLES; i++) mix[i] += frame[i];
    }
    return mix;
  });
}

test('quiet speech passes through the limiter unchanged', () => {
  const limiter = new Limiter();
  const out = new Int16Array(FRAME_SAMPLES);
  for (const mix of mixOf([new ToneGenerator(440, 6000), new ToneGenerator(700, 6000)], 20)) {
    limiter.process(mix, out);
    for (let i = 0; i < FRAME_SAMPLES; i++) assert.is(out[i], Math.round(mix[i]));
  }
});

test('three full-scale talkers summed stay under the ceiling and keep every sample sign', () => {
  const limiter = new Limiter();
  const tones = [440, 700, 1100].map((f) => new ToneGenerator(f, 32767));
  const out = new Int16Array(FRAME_SAMPLES);
  const all: number[] = [];
  let peakIn = 0;
  for (const mix of mixOf(tones, 50)) {
    limiter.process(mix, out);
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      peakIn = Math.max(peakIn, Math.abs(mix[i]));
      assert.ok(Math.abs(out[i]) < CEILING, `sample ${out[i]} over the ceiling`);
      // Wrap-around would turn a big positive sum negative: signs must agree.
      if (Math.abs(mix[i]) >= 1) assert.is(Math.sign(out[i]), Math.sign(mix[i]));
      all.push(out[i]);
    }
  }
  assert.ok(peakIn > 2.5 * 32767, 'the input really overloads');
  const steady = all.slice(10 * FRAME_SAMPLES);
  for (const f of [440, 700, 1100]) {
    const amplitude = toneAmplitude(steady, f);
    assert.ok(amplitude > 7000, `${f} Hz kept at ${amplitude.toFixed(0)}`);
  }
});

test('gain recovers after a loud burst', () => {
  const limiter = new Limiter();
  const out = new Int16Array(FRAME_SAMPLES);
  for (const mix of mixOf([new ToneGenerator(440, 32767), new ToneGenerator(700, 32767)], 10)) {
    limiter.process(mix, out);
  }
  const quiet = mixOf([new ToneGenerator(440, 4000)], 50);
  for (const mix of quiet) limiter.process(mix, out);
  const last = quiet[quiet.length - 1];
  for (let i = 0; i < FRAME_SAMPLES; i++) assert.ok(Math.abs(out[i] - last[i]) <= 1);
});

test.run();
