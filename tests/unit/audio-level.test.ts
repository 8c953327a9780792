/** Audio levels for active-speaker detection: linear 0..1 and RFC 6464 −dBov. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_SAMPLES, FULL_SCALE } from '../../relay/audio/AudioFormat';
import { levelToDbov, levelToRfc6464, rmsLevel } from '../../relay/audio/AudioLevel';
import { ToneGenerator } from '../../relay/audio/tones';

function energy(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return sum;
}

test('silence is level 0 and RFC 6464 value 127', () => {
  assert.is(rmsLevel(0, FRAME_SAMPLES), 0);
  assert.is(levelToRfc6464(0), 127);
});

test('a full-scale square wave is level 1 (0 dBov); a full-scale sine is about −3 dBov', () => {
  assert.is(rmsLevel(FULL_SCALE * FULL_SCALE * FRAME_SAMPLES, FRAME_SAMPLES), 1);
  const sine = new ToneGenerator(1000, 32767).next();
  const level = rmsLevel(energy(sine), FRAME_SAMPLES);
  assert.ok(Math.abs(level - Math.SQRT1_2) < 0.01, `sine level ${level}`);
  assert.is(levelToRfc6464(level), 3);
});

test('a tone 40 dB below full scale reads about −43 dBov', () => {
  const tone = new ToneGenerator(440, 327.67).next();
  const dbov = levelToDbov(rmsLevel(energy(tone), FRAME_SAMPLES));
  assert.ok(Math.abs(dbov + 43) < 0.5, `${dbov} dBov`);
});

test.run();
