/**
 * The longest silence of a talker, and the longest freeze of a camera, in what a page played,
 * measured on the page's own clocks with the benchmarks' probe (bench/harness/browserProbe.ts:
 * a Goertzel filter per 5 ms block at the talkers' frequencies, and every presented frame of
 * the watched tiles), so a test can hold a call to "no gap over 100 ms". Works in Chromium
 * and Firefox pages alike.
 */
import { clockSlip, levelTrace, longestFreeze, longestSilence, probeInitScript, type ProbeData } from '../../bench/harness/browserProbe';
import type { ScriptedPage } from './media';

/** The page script to install (via `joinAs(..., extraInitScript)`) on a listener; `videoOf`: whose camera tiles to watch too. */
export function audioGapProbe(frequencies: number[], videoOf: string[] = []): string {
  return probeInitScript({ frequencies, videoOf });
}

/** The page's `performance.now()`, the clock the probe's measurements are on. */
export function pageNow(page: ScriptedPage): Promise<number> {
  return page.evaluate(() => performance.now(), undefined);
}

/** Everything the probe collected so far. */
function readProbe(page: ScriptedPage): Promise<ProbeData> {
  return page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { __benchProbe: unknown }).__benchProbe)) as ProbeData, undefined);
}

/** The longest run (ms) in [from, to] (page time) during which `hz` was not heard. */
export async function longestAudioGap(page: ScriptedPage, hz: number, from: number, to: number): Promise<number> {
  const data = await readProbe(page);
  return longestSilence(levelTrace(data, hz, from, to), from, to).ms;
}

/** The longest interval (ms) in [from, to] (page time) without a new frame of `name`'s camera tile (watched with `audioGapProbe`). */
export async function longestVideoFreeze(page: ScriptedPage, name: string, from: number, to: number): Promise<number> {
  const data = await readProbe(page);
  return longestFreeze(data.video[name]?.frames ?? [], from, to).ms;
}

/**
 * How far the page's audio clock fell behind its page clock over [from, to] (ms): audio the
 * machine did not render in time (a starved audio thread), which reads as a gap in every voice.
 */
export async function audioClockSlip(page: ScriptedPage, from: number, to: number): Promise<number> {
  return clockSlip(await readProbe(page), from, to);
}
