/**
 * A viewer's pacer (relay/allocation/DownlinkPacer.ts) on a fake clock: unpaced packets go
 * out as they come; a paced burst leaves at the rate, retransmissions first; a long queue
 * drains within its limit; lifting the pace sends what waits at once; `admit` lets a packet
 * go at once only while nothing waits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DownlinkPacer, QUEUE_LIMIT_MS } from '../../relay/allocation/DownlinkPacer';

const PACKET = 1000;

/** A pacer on a clock the test moves, and the times its packets went out (by label). */
function pacerOnClock() {
  const clock = { now: 0 };
  const pacer = new DownlinkPacer(() => clock.now);
  const out: Array<{ label: string; at: number }> = [];
  const send = (label: string, kind: 'media' | 'resend' = 'media') => pacer.send(PACKET, kind, () => out.push({ label, at: clock.now }));
  /** Moves the clock in 5 ms ticks up to `untilMs`, serving the queue at each. */
  const run = (untilMs: number) => {
    while (clock.now < untilMs) {
      clock.now += 5;
      pacer.serve();
    }
  };
  return { clock, pacer, out, send, run };
}

test('without a pace every packet goes out as it comes', () => {
  const { pacer, out, send } = pacerOnClock();
  for (let i = 0; i < 30; i++) send(`p${i}`);
  assert.is(out.length, 30);
  assert.is(pacer.queued, 0);
  pacer.close();
});

test('admit lets a packet go at once while the pace allows (nothing queued, credit left), else it is queued and goes at its turn', () => {
  const { pacer, out, run } = pacerOnClock();
  pacer.setRate(800_000);
  assert.ok(pacer.admit(PACKET), 'the first packet of a quiet moment');
  let admitted = 1;
  while (pacer.admit(PACKET)) admitted += 1;
  assert.ok(admitted <= 3, `${admitted} admitted at once`);
  pacer.queue(PACKET, 'media', () => out.push({ label: 'waited', at: 0 }));
  assert.not.ok(pacer.admit(PACKET), 'nothing overtakes a queued packet');
  run(50);
  assert.equal(out.map((o) => o.label), ['waited']);
  pacer.close();
  assert.not.ok(pacer.admit(PACKET), 'a closed pacer sends nothing');
});

test('a burst is spread at the paced rate', () => {
  const { pacer, out, send, run } = pacerOnClock();
  pacer.setRate(800_000); // 100 bytes per ms: a 1000-byte packet every 10 ms
  for (let i = 0; i < 30; i++) send(`p${i}`); // a keyframe's worth: 30 kB
  assert.ok(out.length <= 3, `${out.length} went out at once`);
  run(1000);
  assert.is(out.length, 30);
  const last = out.at(-1)!.at;
  // 30 kB at 100 bytes/ms: about 300 ms (less the first burst).
  assert.ok(last >= 250 && last <= 320, `the burst ended at ${last} ms`);
  assert.equal(out.map((p) => p.label), Array.from({ length: 30 }, (_, i) => `p${i}`), 'in order');
  pacer.close();
});

test('retransmissions go before queued media', () => {
  const { pacer, out, send, run } = pacerOnClock();
  pacer.setRate(800_000);
  for (let i = 0; i < 10; i++) send(`m${i}`);
  send('r0', 'resend');
  run(20);
  const firstResend = out.findIndex((p) => p.label === 'r0');
  assert.ok(firstResend >= 0 && firstResend <= 3, `resend went out as packet ${firstResend}: ${out.map((p) => p.label).join(',')}`);
  run(500);
  assert.is(out.length, 11);
  pacer.close();
});

test('a queue far above the pace drains within its limit, not at the pace', () => {
  const { pacer, out, send, run } = pacerOnClock();
  pacer.setRate(80_000); // 10 bytes per ms: 200 packets would take 20 s at the pace
  for (let i = 0; i < 200; i++) send(`p${i}`);
  run(3 * QUEUE_LIMIT_MS);
  // Draining at queue/limit slows as the queue shrinks; most of it is out within the limit's few multiples.
  assert.ok(out.length >= 180, `${out.length} of 200 out after ${3 * QUEUE_LIMIT_MS} ms`);
  pacer.close();
});

test('lifting the pace sends what waits at once, and later packets go straight out', () => {
  const { pacer, out, send } = pacerOnClock();
  pacer.setRate(80_000);
  for (let i = 0; i < 20; i++) send(`p${i}`);
  assert.ok(out.length < 20);
  pacer.setRate(Infinity);
  assert.is(out.length, 20);
  send('later');
  assert.is(out.length, 21);
  pacer.close();
});

test('a closed pacer sends nothing more', () => {
  const { pacer, out, send, run } = pacerOnClock();
  pacer.setRate(80_000);
  for (let i = 0; i < 20; i++) send(`p${i}`);
  const before = out.length;
  pacer.close();
  run(1000);
  send('after');
  assert.is(out.length, before);
});

test.run();
