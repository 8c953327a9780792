/** The mixer's 20 ms clock: steady ticks, bounded catch-up after a stall, clean shutdown. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AudioMixer } from '../../relay/audio/AudioMixer';
import { TickClock } from '../../relay/audio/TickClock';
import { DUE_SLACK_MS, ThreadWakeups, timerWakeups } from '../../relay/audio/Wakeups';
import { waitFor } from '../helpers/wait';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the mixer ticks every 20 ms once started, and close() stops it for good', async () => {
  const frames: string[] = [];
  let levelReports = 0;
  // Without DTX: a lone participant's mix is silence, which DTX would mostly not send.
  const mixer = new AudioMixer({ onFrame: (id) => frames.push(id), onLevels: () => levelReports++, dtx: false });
  mixer.addParticipant('a');
  const startedAt = performance.now();
  mixer.start();
  mixer.start(); // a second start must not double the rate
  // Twenty ticks, however long a busy machine takes for them; then no more than one per 20 ms.
  await waitFor(() => mixer.counters.ticks >= 20, 10_000, 'twenty mixer ticks');
  const elapsed = performance.now() - startedAt;
  const { ticks, tickMsP50, tickMsP99, departureMsP50, departureMsMax } = mixer.counters;
  assert.ok(ticks <= elapsed / 20 + 2, `${ticks} ticks in ${Math.round(elapsed)} ms`);
  assert.is(frames.length, ticks, 'one frame per tick for the one participant');
  assert.ok(levelReports >= 1, 'levels every 10 ticks');
  assert.ok(tickMsP50 > 0 && tickMsP99 >= tickMsP50);
  assert.ok(departureMsP50 > 15 && departureMsP50 < 25 && departureMsMax >= departureMsP50, `mix departs every ${departureMsP50} ms`);
  mixer.close();
  await sleep(60);
  assert.is(mixer.counters.ticks, ticks);
  mixer.close();
  mixer.start();
  await sleep(60);
  assert.is(mixer.counters.ticks, ticks, 'a closed mixer never restarts');
});

test('after a short stall the clock runs the missed ticks back to back', async () => {
  let now = 0;
  const lateness: number[] = [];
  const clock = new TickClock(20, (late) => lateness.push(late), { now: () => now, wakeups: timerWakeups(() => now) });
  clock.start();
  now = 100; // 80 ms past the first deadline: four ticks overdue plus the one due now
  await waitFor(() => lateness.length >= 5, 2000, 'the overdue ticks');
  assert.equal(lateness, [80, 60, 40, 20, 0]);
  assert.is(clock.skipped, 0);
  clock.stop();
});

test('after a long stall the clock skips ahead instead of bursting stale audio', async () => {
  let now = 0;
  const lateness: number[] = [];
  const clock = new TickClock(20, (late) => lateness.push(late), { now: () => now, wakeups: timerWakeups(() => now) });
  clock.start();
  now = 1000;
  await waitFor(() => lateness.length >= 1, 2000, 'the tick after the stall');
  assert.is(lateness.length, 1, 'one tick, on the new schedule');
  assert.is(clock.skipped, 49);
  now = 1020;
  await waitFor(() => lateness.length >= 2, 2000, 'the next tick');
  assert.is(lateness.length, 2);
  assert.is(lateness[1], 0);
  clock.stop();
});

test('a wakeup before the deadline does not tick early: the clock waits again', async () => {
  let now = 0;
  let reads = 0;
  const lateness: number[] = [];
  const clock = new TickClock(20, (late) => lateness.push(late), { now: () => (reads++, now), wakeups: timerWakeups(() => now) });
  clock.start();
  now = 20 - DUE_SLACK_MS / 2; // within the clocks' rounding: due
  await waitFor(() => lateness.length === 1, 2000, 'the first tick');
  assert.equal(lateness, [0]);
  now = 40 - 0.1;
  const readsBefore = reads;
  // Woken (it reads the clock) and set again, more than once, without a tick.
  await waitFor(() => reads >= readsBefore + 4, 2000, 'the clock to wake and wait again');
  assert.is(lateness.length, 1);
  now = 40;
  await waitFor(() => lateness.length === 2, 2000, 'the second tick, on time');
  assert.is(lateness[1], 0);
  clock.stop();
});

test('the wakeup thread wakes each deadline once, never before it, and not a cancelled one', async () => {
  const wakeups = new ThreadWakeups();
  const start = performance.now() + 5;
  const woken: { name: string; early: number }[] = [];
  const ask = (name: string, inMs: number) => {
    const at = start + inMs;
    return wakeups.at(at, () => woken.push({ name, early: at - performance.now() }));
  };
  ask('c', 30.2);
  ask('a', 0.3);
  const cancel = ask('x', 12);
  ask('b', 12.7);
  cancel();
  await waitFor(() => woken.length >= 3, 5000, 'three wakeups');
  await new Promise((resolve) => setTimeout(resolve, 30));
  // Late by a busy machine, several may come in one wake, still in the order of their deadlines.
  assert.equal(woken.map((w) => w.name), ['a', 'b', 'c']);
  for (const w of woken) assert.ok(w.early <= DUE_SLACK_MS + 0.002, `${w.name} woke ${w.early.toFixed(3)} ms before its deadline`);
});

test('a cancelled earliest deadline is not waited for: the thread wakes for the next one only', async () => {
  const wakeups = new ThreadWakeups();
  const start = performance.now();
  let woken = 0;
  // Far enough ahead that a stall of the test itself cannot make one due before it is cancelled.
  const cancelFirst = wakeups.at(start + 100, () => woken++);
  cancelFirst();
  const cancelOnly = wakeups.at(start + 200, () => woken++);
  wakeups.at(start + 300, () => woken++);
  cancelOnly();
  await waitFor(() => woken >= 1, 5000, 'the one deadline left');
  await sleep(30);
  assert.is(woken, 1);
  assert.is(wakeups.threadWakes, 1, 'one wake, for the deadline left');
  // With nothing pending the thread sleeps: a deadline cancelled alone wakes nothing.
  const lone = wakeups.at(performance.now() + 100, () => woken++);
  lone();
  await sleep(150);
  assert.is(wakeups.threadWakes, 1);
});

test.run();
