/**
 * A viewer's video slot as its table tells the client (relay/VideoSlot.ts): a slot given
 * to another person says it waits for their first picture until their keyframe went out
 * (the client covers the tile meanwhile: its receiver still holds the previous person's
 * picture), and says so once, at once, when it went.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InputStream } from '../../relay/InputStreams';
import type { RtpIn } from '../../relay/types';
import { FORWARD_DROPPED, FORWARD_WANTS_KEYFRAME, VideoSlot, type SlotOutput } from '../../relay/VideoSlot';

const sent: RtpIn[] = [];
const output: SlotOutput = { connected: true, ssrc: 1, send: (packet) => (sent.push(packet), 100), resend: () => {}, skip: () => {} };
/** A VP8 payload starting a frame (descriptor S=1, PID=0), a keyframe or not (the payload header's P bit). */
const vp8 = (keyframe: boolean): RtpIn => ({ ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 96, payload: Buffer.from([0x10, keyframe ? 0x00 : 0x01, 0, 0]), size: 16 });
const ann = new InputStream('ann', 'camera', 0, 10);
const ben = new InputStream('ben', 'camera', 0, 20);

test('a new slot waits for its first picture: not before the keyframe, said once when it went', () => {
  const slot = new VideoSlot('dan', '3', output);
  assert.equal(slot.toAssignment(), { mid: '3', participantId: null, source: 'camera' }, 'an empty slot waits for nothing');
  slot.assign('ann');
  assert.is(slot.toAssignment([ann]).waiting, true);
  assert.is(slot.forward(vp8(false), ann), FORWARD_DROPPED, 'a delta frame is not sent (the keyframe was asked at assign)');
  assert.is(slot.takeFirstPicture(), false);
  assert.ok(slot.forward(vp8(true), ann) > 0, 'the keyframe is sent');
  assert.is(slot.takeFirstPicture(), true, 'the first picture is news…');
  assert.is(slot.takeFirstPicture(), false, '…once');
  assert.is(slot.toAssignment([ann]).waiting, undefined);
  assert.ok(slot.forward(vp8(false), ann) > 0);
  assert.is(slot.takeFirstPicture(), false, 'later pictures are not');
});

test('a slot given to someone else waits again, and shows nothing of theirs before their keyframe', () => {
  const slot = new VideoSlot('dan', '3', output);
  slot.assign('ann');
  slot.forward(vp8(true), ann);
  slot.takeFirstPicture();
  slot.assign('ben');
  assert.is(slot.toAssignment([ben]).waiting, true, 'the receiver still holds Ann\'s last picture');
  sent.length = 0;
  assert.is(slot.forward(vp8(false), ann), FORWARD_DROPPED, 'Ann is no longer forwarded');
  const deltaResult = slot.forward(vp8(false), ben);
  assert.ok(deltaResult === FORWARD_DROPPED || deltaResult === FORWARD_WANTS_KEYFRAME, 'Ben\'s delta frames wait for his keyframe');
  assert.is(sent.length, 0);
  assert.ok(slot.forward(vp8(true), ben) > 0);
  assert.is(slot.takeFirstPicture(), true);
  assert.is(slot.toAssignment([ben]).waiting, undefined);
});

test('paused for the viewer\'s downlink before any picture: both said (the tile must not show the previous person, dimmed)', () => {
  const slot = new VideoSlot('dan', '3', output);
  slot.assign('ann');
  slot.setTarget('paused', 'bandwidth');
  assert.equal(slot.toAssignment([ann]), { mid: '3', participantId: 'ann', source: 'camera', waiting: true, paused: 'bandwidth' });
  slot.setTarget(0, 'best');
  slot.forward(vp8(true), ann);
  slot.setTarget('paused', 'bandwidth');
  assert.equal(slot.toAssignment([ann]), { mid: '3', participantId: 'ann', source: 'camera', paused: 'bandwidth' }, 'paused after a picture: the last one stays, dimmed');
});

test.run();
