/**
 * When the relay's packets reached a viewer (relay/allocation/DownlinkDelivery.ts), from real
 * transport-wide feedback packets: the queueing delay above the path's own, what a span of
 * packets delivered (bytes over their arrival time), losses, and feedback read twice.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DownlinkDelivery } from '../../relay/allocation/DownlinkDelivery';
import { TRANSPORT_CC_TICKS_PER_REFERENCE, transportFeedbackPacket } from '../../relay/rtcp';

/** A feedback packet on consecutive sequence numbers from `base`: arrival times in ms on the viewer's clock (undefined: lost). */
function feedback(base: number, arrivals: Array<number | undefined>, count = 0): Buffer {
  const first = arrivals.find((a) => a !== undefined)!;
  const referenceTime = Math.floor((first * 4) / TRANSPORT_CC_TICKS_PER_REFERENCE);
  let previous = referenceTime * TRANSPORT_CC_TICKS_PER_REFERENCE;
  const deltas = arrivals.map((at) => {
    if (at === undefined) return undefined;
    const ticks = Math.round(at * 4);
    const delta = ticks - previous;
    previous = ticks;
    return delta;
  });
  return transportFeedbackPacket(1, 2, { baseSequence: base, referenceTime, feedbackCount: count, deltas });
}

/** The viewer's clock runs 5 s ahead of the relay's: only differences of delay count. */
const OFFSET = 5000;

test('the queue: one-way delay above the smallest seen, read as the smallest of each feedback', () => {
  const delivery = new DownlinkDelivery();
  assert.not.ok(delivery.hasFeedback);
  // Ten packets 10 ms apart over a 20 ms path, then ten more that queue 40 ms more (one held 90 ms by a busy machine).
  const sent = Array.from({ length: 20 }, (_, i) => i * 10);
  sent.forEach((t) => delivery.stamp(1000, t));
  const quick = sent.slice(0, 10).map((t) => t + 20 + OFFSET);
  assert.ok(delivery.onFeedback(feedback(0, quick), 120));
  assert.is(delivery.queueMs, 0);
  const queued = sent.slice(10).map((t, i) => t + 60 + (i === 3 ? 50 : 0) + OFFSET);
  delivery.onFeedback(feedback(10, queued, 1), 260);
  assert.is(delivery.queueMs, 40, 'the smallest of the feedback: the held packet is no queue');
  assert.is(delivery.peakQueueMs(200), 40);
  assert.is(delivery.lastFeedbackAt, 260);
});

test('a standing queue: the smallest queue of every feedback in a stretch, once enough of them came', () => {
  const delivery = new DownlinkDelivery();
  // Four feedbacks 100 ms apart, 5 packets each: the first on an empty path, then 70, 90 and 80 ms queued.
  const queues = [0, 70, 90, 80];
  queues.forEach((queue, f) => {
    const sent = Array.from({ length: 5 }, (_, i) => f * 100 + i * 10);
    sent.forEach((t) => delivery.stamp(1000, t));
    delivery.onFeedback(feedback(f * 5, sent.map((t) => t + 20 + queue + OFFSET), f), f * 100 + 150);
  });
  assert.is(delivery.lowestQueueMs(0, 4), 0, 'the empty path counts');
  assert.is(delivery.lowestQueueMs(200, 3), 70, 'the queue stood at 70 ms or more since');
  assert.is(delivery.lowestQueueMs(200, 4), 0, 'too few feedbacks to tell');
});

test('a span delivered: its bytes over the time they took to arrive; a link slower than the send shows its own rate', () => {
  const delivery = new DownlinkDelivery();
  // 21 packets of 1250 bytes sent 1 ms apart (10 Mbit/s) arrive 2 ms apart: a 5 Mbit/s link.
  for (let i = 0; i < 21; i += 1) delivery.stamp(1250, i);
  delivery.onFeedback(feedback(0, Array.from({ length: 21 }, (_, i) => OFFSET + 20 + 2 * i)), 100);
  const span = delivery.span(0, 21);
  assert.equal({ sent: span.sent, received: span.received, lost: span.lost }, { sent: 21, received: 21, lost: 0 });
  assert.ok(Math.abs(span.deliveredBps! - 5_000_000) < 1, String(span.deliveredBps));
  assert.ok(Math.abs(span.sentBps! - 10_000_000) < 1, String(span.sentBps));
  assert.is(delivery.span(0, 5).deliveredBps, undefined, 'too few packets to tell');
});

test('losses: reported lost, then received after all (reordering), never the other way; the same feedback read twice changes nothing', () => {
  const delivery = new DownlinkDelivery();
  for (let i = 0; i < 4; i += 1) delivery.stamp(500, i * 10);
  const first = feedback(0, [OFFSET + 20, undefined, OFFSET + 40, undefined]);
  delivery.onFeedback(first, 50);
  delivery.onFeedback(first, 50);
  assert.equal(delivery.span(0, 4, 1), { sent: 4, received: 2, lost: 2, deliveredBps: 8 * 500 * 1000 / 20, sentBps: 8 * 500 * 1000 / 20 });
  delivery.onFeedback(feedback(1, [OFFSET + 45]), 60);
  delivery.onFeedback(feedback(2, [undefined]), 70);
  const span = delivery.span(0, 4, 1);
  assert.equal({ received: span.received, lost: span.lost }, { received: 3, lost: 1 });
});

test('feedback on packets it never sent, or sent too long ago, is ignored; sequence numbers wrap', () => {
  const delivery = new DownlinkDelivery();
  for (let i = 0; i < 65_540; i += 1) delivery.stamp(100, i);
  assert.is(delivery.nextSequence, 4);
  // 65,530 is 10 packets back: remembered; 100 is 65,440 back: forgotten.
  delivery.onFeedback(feedback(65_530, Array.from({ length: 10 }, (_, i) => OFFSET + 65_550 + i)), 65_600);
  delivery.onFeedback(feedback(100, [OFFSET + 200]), 65_600);
  assert.is(delivery.span(65_530, 4, 1).received, 10);
  assert.is(delivery.span(100, 101, 1).received, 0);
  assert.is(delivery.onFeedback(Buffer.from([0x81, 201, 0, 1, 0, 0, 0, 1]), 65_600), false, 'a receiver report holds no transport-wide feedback');
});

test('sequenceSince finds the first packet sent at or after a time, within what is remembered', () => {
  const delivery = new DownlinkDelivery();
  assert.is(delivery.sequenceSince(0), 0, 'nothing sent: the next number');
  for (let t = 0; t < 100; t += 1) delivery.stamp(100, 1000 + t * 10);
  assert.is(delivery.sequenceSince(1500), 50);
  assert.is(delivery.sequenceSince(1495), 50);
  assert.is(delivery.sequenceSince(0), 0);
  assert.is(delivery.sequenceSince(5000), 100);
});

test.run();
