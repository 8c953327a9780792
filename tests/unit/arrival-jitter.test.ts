/**
 * The relay's jitter buffer holds a talkspurt only as long as the talker's measured arrival
 * jitter needs: on a steady path a packet plays at the first tick after it arrives; on a
 * jittery one the talkspurt waits so that its later packets are still on time.
 */
import { Encoder } from '@evan/opus';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ArrivalJitter } from '../../relay/audio/ArrivalJitter';
import { ParticipantInput } from '../../relay/audio/ParticipantInput';
import { ToneGenerator } from '../../relay/audio/tones';
import { prng } from '../helpers/prng';

const FRAME_MS = 20;

/** `count` consecutive Opus packets of a tone. */
function packets(count: number): Uint8Array[] {
  const encoder = new Encoder({ channels: 1, sample_rate: 48000, application: 'voip' });
  const tone = new ToneGenerator(440, 8000);
  return Array.from({ length: count }, () => encoder.encode(tone.next()));
}

/**
 * Talkspurts of 1 s separated by 1 s of DTX silence, sent every 20 ms, each packet delayed
 * by `delay()`; the mixer ticks every 20 ms, 7 ms after the send phase. Returns the input
 * after `seconds` of it.
 */
function simulate(seconds: number, delay: () => number): ParticipantInput {
  const input = new ParticipantInput();
  const stream = packets(50);
  const arrivals: Array<{ at: number; seq: number; ts: number; payload: Uint8Array }> = [];
  let seq = 0;
  for (let frame = 0; frame < (seconds * 1000) / FRAME_MS; frame++) {
    const talking = Math.floor(frame / 50) % 2 === 0;
    if (!talking) continue;
    arrivals.push({ at: frame * FRAME_MS + delay(), seq: seq & 0xffff, ts: (frame * 960) >>> 0, payload: stream[frame % 50]! });
    seq += 1;
  }
  arrivals.sort((a, b) => a.at - b.at);
  let next = 0;
  for (let tick = 0; tick * FRAME_MS < seconds * 1000 + 200; tick++) {
    const now = tick * FRAME_MS + 7;
    while (next < arrivals.length && arrivals[next]!.at <= now) {
      const a = arrivals[next++]!;
      input.push(a.seq, a.payload, a.ts, a.at);
    }
    input.pull(now);
  }
  return input;
}

test('a steady talker is mixed at the first tick after its packet arrives', () => {
  const input = simulate(10, () => 5);
  // Arrival at 20k + 5, tick at 20k + 7: 2 ms in the buffer, every packet on time.
  assert.ok(input.heldMs < 3, `held ${input.heldMs} ms`);
  assert.is(input.jitter.stats.late, 0);
  // Each talkspurt's end is concealed for 3 slots (the talker may only be late), nothing else.
  assert.is(input.stats.concealed, 3 * 5);
});

test('a jittery talker is held for its jitter, so its late packets are still on time', () => {
  const random = prng(19);
  const input = simulate(20, () => 5 + random() * 25);
  assert.ok(input.arrivalSpreadMs > 8, `spread ${input.arrivalSpreadMs} ms`);
  assert.ok(input.heldMs > 8 && input.heldMs <= 40 + 20, `held ${input.heldMs} ms`);
  const played = input.jitter.stats.played;
  const concealedMidSpurt = input.stats.concealed - 3 * 10;
  assert.ok(input.jitter.stats.late + concealedMidSpurt <= 0.02 * played, `${input.jitter.stats.late} late, ${concealedMidSpurt} concealed mid-talkspurt, of ${played}`);
});

test('a talker who never pauses (no DTX) sheds the wait it started with, in its quiet frames, without losing a packet', () => {
  // Tone bursts (200 ms of every second) with encoded silence between, a packet every 20 ms:
  // one talkspurt for the whole run, started before any jitter was known (held the most).
  const encoder = new Encoder({ channels: 1, sample_rate: 48000, application: 'voip' });
  const tone = new ToneGenerator(440, 8000);
  const quiet = new Int16Array(960);
  const input = new ParticipantInput();
  const heldAt: number[] = [];
  for (let tick = 0; tick < 500; tick++) {
    const now = tick * FRAME_MS + 7;
    const pcm = tick % 50 < 10 ? tone.next() : quiet;
    input.push(tick, encoder.encode(pcm), tick * 960, tick * FRAME_MS + 5);
    input.pull(now);
    if (tick === 20 || tick === 499) heldAt.push(input.heldMs);
  }
  assert.ok(heldAt[0]! > 20, `held ${heldAt[0]} ms at first (nothing known yet)`);
  assert.ok(heldAt[1]! < 10, `held ${heldAt[1]} ms after 10 s`);
  assert.is(input.jitter.stats.late, 0);
  assert.is(input.stats.concealed, 0);
});

test('until a second of arrivals is known, a talkspurt is held the most', () => {
  const jitter = new ArrivalJitter(40);
  assert.is(jitter.holdFor(jitter.record(0, 100)), 40);
  for (let i = 1; i < 60; i++) jitter.record(i * 960, 100 + i * 20);
  assert.is(jitter.holdFor(jitter.record(60 * 960, 100 + 60 * 20)), 0);
});

test.run();
