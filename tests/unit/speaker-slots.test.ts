/** Which cameras full slots show (relay/SpeakerSlots.ts): whoever speaks takes the slot of whoever spoke longest ago, not the featured one, not one just shown. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { featuredSlot, MIN_SHOWN_MS, RECENT_SPEECH_MS, speakerSwaps, type ShownCamera } from '../../relay/SpeakerSlots';

const NOW = 100_000;
const NEVER = Number.NEGATIVE_INFINITY;
const shown = (slot: string, publisherId: string, lastSpokeAt: number, order: number, extra: Partial<ShownCamera> = {}): ShownCamera => ({ slot, publisherId, lastSpokeAt, order, shownSince: 0, featured: false, ...extra });

test('a speaker takes the slot of whoever spoke longest ago; of those who never spoke, the latest joiner', () => {
  const slots = [shown('1', 'a', NOW - 5000, 0), shown('2', 'b', NEVER, 1), shown('3', 'c', NEVER, 2), shown('4', 'd', NOW - 60_000, 3)];
  assert.equal(speakerSwaps(slots, [{ publisherId: 'x', lastSpokeAt: NOW, order: 9 }], NOW), [{ slot: '3', publisherId: 'x' }]);
  const two = speakerSwaps(slots, [{ publisherId: 'x', lastSpokeAt: NOW - 100, order: 9 }, { publisherId: 'y', lastSpokeAt: NOW, order: 10 }], NOW);
  assert.equal(two, [{ slot: '3', publisherId: 'y' }, { slot: '2', publisherId: 'x' }], 'the most recent speaker first');
});

test('nobody is swapped for someone who is not speaking now, or for someone who spoke before the one shown', () => {
  const slots = [shown('1', 'a', NOW - 1000, 0)];
  assert.equal(speakerSwaps(slots, [{ publisherId: 'x', lastSpokeAt: NOW - RECENT_SPEECH_MS - 1, order: 1 }], NOW), [], 'spoke too long ago');
  assert.equal(speakerSwaps(slots, [{ publisherId: 'x', lastSpokeAt: NOW - 1500, order: 1 }], NOW), [], 'the one shown spoke after');
  assert.equal(speakerSwaps(slots, [{ publisherId: 'x', lastSpokeAt: NOW - 500, order: 1 }], NOW), [{ slot: '1', publisherId: 'x' }]);
});

test('the featured tile and a camera shown only just now keep their slots', () => {
  const slots = [shown('1', 'a', NEVER, 0, { featured: true }), shown('2', 'b', NEVER, 1, { shownSince: NOW - MIN_SHOWN_MS + 1 }), shown('3', 'c', NOW - 10_000, 2)];
  assert.equal(speakerSwaps(slots, [{ publisherId: 'x', lastSpokeAt: NOW, order: 5 }, { publisherId: 'y', lastSpokeAt: NOW, order: 6 }], NOW), [{ slot: '3', publisherId: 'x' }]);
});

test('the featured tile is the largest when it is at least twice every other; a grid has none', () => {
  const strip = (slot: string) => ({ slot, width: 200, height: 150 });
  assert.is(featuredSlot([strip('1'), { slot: '2', width: 800, height: 600 }, strip('3'), undefined]), '2');
  assert.is(featuredSlot([{ slot: '1', width: 400, height: 300 }, { slot: '2', width: 400, height: 300 }]), undefined, 'a grid');
  assert.is(featuredSlot([{ slot: '1', width: 0, height: 0 }]), undefined, 'nothing shown');
  assert.is(featuredSlot([undefined]), undefined);
});

test.run();
