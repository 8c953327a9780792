/**
 * The longest silence of a talker in what a page played, measured on the page's audio
 * clock with the benchmarks' probe (bench/harness/browserProbe.ts: a Goertzel filter per 5 ms
 * block at the talkers' frequencies), so a test can hold a call to "no gap over 100 ms".
 */
import type { Page } from 'playwright-core';
import { levelTrace, longestSilence, probeInitScript, readProbe } from '../../bench/harness/browserProbe';

/** The page script to install (via `joinAs(..., extraInitScript)`) on a listener. */
export function audioGapProbe(frequencies: number[]): string {
  return probeInitScript({ frequencies, videoOf: [] });
}

/** The page's `performance.now()`, the clock the probe's measurements are on. */
export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** The longest run (ms) in [from, to] (page time) during which `hz` was not heard. */
export async function longestAudioGap(page: Page, hz: number, from: number, to: number): Promise<number> {
  const data = await readProbe(page);
  return longestSilence(levelTrace(data, hz, from, to), from, to).ms;
}
