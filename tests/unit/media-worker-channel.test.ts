/**
 * The coordinator ↔ media worker channel (relay/worker/channel.ts): both sides check every
 * message on arrival like `/ws` messages, so a malformed one is refused with a clear reason
 * instead of being acted on; and placement (coordinator/media/placement.ts) puts a new
 * meeting on the least-loaded worker.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { offerError } from '../../coordinator/media/MediaWorkers';
import { leastLoadedIndex } from '../../coordinator/media/placement';
import { ChannelError, decodeFromWorker, decodeToWorker } from '../../relay/worker/channel';

const figures = {
  relay: { packetsForwarded: 1, bytesForwarded: 100, packetsReceived: 2, bytesReceived: 200, plisSent: 0, packetsAskedAgain: 0, packetsRecovered: 0, keyframeRequestsReceived: 0, layerSwitches: 0, framesLeftOut: 0, forwardingEntries: 2, pausedSlots: 0, unwatchedLayers: 0 },
  mixer: { ticks: 50, lateTicks: 0, tickMsP50: 0.4, tickMsP99: 0.9, concealed: 0, latePackets: 0, complexity: 9 },
};

test('well-formed messages pass both ways, unchanged', () => {
  const open = { type: 'open', meetingId: 'abc-defg-hij', options: { hostAddresses: ['127.0.0.1'], icePortRange: [40000, 40100] } };
  assert.equal(decodeToWorker(open), open);
  const offer = { type: 'offer', meetingId: 'abc-defg-hij', requestId: 7, participantId: 'p1', sdp: 'v=0\r\n', publishing: { audio: true, video: false } };
  assert.equal(decodeToWorker(offer), offer);
  const report = { type: 'figures', meetings: { 'abc-defg-hij': figures }, utilization: 0.42 };
  assert.equal(decodeFromWorker(report), report);
  assert.equal(decodeFromWorker({ type: 'figures', meetings: {} }), { type: 'figures', meetings: {} });
});

test('an unknown type, a missing or extra field, or a wrong value is refused with where and why', () => {
  const refused = (decode: (v: unknown) => unknown, value: unknown, pattern: RegExp) => {
    try {
      decode(value);
    } catch (error) {
      assert.instance(error, ChannelError);
      assert.match((error as Error).message, pattern);
      return;
    }
    assert.unreachable(`accepted ${JSON.stringify(value)}`);
  };
  refused(decodeToWorker, { type: 'reboot' }, /unknown message type "reboot"/);
  refused(decodeToWorker, null, /unknown message type/);
  refused(decodeToWorker, { type: 'close' }, /invalid "close" message/);
  refused(decodeToWorker, { type: 'close', meetingId: 'abc-defg-hij', extra: 1 }, /invalid "close" message/);
  refused(decodeToWorker, { type: 'offer', meetingId: 'abc-defg-hij', requestId: -1, participantId: 'p1', sdp: 'v=0', publishing: { audio: true, video: true } }, /requestId/);
  refused(decodeFromWorker, { type: 'figures', meetings: {}, utilization: 1.5 }, /utilization/);
  refused(decodeFromWorker, { type: 'figures', meetings: { m: { ...figures, mixer: { ...figures.mixer, complexity: 11 } } } }, /complexity/);
  refused(decodeFromWorker, { type: 'log', level: 'fatal', msg: 'x', details: {} }, /level/);
});

test("an offer's failure keeps its code across the channel: the client's bad offer is INVALID_OFFER (400), the rest RELAY_FAILED", () => {
  for (const code of ['INVALID_OFFER', 'RELAY_CLOSED', 'PARTICIPANT_CLOSED', 'RELAY_FAILED'] as const) {
    const failed = { type: 'offer-failed', requestId: 3, code, message: 'why' };
    assert.equal(decodeFromWorker(failed), failed);
  }
  assert.throws(() => decodeFromWorker({ type: 'offer-failed', requestId: 3, code: 'SOMETHING_ELSE', message: 'why' }), (e: unknown) => e instanceof ChannelError && /offer-failed/.test((e as Error).message));
  const invalid = offerError('INVALID_OFFER', 'no media');
  assert.is(invalid.code, 'INVALID_OFFER');
  assert.is(invalid.status, 400);
  assert.match(invalid.message, /no media/);
  for (const code of ['RELAY_CLOSED', 'PARTICIPANT_CLOSED', 'RELAY_FAILED'] as const) {
    const error = offerError(code, 'detail');
    assert.is(error.code, 'RELAY_FAILED');
    assert.is(error.status, 500);
  }
});

test('placement: the fewest meetings and connections win; utilization breaks a tie; then the first', () => {
  assert.is(leastLoadedIndex([{ load: 0, utilization: 0 }]), 0);
  assert.is(leastLoadedIndex([{ load: 4, utilization: 0.1 }, { load: 3, utilization: 0.9 }]), 1);
  assert.is(leastLoadedIndex([{ load: 3, utilization: 0.5 }, { load: 3, utilization: 0.2 }, { load: 3, utilization: 0.3 }]), 1);
  assert.is(leastLoadedIndex([{ load: 0, utilization: 0 }, { load: 0, utilization: 0 }]), 0);
  // A big meeting on worker 0 (1 + 40 connections) against three small ones on worker 1 (3 × (1 + 3)).
  assert.is(leastLoadedIndex([{ load: 41, utilization: 0.3 }, { load: 12, utilization: 0.3 }]), 1);
});

test.run();
