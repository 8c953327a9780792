/** One participant's decode path: Opus PLC for losses, and latency shed after a burst. */
import { Encoder } from '@evan/opus';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_SAMPLES } from '../../relay/audio/AudioFormat';
import { rmsLevel } from '../../relay/audio/AudioLevel';
import { ParticipantInput } from '../../relay/audio/ParticipantInput';
import { ToneGenerator } from '../../relay/audio/tones';

/** `count` consecutive Opus packets of a tone, as a browser microphone would send. */
function packets(amplitude: number, count: number): Uint8Array[] {
  const encoder = new Encoder({ channels: 1, sample_rate: 48000, application: 'voip' });
  const tone = new ToneGenerator(440, amplitude);
  return Array.from({ length: count }, () => encoder.encode(tone.next()));
}

const level = (input: ParticipantInput) => rmsLevel(input.frameEnergy, FRAME_SAMPLES);

test('a lost packet is filled by Opus PLC continuing the voice, not by silence', () => {
  const input = new ParticipantInput();
  const stream = packets(8000, 12);
  const levels: number[] = [];
  for (let seq = 0; seq < stream.length; seq++) {
    if (seq !== 6) input.push(seq, stream[seq]);
    input.pull();
    levels.push(level(input));
  }
  assert.is(input.stats.concealed, 1);
  // Slot 6 plays at tick 7 (one frame of pre-buffering).
  const tone = 8000 / Math.SQRT2 / 32768;
  assert.ok(levels[7] > 0.5 * tone, `concealed frame at ${levels[7]}, tone at ${tone}`);
});

test('latency left by a burst of packets is shed during quiet moments', () => {
  const input = new ParticipantInput();
  // Quiet background (−64 dBov) from a sender without DTX: a packet every 20 ms.
  const stream = packets(20, 200);
  for (let seq = 0; seq < 5; seq++) input.push(seq, stream[seq]); // a burst after a stall
  for (let seq = 5; seq < 200; seq++) {
    input.push(seq, stream[seq]);
    input.pull();
  }
  // Five queued after each pull at first, down to the buffer's depth by skipping three.
  assert.ok(input.jitter.size <= input.jitter.depth, `${input.jitter.size} packets still queued`);
  assert.is(input.stats.skipped, 3);
  assert.is(input.jitter.stats.late, 0, 'nothing dropped undecoded');
});

test('speech is not skipped to shed latency while quiet moments may still come (3 s)', () => {
  const input = new ParticipantInput();
  const stream = packets(8000, 150);
  for (let seq = 0; seq < 5; seq++) input.push(seq, stream[seq]);
  for (let seq = 5; seq < 150; seq++) {
    input.push(seq, stream[seq]);
    input.pull();
    assert.ok(input.frameIsSpeech);
  }
  assert.is(input.stats.skipped, 0);
});

test('a talker who never pauses sheds the surplus anyway: one frame a second after 3 s, blended, never a click', () => {
  const input = new ParticipantInput();
  const stream = packets(8000, 350);
  for (let seq = 0; seq < 5; seq++) input.push(seq, stream[seq]); // a burst after a stall
  const out: number[] = [];
  for (let seq = 5; seq < 350; seq++) {
    input.push(seq, stream[seq]);
    input.pull();
    assert.ok(input.frameIsSpeech);
    out.push(...input.frame);
  }
  // Five queued at first, down to the buffer's depth: three frames shed, the first after 3 s, a second apart.
  assert.is(input.stats.skipped, 3);
  assert.ok(input.jitter.size <= input.jitter.depth, `${input.jitter.size} packets still queued`);
  // A 440 Hz tone at 8000 moves at most ≈ 460 per sample; a frame cut without blending jumps by up to twice the amplitude.
  let steepest = 0;
  for (let i = 1; i < out.length; i++) steepest = Math.max(steepest, Math.abs(out[i]! - out[i - 1]!));
  assert.ok(steepest < 1500, `a step of ${steepest} between samples`);
});

test('a muted input yields silence and forgets queued audio when unmuted', () => {
  const input = new ParticipantInput();
  const stream = packets(8000, 20);
  for (let seq = 0; seq < 4; seq++) input.push(seq, stream[seq]);
  input.setMuted(true);
  assert.is(input.push(4, stream[4]), false);
  input.pull();
  assert.is(input.frameEnergy, 0);
  input.setMuted(false);
  assert.is(input.jitter.size, 0, 'stale packets dropped');
  for (let seq = 5; seq < 10; seq++) {
    input.push(seq, stream[seq]);
    input.pull();
  }
  assert.ok(input.frameIsSpeech);
});

test.run();
