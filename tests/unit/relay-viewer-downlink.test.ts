/**
 * One viewer's downlink over time (relay/allocation/ViewerDownlink.ts): free until its
 * browser's estimate shows the link full, then limited to the estimate (lower layers, then
 * pauses), probing one step up at a time while the estimate stays clear, free again when its
 * tiles have all they need. Streams are fed synthetic packets at known rates on a fake clock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ESTIMATE_SETTLE_MS, ViewerDownlink } from '../../relay/allocation/ViewerDownlink';
import { InputStream } from '../../relay/InputStreams';
import type { RtpIn } from '../../relay/types';
import { VideoSlot, type SlotOutput } from '../../relay/VideoSlot';

const output: SlotOutput = { connected: true, ssrc: 1, send: () => 100, resend: () => {} };
const packet = (size: number): RtpIn => ({ ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 96, payload: Buffer.alloc(0), size });

/** A publisher's camera in two layers: 300 and 900 kbit/s. */
function camera(publisherId: string): InputStream[] {
  return [new InputStream(publisherId, 'camera', 0, 10), new InputStream(publisherId, 'camera', 1, 11)];
}

const fedUpTo = new WeakMap<InputStream, number>();
/** Feeds every stream packets at its rate (a packet every 10 ms) up to `now`, from where it was last fed (the first time, three seconds back: steady layers). */
function feed(cameras: InputStream[][], now: number): void {
  for (const layers of cameras) {
    layers.forEach((stream, layer) => {
      const bytesPer10ms = ((layer === 0 ? 300_000 : 900_000) / 8) / 100;
      for (let t = fedUpTo.get(stream) ?? now - 3000; t < now; t += 10) stream.measure(packet(bytesPer10ms), t);
      fedUpTo.set(stream, now);
    });
  }
}

function setup() {
  const cameras = [camera('ann'), camera('ben'), camera('cat')];
  const slots = cameras.map((layers, i) => {
    const slot = new VideoSlot('dan', String(i + 3), output);
    slot.assign(layers[0]!.publisherId);
    return slot;
  });
  const layersOf = (slot: VideoSlot) => cameras.find((c) => c[0]!.publisherId === slot.publisherId)!;
  const downlink = new ViewerDownlink();
  const targets = () => slots.map((s) => s.targetLayer);
  return { cameras, slots, layersOf, downlink, targets };
}

test('free: every camera at its top layer while the estimate keeps up (and before it settles)', () => {
  const { cameras, slots, layersOf, downlink, targets } = setup();
  let now = 10_000;
  feed(cameras, now);
  downlink.setEstimate(200_000, now); // the browser's first guess, far below: not overuse yet
  downlink.allocate(slots, layersOf, now);
  assert.equal(targets(), [1, 1, 1]);
  now += ESTIMATE_SETTLE_MS;
  feed(cameras, now);
  downlink.setEstimate(3_500_000, now);
  downlink.allocate(slots, layersOf, now);
  assert.equal(targets(), [1, 1, 1]);
  assert.is(downlink.downlinkState, 'free');
});

test('a full link limits the viewer to its estimate: lower layers first, pauses only when even those do not fit, then probes back up', () => {
  const { cameras, slots, layersOf, downlink, targets } = setup();
  let now = 10_000;
  const step = (estimate: number, ms = 250, loss = 0) => {
    now += ms;
    feed(cameras, now);
    downlink.setEstimate(estimate, now);
    downlink.setLoss(loss, now);
    downlink.allocate(slots, layersOf, now);
    // The slots take the target's keyframe at once here (forwardedLayer is not read by the allocation).
    return targets();
  };
  downlink.setEstimate(3_000_000, now);
  step(3_000_000, ESTIMATE_SETTLE_MS);
  // The estimate falls below the 2.7 Mbit/s sent, with loss (a full queue): limited to 90% of 1.2 Mbit/s, every camera at its low layer.
  assert.equal(step(1_200_000, 250, 0.1), [0, 0, 0]);
  assert.is(downlink.downlinkState, 'limited');
  // Far worse: 800 kbit/s holds two low layers; the third pauses (never all three frozen).
  assert.equal(step(800_000, 250, 0.1), [0, 0, 'paused']);
  // The link is back: the estimate (which only grows over what arrives) stays clear of what is sent,
  // so the viewer probes one step at a time, each after the previous one settled.
  const seen = [targets()];
  for (let i = 0; i < 40; i += 1) {
    const sent = slots.reduce((sum, s) => sum + (s.targetLayer === 'paused' ? 0 : s.targetLayer === 0 ? 300_000 : 900_000), 0);
    seen.push(step(sent * 1.3, 500));
  }
  assert.equal(seen.at(-1), [1, 1, 1], JSON.stringify(seen));
  assert.is(downlink.downlinkState, 'free');
  // One change at a time: no probe ever raised two slots at once.
  for (let i = 1; i < seen.length; i += 1) {
    const changes = seen[i]!.filter((t, k) => t !== seen[i - 1]![k]).length;
    assert.ok(changes <= 1, `probe ${i}: ${JSON.stringify(seen[i - 1])} -> ${JSON.stringify(seen[i])}`);
  }
});

test('an estimate that falls without loss (a busy CPU, or what arrives after a pause) changes nothing', () => {
  const { cameras, slots, layersOf, downlink, targets } = setup();
  let now = 10_000;
  downlink.setEstimate(3_000_000, now);
  for (const estimate of [2_200_000, 1_000_000, 80_000]) {
    now += 250;
    if (estimate === 2_200_000) now += ESTIMATE_SETTLE_MS;
    feed(cameras, now);
    downlink.setEstimate(estimate, now);
    downlink.allocate(slots, layersOf, now);
    assert.equal(targets(), [1, 1, 1], `at ${estimate}`);
    assert.is(downlink.downlinkState, 'free');
  }
});

test('small tiles cap the layer even on a free link', () => {
  const { cameras, slots, layersOf, downlink, targets } = setup();
  for (const layers of cameras) {
    layers[0]!.width = 320; layers[0]!.height = 240;
    layers[1]!.width = 640; layers[1]!.height = 480;
  }
  feed(cameras, 10_000);
  downlink.setViews([{ mid: '3', width: 640, height: 480 }, { mid: '4', width: 200, height: 150 }, { mid: '5', width: 0, height: 0 }]);
  downlink.allocate(slots, layersOf, 10_000);
  assert.equal(targets(), [1, 0, 0]);
});

test.run();
