/** Mixers' ticks spread over the 20 ms period: phases handed out in the widest gap, clocks started at them. No timers awaited. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AudioMixer } from '../../relay/audio/AudioMixer';
import { MixPhases } from '../../relay/audio/MixPhases';
import { TickClock } from '../../relay/audio/TickClock';

test('each new phase goes in the middle of the widest gap, so the ticks spread evenly', () => {
  const phases = new MixPhases(0, 20);
  assert.equal([phases.take(), phases.take(), phases.take(), phases.take()], [0, 10, 5, 15]);
  assert.equal([phases.take(), phases.take()], [2.5, 7.5]);
  assert.equal(phases.phases, [0, 2.5, 5, 7.5, 10, 15]);
});

test('a phase given back is taken again by the next mixer; the others never move', () => {
  const phases = new MixPhases(0, 20);
  for (let i = 0; i < 4; i++) phases.take(); // 0, 10, 5, 15
  phases.release(10);
  phases.release(10); // no-op: already given back
  assert.equal(phases.phases, [0, 5, 15]);
  assert.is(phases.take(), 10);
  phases.release(0);
  assert.is(phases.take(), 0, 'the gap that wraps around the end of the period');
});

test('a clock started at a phase first ticks at the next time that far into the period', () => {
  let now = 1003;
  const clock = new TickClock(20, () => {}, { now: () => now });
  clock.start({ epoch: 100, phaseMs: 5 });
  assert.is(clock.nextDeadline, 1005, '100 + 5 + 45·20');
  clock.stop();
  now = 1005;
  clock.start({ epoch: 100, phaseMs: 5 });
  assert.is(clock.nextDeadline, 1025, 'exactly on the phase: one period from now, as an unphased start');
  clock.stop();
  now = 50;
  clock.start({ epoch: 100, phaseMs: 5 });
  assert.is(clock.nextDeadline, 65, 'before the epoch too');
  clock.stop();
  clock.start();
  assert.is(clock.nextDeadline, 70, 'no phase: one period from now');
  clock.stop();
});

test('mixers take phases apart from each other when started, and give them back when closed', () => {
  const phases = new MixPhases(0, 20);
  const a = new AudioMixer({ phases });
  const b = new AudioMixer({ phases });
  a.start();
  a.start(); // a second start takes no second phase
  b.start();
  assert.equal(phases.phases, [0, 10]);
  a.close();
  assert.equal(phases.phases, [10]);
  b.close();
  b.close();
  assert.equal(phases.phases, []);
  const c = new AudioMixer({ phases });
  c.close();
  c.start();
  assert.equal(phases.phases, [], 'a closed mixer never starts');
});

test.run();
