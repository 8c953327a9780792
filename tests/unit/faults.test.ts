import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { faultCounts, guard } from '../../coordinator/faults';

test('a guarded callback that throws is logged under err with its context, counted, and contained', () => {
  const logged: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = { error: (obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg }) };
  const before = faultCounts().get('grace timer') ?? 0;
  let after = false;
  guard(log as never, 'grace timer', () => {
    throw new Error('disk full');
  }, { meetingId: 'm1' });
  after = true;
  assert.ok(after, 'the exception did not escape');
  assert.is(faultCounts().get('grace timer'), before + 1);
  assert.is((logged[0]?.obj.err as Error).message, 'disk full');
  assert.is(logged[0]?.obj.meetingId, 'm1');
  guard(log as never, 'grace timer', () => {});
  assert.is(faultCounts().get('grace timer'), before + 1, 'a callback that works counts nothing');
});

test.run();
