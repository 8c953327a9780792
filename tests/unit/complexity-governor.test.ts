/**
 * The mixer's Opus complexity follows its tick time: it steps down only when ticks stay heavy
 * (not for one preempted tick), and back up only after light ticks for a while.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMPLEXITY_STEPS, ComplexityGovernor } from '../../relay/audio/ComplexityGovernor';

const ticks = (g: ComplexityGovernor, ms: number, n: number) => {
  for (let i = 0; i < n; i++) g.record(ms);
};

test('starts at complexity 9 and keeps it for ordinary ticks', () => {
  const g = new ComplexityGovernor();
  ticks(g, 1.5, 1000);
  assert.is(g.complexity, 9);
});

test('one or two heavy ticks are a blip; three in a row step down, and it keeps stepping while heavy', () => {
  const g = new ComplexityGovernor();
  g.record(12);
  g.record(12);
  g.record(1);
  g.record(12);
  assert.is(g.complexity, 9);
  ticks(g, 12, 3);
  assert.is(g.complexity, 5);
  ticks(g, 12, 100);
  assert.is(g.complexity, COMPLEXITY_STEPS[COMPLEXITY_STEPS.length - 1]);
});

test('steps back up one step per two seconds of light ticks; a middling tick restarts the count', () => {
  const g = new ComplexityGovernor();
  ticks(g, 12, 9);
  assert.is(g.complexity, 0);
  ticks(g, 1, 99);
  g.record(4); // neither heavy nor light
  ticks(g, 1, 99);
  assert.is(g.complexity, 0);
  g.record(1);
  assert.is(g.complexity, 2);
  ticks(g, 1, 200);
  assert.is(g.complexity, 9);
});

test.run();
