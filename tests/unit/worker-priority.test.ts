/** A real-time media worker steps down to an ordinary priority once its event loop stays busy, and only then. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RealtimeGuard } from '../../relay/worker/priority';

const PROBE = fileURLToPath(new URL('../helpers/wakeupThreadScheduling.ts', import.meta.url));

test('five busy seconds in a row step a real-time worker down, once', () => {
  const steps: string[] = [];
  let left = 0;
  const guard = new RealtimeGuard({ kind: 'realtime' }, (why) => steps.push(why), () => { left += 1; return undefined; });
  for (const u of [0.9, 0.9, 0.9, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9]) guard.observe(u);
  assert.is(left, 0, 'a light second in between starts the count again');
  guard.observe(0.95);
  assert.is(left, 1);
  assert.match(steps[0]!, /busy for 5 s/);
  for (let i = 0; i < 10; i++) guard.observe(1);
  assert.is(left, 1, 'once');
});

test('a worker that is not real-time is left alone', () => {
  let left = 0;
  const guard = new RealtimeGuard({ kind: 'nice', nice: -10 }, () => {}, () => { left += 1; return undefined; });
  for (let i = 0; i < 10; i++) guard.observe(1);
  assert.is(left, 0);
});

test('a real-time worker\'s wakeup thread is real-time too (it starts after the worker took its scheduling)', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', PROBE], { encoding: 'utf8', timeout: 20_000 });
  const { scheduling, policies } = JSON.parse(out.trim().split('\n').pop()!) as { scheduling: string; policies: number[] };
  assert.ok(policies.length > 0, 'the wakeup thread started');
  // Without CAP_SYS_NICE a worker runs ordinary, and so does its thread; this machine is root.
  if (scheduling !== 'realtime') return console.log(`  (not real-time here: ${scheduling})`);
  assert.ok(policies.includes(2), `thread policies ${policies.join(', ')}: one of them SCHED_RR (2)`);
});

test.run();
