/**
 * `bench/weak-viewer.ts` — adaptive relay video with real browsers on a real bottleneck: four people on the relay,
 * three of them with 640×480 cameras (Chromium publishing simulcast; a fourth encoder would
 * make two cores, not the network, the limit), and Dan, who watches, reaching it only
 * through coturn (`?ice=relay`) behind a user-space drop-tail bottleneck
 * (tests/helpers/UdpImpairProxy.ts, rate plus a 150 ms queue).
 * Slow downlink (40% of what Dan receives at full quality): per camera at Dan and at an
 * unconstrained viewer (Ann), frame rate, longest freeze and width; Dan's longest audio gap;
 * what the relay did (layer switches, paused slots); the time back to full size after the
 * cap is lifted. Issue 18's targets: every camera ≥ 10 fps at Dan, no freeze over 1 s,
 * audio gap ≤ 100 ms, the others ≥ 90% of their frame rate at full size, full again ≤ 5 s.
 * Run: npx tsx bench/weak-viewer.ts (about a minute). Writes bench-results/weak-viewer.{json,md}.
 * Not yet here (issue 18): the uplink caps, P2P side by side, several cap levels, a plot.
 */
import type { Browser, Page } from 'playwright-core';
import { audioGapProbe, longestAudioGap, pageNow } from '../tests/helpers/audioGaps';
import { launchBrowser } from '../tests/helpers/browser';
import { coturnIce, startCoturn, type Coturn, type CoturnIce } from '../tests/helpers/coturn';
import { badgeSays, createMeeting, joinAs, meetingDetail, type Person } from '../tests/helpers/room';
import { startServer, type TestServer } from '../tests/helpers/server';
import { UdpImpairProxy } from '../tests/helpers/UdpImpairProxy';
import { waitFor } from '../tests/helpers/wait';
import { ensureClientBuilt } from './harness/run';
import { runContext, writeResults } from './harness/results';

const HZ = { Ann: 500, Ben: 700, Cat: 900, Dan: 1100 } as const;
type Name = keyof typeof HZ;
const NAMES = Object.keys(HZ) as Name[];
const CAPTURE = '&video=640x480';
/** A window whose tiles (three others and oneself) are wider than 320 px, so full quality is the 640×480 layer. */
const VIEWPORT = { width: 1600, height: 1000 };
/** How long the relay and the browsers get to adapt to a new cap before it is measured. */
const ADAPT_MS = 6000;
const MEASURED_MS = 8000;
/** How long the benchmark waits for Dan back at full size after the cap is lifted. */
const RECOVERY_LIMIT_MS = 30_000;

let coturn: Coturn;
let ice: CoturnIce;
let proxy: UdpImpairProxy;
let server: TestServer;
let browser: Browser;
const people = new Map<Name, Person>();

/** Per tile of a page, over a window: frames per second, the longest time without a new frame, and the picture width. */
interface TileWindow {
  fps: number;
  longestFreezeMs: number;
  width: number;
}

/** Watches every camera tile of `page` for `ms` (on the page's own clock): frame rate, longest freeze, width at the end. */
async function watchTiles(page: Page, names: readonly Name[], ms: number): Promise<Record<string, TileWindow>> {
  // No named functions inside: the page has no `__name` (the test runner's transform adds calls to it).
  return page.evaluate(async ([who, span]) => {
    const state = new Map(who.map((n) => [n, { first: -1, last: -1, lastChangeAt: performance.now(), longest: 0 }]));
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        for (const n of who) {
          const s = state.get(n)!;
          const v = document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"]:not([data-source="screen"]) video`);
          const frames = v && v.videoWidth > 0 ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
          if (s.first < 0) s.first = frames;
          if (frames !== s.last) {
            s.longest = Math.max(s.longest, now - s.lastChangeAt);
            s.lastChangeAt = now;
            s.last = frames;
          }
        }
        if (now - start >= span) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    const end = performance.now();
    return Object.fromEntries(who.map((n) => {
      const s = state.get(n)!;
      const width = document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"]:not([data-source="screen"]) video`)?.videoWidth ?? 0;
      return [n, { fps: s.first < 0 || s.last < 0 ? 0 : ((s.last - s.first) * 1000) / (end - start), longestFreezeMs: Math.max(s.longest, end - s.lastChangeAt), width }];
    }));
  }, [names, ms] as const);
}

/** The widths of every camera tile of `page`. */
function widths(page: Page, names: readonly Name[]): Promise<number[]> {
  return page.evaluate((who) => who.map((n) => document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"]:not([data-source="screen"]) video`)?.videoWidth ?? 0), names);
}

/** What a page's stats overlay says it gets: per camera the layer row (text, reason or pause), and the relay's estimate of its downlink. */
function overlayOf(page: Page): Promise<{ layers: Record<string, string>; estimateBps: number; videoBps: number }> {
  return page.evaluate(() => {
    const layers: Record<string, string> = {};
    for (const row of document.querySelectorAll<HTMLElement>('[data-testid="stats-layer"]')) {
      layers[row.dataset['participant'] ?? '?'] = `${row.textContent?.trim() ?? ''}${row.dataset['paused'] ? ' [paused]' : ''}`;
    }
    const downlink = document.querySelector<HTMLElement>('[data-testid="stats-downlink-estimate"]');
    return { layers, estimateBps: Number(downlink?.dataset['estimateBps'] ?? NaN), videoBps: Number(downlink?.dataset['videoBps'] ?? NaN) };
  });
}

const others = (name: Name) => NAMES.filter((n) => n !== name);
/** The cameras `name` sees (Dan's is off). */
const cameras = (name: Name) => others(name).filter((n) => n !== 'Dan');
const person = (name: Name) => people.get(name)!;

/** Four on the relay, Dan on a slow downlink: what each sees and hears, what the relay did, how long back to full size. */
async function measureSlowDownlink(): Promise<Record<string, unknown>> {
  const meeting = await createMeeting(server.url, 'Hotel Wi-Fi', 'relay');
  const probe = audioGapProbe(Object.values(HZ));
  for (const name of NAMES) {
    // Only Dan goes through coturn, behind the bottleneck.
    ice.advertise(name === 'Dan' ? proxy.port : undefined);
    people.set(name, await joinAs(browser, server.url, meeting.id, name, HZ[name], CAPTURE + (name === 'Dan' ? '&ice=relay' : ''), probe, VIEWPORT));
  }
  ice.advertise(undefined);
  for (const name of NAMES) await badgeSays(person(name), 'relay');
  // Dan watches: his camera off.
  await person('Dan').page.getByTestId('toggle-camera').click();
  await waitFor(async () => (await person('Dan').page.getByTestId('toggle-camera').getAttribute('aria-pressed')) === 'false', 10_000, "Dan's camera off");
  // Everyone sees the three others at full size.
  let seen: Record<string, number[]> = {};
  await waitFor(async () => {
    seen = Object.fromEntries(await Promise.all(NAMES.map(async (name) => [name, await widths(person(name).page, cameras(name))] as const)));
    return Object.values(seen).every((ws) => ws.every((w) => w === 640));
  }, 30_000, 'every camera at 640 wide everywhere').catch(async (error: unknown) => {
    throw new Error(`${String(error)}: widths ${JSON.stringify(seen)}; relay ${JSON.stringify((await meetingDetail(server.url, meeting.id)).relay)}; overlays ${JSON.stringify(await Promise.all(NAMES.map((n) => overlayOf(person(n).page))))}`);
  });

  // What Dan receives at full quality, through the proxy.
  proxy.resetCounters();
  const before = performance.now();
  const full = await watchTiles(person('Ann').page, cameras('Ann'), 3000);
  const fullBps = (proxy.counters().down.bytesOut * 8 * 1000) / (performance.now() - before);
  console.log(`    full: Dan receives ${Math.round(fullBps / 1000)} kbit/s; Ann sees ${JSON.stringify(full)}`);

  // The slow downlink: 40% of that, drop-tail with a 150 ms queue.
  proxy.set({ rate: { bitsPerSecond: 0.4 * fullBps, queueMs: 150 } }, 'down');
  await waitFor(async () => (await meetingDetail(server.url, meeting.id)).relay.layerSwitches! > 0, ADAPT_MS * 2, 'the relay to lower what Dan gets');
  const settle = performance.now();
  await waitFor(() => performance.now() - settle >= ADAPT_MS, ADAPT_MS + 1000, 'the adaptation to settle');
  const from = await pageNow(person('Dan').page);
  const [dan, ann] = await Promise.all([watchTiles(person('Dan').page, cameras('Dan'), MEASURED_MS), watchTiles(person('Ann').page, cameras('Ann'), MEASURED_MS)]);
  const to = await pageNow(person('Dan').page);
  const gaps = await Promise.all(cameras('Dan').map((n) => longestAudioGap(person('Dan').page, HZ[n], from, to)));
  const detail = (await meetingDetail(server.url, meeting.id)).relay;
  console.log(`    Dan's overlay: ${JSON.stringify(await overlayOf(person('Dan').page))}`);
  console.log(`    capped at ${Math.round((0.4 * fullBps) / 1000)} kbit/s: Dan sees ${JSON.stringify(dan)}, audio gaps ${gaps.map((g) => Math.round(g)).join('/')} ms; Ann sees ${JSON.stringify(ann)}; relay ${JSON.stringify(detail)}; proxy ${JSON.stringify(proxy.counters().down)}`);
  const paused: string[] = await person('Dan').page.evaluate((who) => who.filter((n: string) => document.querySelector(`[data-testid="video-tile"][data-participant="${n}"][data-paused="bandwidth"]`) !== null), cameras('Dan'));

  // The cap lifted: back to full size within seconds.
  proxy.set({ rate: null }, 'down');
  const lifted = performance.now();
  const back = await waitFor(async () => (await widths(person('Dan').page, cameras('Dan'))).every((w) => w === 640), RECOVERY_LIMIT_MS, 'Dan back at full size').then(() => true, () => false);
  const backMs = back ? Math.round(performance.now() - lifted) : null;
  console.log(back ? `    back to full size ${backMs} ms after the cap was lifted` : `    not back to full size within ${RECOVERY_LIMIT_MS / 1000} s: ${JSON.stringify(await widths(person('Dan').page, cameras('Dan')))}, overlay ${JSON.stringify(await overlayOf(person('Dan').page))}`);
  return { fullBps: Math.round(fullBps), capBps: Math.round(0.4 * fullBps), full, dan, ann, danAudioGapsMs: gaps.map(Math.round), pausedAtDan: paused, relay: detail, proxyDown: proxy.counters().down, backToFullMs: backMs };
}

async function main(): Promise<void> {
  ensureClientBuilt();
  coturn = await startCoturn();
  ice = coturnIce(coturn);
  proxy = await UdpImpairProxy.start({ target: { address: coturn.address, port: coturn.port } });
  server = await startServer({}, ice.parts);
  browser = await launchBrowser();
  try {
    const slow = await measureSlowDownlink();
    const dan = slow['dan'] as Record<string, TileWindow>;
    const ann = slow['ann'] as Record<string, TileWindow>;
    const rows = Object.keys(dan).map((n) => `| ${n} | ${dan[n]!.fps.toFixed(1)} | ${Math.round(dan[n]!.longestFreezeMs)} | ${dan[n]!.width} | ${ann[n]?.fps.toFixed(1) ?? '–'} | ${ann[n]?.width ?? '–'} |`);
    writeResults('weak-viewer', { name: 'weak-viewer', ...runContext(), slowDownlink: slow }, [
      `# Weak viewer on the relay: downlink at 40% of the full streams`,
      '',
      `Four Chromium on the relay, three 640×480 cameras publishing simulcast; Dan through coturn behind a ${Math.round(Number(slow['capBps']) / 1000)} kbit/s drop-tail bottleneck (150 ms queue).`,
      `Dan's longest audio gaps: ${(slow['danAudioGapsMs'] as number[]).join(' / ')} ms; paused at Dan: ${JSON.stringify(slow['pausedAtDan'])}; back to full size ${slow['backToFullMs'] === null ? `not within ${RECOVERY_LIMIT_MS / 1000} s` : `${String(slow['backToFullMs'])} ms`} after the cap was lifted.`,
      '',
      '| camera | fps at Dan | longest freeze at Dan (ms) | width at Dan | fps at Ann | width at Ann |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
    ].join('\n'));
  } finally {
    try {
      await browser.close();
    } finally {
      await server.dispose();
      await proxy.close();
      await coturn.stop();
    }
  }
}

await main();
