/** One pass per 20 ms for every mixer of a process, in a fixed order; slow work after the pass. Driven by hand, no timers. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AudioMixer } from '../../relay/audio/AudioMixer';
import { MixScheduler, type PassClock, type ScheduledMix } from '../../relay/audio/MixScheduler';
import type { TickHandler } from '../../relay/audio/TickClock';

/** A clock the test fires itself. */
class HandClock implements PassClock {
  isRunning = false;
  skipped = 0;
  starts = 0;
  constructor(readonly onTick: TickHandler) {}
  start(): void {
    if (!this.isRunning) this.starts += 1;
    this.isRunning = true;
  }
  stop(): void {
    this.isRunning = false;
  }
  /** One pass that began `lateMs` after its deadline. */
  fire(lateMs = 0): void {
    this.onTick(lateMs);
  }
}

function scheduler(now: () => number = () => 1000): { scheduler: MixScheduler; clock: HandClock } {
  let clock: HandClock | undefined;
  const s = new MixScheduler({ now, clock: (onTick) => (clock = new HandClock(onTick)) });
  return { scheduler: s, clock: clock! };
}

/** A mix that writes its name and what it was given into `log`. */
function mix(name: string, log: string[]): ScheduledMix {
  return { runScheduledTick: (deadline, late) => log.push(`${name}@${deadline}+${late}`) };
}

test('every mixer ticks once per pass, in the order they joined; one that leaves keeps the others in order', () => {
  const { scheduler: s, clock } = scheduler(() => 1003);
  const log: string[] = [];
  const a = mix('a', log);
  const b = mix('b', log);
  const c = mix('c', log);
  s.add(a);
  s.add(b);
  s.add(c);
  s.add(a); // already in: no second turn
  clock.fire(3);
  assert.equal(log, ['a@1000+3', 'b@1000+3', 'c@1000+3'], 'each given the pass deadline (now − late) and the pass lateness');
  log.length = 0;
  s.remove(b);
  s.add(b);
  clock.fire(3);
  assert.equal(log, ['a@1000+3', 'c@1000+3', 'b@1000+3'], 'back in at the end');
  assert.is(s.size, 3);
});

test('the clock runs from the first mixer in to the last one out', () => {
  const { scheduler: s, clock } = scheduler();
  const a = mix('a', []);
  const b = mix('b', []);
  assert.is(clock.isRunning, false);
  s.add(a);
  s.add(b);
  assert.is(clock.isRunning, true);
  assert.is(clock.starts, 1);
  s.remove(a);
  assert.is(clock.isRunning, true);
  s.remove(b);
  s.remove(b); // no-op
  assert.is(clock.isRunning, false);
});

test('a mixer leaving during a pass does not make another lose its turn', () => {
  const { scheduler: s, clock } = scheduler();
  const log: string[] = [];
  const b = mix('b', log);
  const a: ScheduledMix = { runScheduledTick: () => { log.push('a'); s.remove(a); } };
  s.add(a);
  s.add(b);
  clock.fire();
  assert.equal(log, ['a', 'b@1000+0']);
});

test('slow work asked for runs after the next pass, once; with no pass scheduled it runs at once', () => {
  const { scheduler: s, clock } = scheduler();
  const log: string[] = [];
  s.afterNextPass(() => log.push('idle: now'));
  assert.equal(log, ['idle: now']);
  log.length = 0;
  s.add(mix('a', log));
  s.afterNextPass(() => log.push('figures'));
  assert.equal(log, [], 'waits for the pass');
  clock.fire();
  assert.equal(log, ['a@1000+0', 'figures']);
  clock.fire();
  assert.equal(log, ['a@1000+0', 'figures', 'a@1000+0'], 'once');
});

test('slow work still waiting when the last mixer leaves runs then', () => {
  const { scheduler: s } = scheduler();
  const a = mix('a', []);
  const log: string[] = [];
  s.add(a);
  s.afterNextPass(() => log.push('figures'));
  s.remove(a);
  assert.equal(log, ['figures']);
});

test('a mixer on a scheduler: media time is the pass deadline; a steady late place in the pass is not a late tick, a late pass is', () => {
  const { scheduler: s, clock } = scheduler();
  const times: number[] = [];
  const mixer = new AudioMixer({ scheduler: s, dtx: false, onFrame: (_id, _opus, mediaTimeMs) => times.push(mediaTimeMs) });
  mixer.addParticipant('a');
  mixer.start();
  // Fifteen meetings' ticks before this one: it starts 15 ms after the deadline, every pass.
  const deadline = performance.now() - 15;
  mixer.runScheduledTick(deadline, 0.5);
  assert.equal(times, [deadline], 'stamped with its place on the schedule, not when it ran');
  assert.is(mixer.counters.lateTicks, 0);
  mixer.runScheduledTick(performance.now() - 12, 12);
  assert.is(mixer.counters.lateTicks, 1, 'the whole pass began 12 ms late');
  mixer.runScheduledTick(performance.now() - 25, 2);
  assert.is(mixer.counters.lateTicks, 2, 'a pass so long this tick began after the next deadline');
  clock.fire(0);
  assert.is(mixer.counters.ticks, 4);
  mixer.close();
});

test('passes skipped while a mixer is in the schedule count as its late ticks; those before it joined or after it left do not', () => {
  const { scheduler: s, clock } = scheduler();
  clock.skipped = 7;
  const mixer = new AudioMixer({ scheduler: s });
  mixer.start();
  assert.is(mixer.counters.lateTicks, 0);
  clock.skipped = 10;
  assert.is(mixer.counters.lateTicks, 3);
  mixer.close();
  clock.skipped = 50;
  assert.is(mixer.counters.lateTicks, 3);
  assert.is(s.size, 0, 'close() leaves the schedule');
});

test.run();
