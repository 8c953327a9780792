/** One viewer's video allocation (relay/allocation/allocate.ts): what a weak downlink, a small tile and priorities get. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocate, KEEP_LOWEST_SLACK, UPGRADE_HEADROOM, type LayerOffer, type SlotDemand } from '../../relay/allocation/allocate';

/** Three simulcast layers as libwebrtc sends 640×480: 160×120, 320×240, 640×480. */
const SIMULCAST: LayerOffer[] = [
  { layer: 0, bitrateBps: 100_000, width: 160, height: 120 },
  { layer: 1, bitrateBps: 300_000, width: 320, height: 240 },
  { layer: 2, bitrateBps: 900_000, width: 640, height: 480 },
];
const camera = (key: string, extra: Partial<SlotDemand> = {}): SlotDemand => ({ key, layers: SIMULCAST, priority: 0, ...extra });
const layersOf = (budget: number, slots: SlotDemand[]) => Object.fromEntries(allocate(budget, slots).map((a) => [a.key, a.layer]));

test('a wide downlink gets every camera at its best layer', () => {
  const result = allocate(10_000_000, [camera('a'), camera('b'), camera('c')]);
  assert.equal(result.map((r) => [r.layer, r.reason]), [[2, 'best'], [2, 'best'], [2, 'best']]);
});

test('a narrow downlink keeps every camera moving at a lower layer before anyone gets more', () => {
  // 1.3 Mbit/s for three cameras: all at the lowest (300k), then raised one layer each while it fits.
  assert.equal(layersOf(1_300_000, [camera('a'), camera('b'), camera('c')]), { a: 1, b: 1, c: 1 });
  // 40% of the full 2.7 Mbit/s: still every camera, never one camera at full and two paused.
  const result = allocate(0.4 * 2_700_000, [camera('a'), camera('b'), camera('c')]);
  assert.ok(result.every((r) => r.layer !== 'paused'), JSON.stringify(result));
  assert.ok(result.every((r) => r.reason === 'bandwidth'));
});

test('when even the lowest layers do not all fit, the lowest priority pauses first (a screen before cameras)', () => {
  const screen = { ...camera('screen'), priority: 1 };
  const result = allocate(250_000, [camera('a'), screen, camera('b')]);
  assert.equal(result.map((r) => [r.key, r.layer, r.reason]), [['a', 0, 'bandwidth'], ['screen', 0, 'bandwidth'], ['b', 'paused', 'bandwidth']]);
  assert.equal(layersOf(50_000, [camera('a')]), { a: 'paused' });
});

test('a small tile gets the layer that covers it, not more (and says why)', () => {
  const strip = camera('strip', { renderedWidth: 200, renderedHeight: 150 });
  const big = camera('big', { renderedWidth: 600, renderedHeight: 450 });
  const result = allocate(10_000_000, [strip, big]);
  assert.equal(result.map((r) => [r.key, r.layer, r.reason]), [['strip', 1, 'tile'], ['big', 2, 'best']]);
  // A tile larger than every layer gets the top one.
  assert.equal(layersOf(10_000_000, [camera('huge', { renderedWidth: 1920, renderedHeight: 1080 })]), { huge: 2 });
});

test('a single-layer publisher (Firefox, or no simulcast) is shown or paused, nothing between', () => {
  const single = camera('ff', { layers: [{ layer: 0, bitrateBps: 500_000, width: 640, height: 480 }] });
  assert.equal(allocate(600_000, [single]), [{ key: 'ff', layer: 0, reason: 'best' }]);
  assert.equal(layersOf(400_000, [single]), { ff: 'paused' });
});

test('hysteresis: a layer held stays while it fits; taking it (or resuming) needs headroom', () => {
  // A slot forwards one layer: layer 1 costs its 300k. Exactly that: kept when held, not taken when new.
  assert.equal(layersOf(300_000, [camera('a', { current: 1 })]), { a: 1 });
  assert.equal(layersOf(300_000, [camera('a', { current: 0 })]), { a: 0 });
  assert.equal(layersOf(100_000 + 200_000 * UPGRADE_HEADROOM, [camera('a', { current: 0 })]).a, 1);
  // Resuming a paused slot needs headroom too.
  assert.equal(layersOf(100_000, [camera('a')]), { a: 'paused' });
  assert.equal(layersOf(100_000, [camera('a', { current: 0 })]), { a: 0 });
});

test('shown cameras are not paused for a small dip of the budget below their lowest layers; a bigger dip pauses one', () => {
  const shown = () => [camera('a', { current: 0 }), camera('b', { current: 0 }), camera('c', { current: 0 })];
  // Three lowest layers cost 300k: a budget that many cost no more than the slack above it keeps all three.
  assert.equal(layersOf(300_000 / (1 + KEEP_LOWEST_SLACK) + 1, shown()), { a: 0, b: 0, c: 0 });
  // Short by more: the last is paused, and nothing is raised.
  assert.equal(layersOf(300_000 / (1 + KEEP_LOWEST_SLACK) - 1_000, shown()), { a: 0, b: 0, c: 'paused' });
  // A camera not shown yet is not resumed into a budget it does not fit with headroom.
  assert.equal(layersOf(270_000, [camera('a', { current: 0 }), camera('b', { current: 0 }), camera('c')]), { a: 0, b: 0, c: 'paused' });
});

test('a source whose layers are not measured yet is planned at a default cost; a source sending nothing takes no budget', () => {
  const fresh = camera('fresh', { layers: [{ layer: 0, bitrateBps: 0, width: 0, height: 0 }] });
  assert.equal(layersOf(1_000_000, [fresh]), { fresh: 0 });
  assert.equal(layersOf(100_000, [fresh]), { fresh: 'paused' });
  assert.equal(allocate(0, [camera('silent', { layers: [] })]), [{ key: 'silent', layer: 0, reason: 'best' }]);
});

test.run();
