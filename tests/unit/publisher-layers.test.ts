/** Which of a publisher's camera layers anyone watches (relay/allocation/PublisherLayers.ts): paused when no tile needs them for a while, back at once; all of them when nobody has a slot for the camera. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { highestNeededLayer, NOBODY, PublisherLayers, UNWATCHED_PAUSE_MS } from '../../relay/allocation/PublisherLayers';

/** A 640×480 camera as Chromium sends it to the relay: 320×240 and 640×480. */
const TWO = [{ width: 320, height: 240 }, { width: 640, height: 480 }];

test('the highest layer needed is the smallest that covers the largest tile', () => {
  assert.is(highestNeededLayer(TWO, [{ width: 200, height: 150 }, { width: 320, height: 240 }]), 0, 'strip tiles: the lower layer covers them');
  assert.is(highestNeededLayer(TWO, [{ width: 200, height: 150 }, { width: 480, height: 360 }]), 1, 'one large tile needs the top');
  assert.is(highestNeededLayer(TWO, [{ width: 1280, height: 960 }]), 1, 'larger than every layer: the top');
  assert.is(highestNeededLayer(TWO, [{ width: 0, height: 0 }]), 0, 'a tile not shown needs the lowest');
  assert.is(highestNeededLayer(TWO, []), NOBODY, 'no viewer has a slot for it');
  assert.is(highestNeededLayer(TWO, [{ width: 100, height: 75 }, undefined]), 1, 'a viewer that has not said its tile size gets the top');
});

test('layer sizes not known yet are derived from a known one (each layer half the next)', () => {
  const topPaused = [{ width: 320, height: 240 }, { width: 0, height: 0 }];
  assert.is(highestNeededLayer(topPaused, [{ width: 300, height: 200 }]), 0);
  assert.is(highestNeededLayer(topPaused, [{ width: 600, height: 400 }]), 1, 'the paused top counts as 640×480');
  const three = [{ width: 0, height: 0 }, { width: 480, height: 270 }, { width: 0, height: 0 }];
  assert.is(highestNeededLayer(three, [{ width: 200, height: 100 }]), 0, 'the lowest of 960×540 counts as 240×135');
  assert.is(highestNeededLayer(three, [{ width: 900, height: 500 }]), 2);
  assert.is(highestNeededLayer([{ width: 0, height: 0 }, { width: 0, height: 0 }], [{ width: 10, height: 10 }]), 1, 'no size known: every layer stays');
});

test('a layer nobody needs goes off only after a while, and comes back at once', () => {
  const layers = new PublisherLayers();
  let now = 1000;
  assert.is(layers.update(2, 0, now), undefined, 'all on at the start: nothing to tell');
  now += UNWATCHED_PAUSE_MS - 1;
  assert.is(layers.update(2, 0, now), undefined, 'not yet');
  now += 1;
  assert.equal(layers.update(2, 0, now), [true, false], 'unwatched for the whole while: off');
  assert.is(layers.paused, 1);
  assert.is(layers.update(2, 0, now + 250), undefined, 'told once');
  assert.equal(layers.update(2, 1, now + 500), [true, true], 'a tile needs it: on at once');
  assert.is(layers.paused, 0);
  // Needed again within the while: it stays on throughout.
  assert.is(layers.update(2, 0, now + 1000), undefined);
  assert.is(layers.update(2, 1, now + 1000 + UNWATCHED_PAUSE_MS - 100), undefined);
  assert.is(layers.update(2, 0, now + 1000 + UNWATCHED_PAUSE_MS + 500), undefined, 'its last need was recent');
});

test('the lowest layer stays while anyone has a slot for the camera; with nobody, all go off, and come back with a slot', () => {
  const layers = new PublisherLayers();
  layers.update(3, 0, 0);
  assert.equal(layers.update(3, 0, UNWATCHED_PAUSE_MS), [true, false, false]);
  assert.equal(layers.update(3, 1, UNWATCHED_PAUSE_MS + 10), [true, true, false], 'only what is needed comes back');
  const alone = UNWATCHED_PAUSE_MS * 2;
  assert.equal(layers.update(3, NOBODY, alone), undefined, 'not at once');
  assert.equal(layers.update(3, NOBODY, alone + UNWATCHED_PAUSE_MS), [false, false, false], 'nobody has shown it for the while: all off');
  assert.is(layers.paused, 3);
  assert.equal(layers.update(3, 0, alone + UNWATCHED_PAUSE_MS + 250), [true, false, false], 'a slot for it: the lowest at once');
});

test('a one-layer camera (Firefox, or a small capture) goes off only when nobody has a slot for it', () => {
  const layers = new PublisherLayers();
  assert.is(layers.update(1, 0, 0), undefined);
  assert.is(layers.update(1, 0, UNWATCHED_PAUSE_MS * 3), undefined, 'a strip tile keeps it');
  assert.is(layers.update(1, NOBODY, UNWATCHED_PAUSE_MS * 3 + 1), undefined, 'not at once');
  assert.equal(layers.update(1, NOBODY, UNWATCHED_PAUSE_MS * 4), [false]);
  assert.equal(layers.update(1, 0, UNWATCHED_PAUSE_MS * 4 + 1), [true]);
});

test('a publisher that may have missed the word is told again; a new connection starts over', () => {
  const layers = new PublisherLayers();
  layers.update(2, 0, 0);
  assert.equal(layers.update(2, 0, UNWATCHED_PAUSE_MS), [true, false]);
  layers.forget();
  assert.equal(layers.update(2, 0, UNWATCHED_PAUSE_MS + 100), [true, false], 'told again');
  assert.equal(layers.update(2, 1, UNWATCHED_PAUSE_MS + 200), [true, true]);
  layers.forget();
  assert.equal(layers.update(2, 1, UNWATCHED_PAUSE_MS + 300), [true, true], 'also when everything is on');
  // A new connection sends every layer: nothing to tell until one is unwatched for the while from then.
  layers.restart();
  const reconnected = UNWATCHED_PAUSE_MS * 3;
  assert.is(layers.update(2, 0, reconnected), undefined);
  assert.is(layers.paused, 0);
  assert.equal(layers.update(2, 0, reconnected + UNWATCHED_PAUSE_MS), [true, false]);
});

test.run();
