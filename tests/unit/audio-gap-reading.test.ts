/**
 * How a page's heard audio is read into gaps (bench/harness/browserProbe.ts): the tests and
 * benchmarks judge every audio gap with it, so what counts as silence must be silence.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIO_BLOCK, levelTrace, longestSilence, type ProbeData } from '../../bench/harness/browserProbe';

const RATE = 48_000;
const HZ = 900;
const BLOCK_MS = (AUDIO_BLOCK / RATE) * 1000;

/**
 * A probe that rendered blocks from page time 0 until `renderedMs` (on an audio clock that
 * fell `slipMs` behind the page's, evenly), each at `level(t)` dB, t being the block's page time.
 */
function probe(renderedMs: number, slipMs: number, level: (t: number) => number): ProbeData {
  const rows: number[][] = [];
  const clock: [number, number][] = [];
  const blocks = Math.floor(((renderedMs - slipMs) / 1000) * RATE / AUDIO_BLOCK);
  for (let i = 0; i < blocks; i++) {
    const frame = i * AUDIO_BLOCK;
    const audioMs = (frame / RATE) * 1000;
    // The page time at which this block was rendered: later and later as the clock slips.
    const pageMs = audioMs * (renderedMs / (renderedMs - slipMs));
    rows.push([frame, level(audioMs)]);
    if (i % 8 === 0) clock.push([pageMs, frame + AUDIO_BLOCK]);
  }
  return {
    timeOrigin: 0, sampleRate: RATE, frequencies: [HZ], signals: [],
    audio: [{ key: 'mix', kind: 'relay', attachedAt: 0, detachedAt: null, attachedFrame: 0, audible: [[0, true]], rows }],
    clock, video: {}, audioElements: [], pcs: [], pcCloses: [], longTasks: [], errors: [],
  };
}

test('a tone heard throughout has no gap, even when the page’s audio clock fell behind', () => {
  const data = probe(6000, 190, () => -20);
  const gap = longestSilence(levelTrace(data, HZ, 0, 6000), 0, 6000);
  assert.ok(gap.ms <= BLOCK_MS, `a gap of ${gap.ms} ms at ${gap.at}: the blocks not rendered yet were read as silence`);
});

test('a silence the page rendered is a gap, where it was', () => {
  const data = probe(6000, 0, (t) => (t >= 3000 && t < 3300 ? -90 : -20));
  const gap = longestSilence(levelTrace(data, HZ, 0, 6000), 0, 6000);
  assert.ok(Math.abs(gap.ms - 300) <= 2 * BLOCK_MS, `gap ${gap.ms} ms`);
  assert.ok(Math.abs(gap.at! - 3000) <= 2 * BLOCK_MS, `at ${gap.at}`);
});

test('a silence that lasts to the end of the window is a gap to its end', () => {
  const data = probe(6000, 0, (t) => (t >= 5000 ? -90 : -20));
  const gap = longestSilence(levelTrace(data, HZ, 0, 6000), 0, 6000);
  assert.ok(Math.abs(gap.ms - 1000) <= 2 * BLOCK_MS, `gap ${gap.ms} ms`);
});

test('a page that rendered nothing at all heard nothing: the whole window is a gap', () => {
  const data = probe(6000, 0, () => -20);
  data.audio = [];
  assert.is(longestSilence(levelTrace(data, HZ, 0, 6000), 0, 6000).ms, 6000);
});

test.run();
