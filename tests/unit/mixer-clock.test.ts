/** The mixer's 20 ms clock: steady ticks, bounded catch-up after a stall, clean shutdown. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AudioMixer } from '../../relay/audio/AudioMixer';
import { TickClock } from '../../relay/audio/TickClock';
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
  const clock = new TickClock(20, (late) => lateness.push(late), { now: () => now });
  clock.start();
  now = 100; // 80 ms past the first deadline: four ticks overdue plus the one due now
  await sleep(40);
  assert.equal(lateness, [80, 60, 40, 20, 0]);
  assert.is(clock.skipped, 0);
  clock.stop();
});

test('after a long stall the clock skips ahead instead of bursting stale audio', async () => {
  let now = 0;
  const lateness: number[] = [];
  const clock = new TickClock(20, (late) => lateness.push(late), { now: () => now });
  clock.start();
  now = 1000;
  await sleep(40);
  assert.is(lateness.length, 1, 'one tick, on the new schedule');
  assert.is(clock.skipped, 49);
  now = 1020;
  await sleep(40);
  assert.is(lateness.length, 2);
  assert.is(lateness[1], 0);
  clock.stop();
});

test.run();
