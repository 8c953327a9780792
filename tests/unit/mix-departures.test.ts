/** Mix departure figures: intervals between consecutive ticks' packets, silences left out, stalls seen. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MixDepartures } from '../../relay/audio/MixDepartures';

test('steady departures read 20 ms at p50, p99 and max', () => {
  const d = new MixDepartures();
  for (let tick = 1; tick <= 100; tick++) d.record(tick, tick * 20);
  assert.equal(d.figures, { departureMsP50: 20, departureMsP99: 20, departureMsMax: 20 });
});

test('a stall shows as one long interval and the catch-up as short ones', () => {
  const d = new MixDepartures();
  for (let tick = 1; tick <= 200; tick++) d.record(tick, tick * 20);
  // Ticks 201..203 due at 4020, 4040, 4060 all leave at 4065 (a 45 ms stall, then back to back).
  d.record(201, 4065);
  d.record(202, 4065.2);
  d.record(203, 4065.4);
  const f = d.figures;
  assert.is(f.departureMsMax, 65);
  assert.is(f.departureMsP50, 20);
});

test('a silence (ticks that sent nothing) is not a late departure', () => {
  const d = new MixDepartures();
  for (let tick = 1; tick <= 10; tick++) d.record(tick, tick * 20);
  for (let tick = 31; tick <= 40; tick++) d.record(tick, tick * 20);
  assert.equal(d.figures, { departureMsP50: 20, departureMsP99: 20, departureMsMax: 20 });
});

test.run();
