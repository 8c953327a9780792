/**
 * The relay on a slow network, in Chromium: four people on the relay, three with cameras
 * that go out as two simulcast layers (480×270 and 240×135: the smallest capture libwebrtc
 * sends two layers of, two shared cores), one person at a time reaching the relay only
 * through Debian's coturn (`?ice=relay`) behind a user-space drop-tail bottleneck
 * (tests/helpers/UdpImpairProxy.ts, a rate and a 150 ms queue, in a process of its own).
 * - Slow downlink: Dan, who watches, gets 40% of what the three cameras need. Every camera
 *   keeps moving for him (lower layers, or a pause marked on the tile — not a frozen
 *   picture), the others keep full size, and he is back to full size once the cap is lifted.
 * - Slow uplink: Ann sends through 250 kbit/s. Her browser runs its send-side estimator on
 *   the relay's transport-wide feedback (it reports an available outgoing bitrate, which
 *   settles below the cap), her camera keeps moving for everyone, and she is back to full
 *   size for them once the cap is lifted.
 * What is asserted is what a user sees (frames decoded, picture sizes, the pause mark); the
 * frame rates the issue targets are measured by bench/weak-viewer.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { browserSuite } from '../helpers/browserSuite';
import { coturnIce, startCoturn, type Coturn, type CoturnIce } from '../helpers/coturn';
import { badgeSays, createMeeting, joinAs, meetingDetail, type Person } from '../helpers/room';
import { availableOutgoingBitrates, PEER_CONNECTION_TAP } from '../helpers/selectedPair';
import { startServer } from '../helpers/server';
import { ProxyProcess } from '../helpers/ProxyProcess';
import { waitFor } from '../helpers/wait';

const HZ = { Ann: 500, Ben: 700, Cat: 900, Dan: 1100 } as const;
type Name = keyof typeof HZ;
const NAMES = Object.keys(HZ) as Name[];
const CAPTURE = '&video=480x270';
const FULL_WIDTH = 480;
/** Wide enough that every tile is wider than the low layer: full quality is the top one. */
const VIEWPORT = { width: 1280, height: 800 };

// Set by the suite's start (`?.` in the cleanup: a start that failed half way left them unset).
let coturn!: Coturn;
let ice: CoturnIce;
let proxy!: ProxyProcess;
// coturn and the bottleneck in front of it first: the server is told where TURN is.
const suite = browserSuite(test, async () => {
  coturn = await startCoturn();
  ice = coturnIce(coturn);
  proxy = await ProxyProcess.start({ target: { address: coturn.address, port: coturn.port } });
  return startServer({}, ice.parts);
});
/** This test's four (closed after it by the suite). */
const people = suite.people as Person[];
test.after(async () => {
  // After the suite's own: the server is gone first.
  await proxy?.close();
  await coturn?.stop();
});

const cameraVideo = (name: string) => `[data-testid="video-tile"][data-participant="${name}"]:not([data-source="screen"]) video`;

/** Per camera shown on `page`: decoded frames and picture width (-1 when its tile has no picture). */
function cameras(page: Page, names: readonly string[]): Promise<Array<{ frames: number; width: number }>> {
  return page.evaluate(
    ([who, selector]) =>
      who.map((n) => {
        const v = document.querySelector<HTMLVideoElement>(selector.replace('%', n));
        return v && v.videoWidth > 0 ? { frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth } : { frames: -1, width: -1 };
      }),
    [names, cameraVideo('%')] as const,
  );
}

/**
 * Waits until, over one window of `windowMs`, every camera in `names` on `page` decoded
 * new frames or — when `pausedCounts` — is marked paused for bandwidth (a pause says so; a
 * frozen picture does not), and at least one of them moved.
 */
async function everyCameraMoves(page: Page, names: readonly string[], windowMs: number, timeoutMs: number, pausedCounts: boolean): Promise<void> {
  let last = '';
  await waitFor(async () => {
    const before = await cameras(page, names);
    await page.waitForTimeout(windowMs);
    const after = await cameras(page, names);
    const paused = await page.evaluate((who) => who.map((n) => document.querySelector(`[data-testid="video-tile"][data-participant="${n}"][data-paused="bandwidth"]`) !== null), names);
    last = JSON.stringify({ before, after, paused });
    const moved = names.map((_, i) => !paused[i] && before[i]!.frames >= 0 && after[i]!.frames > before[i]!.frames);
    // Paused everything is not "keeps moving": at least one camera must.
    return names.every((_, i) => (pausedCounts && paused[i]) || moved[i]) && moved.some(Boolean);
  }, timeoutMs, pausedCounts ? 'every camera moving (or marked paused) on one page' : 'every camera moving, none paused, on one page').catch((error: unknown) => {
    throw new Error(`${String(error)}: ${last}`);
  });
}

async function widthsAre(page: Page, names: readonly string[], width: number, timeoutMs: number, what: string): Promise<void> {
  let seen: unknown;
  await waitFor(async () => {
    const now = await cameras(page, names);
    seen = now;
    return now.every((c) => c.width === width);
  }, timeoutMs, what).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${JSON.stringify(seen)}`);
  });
}

const person = (name: Name) => people.find((p) => p.name === name)!;
const camerasAt = (name: Name) => NAMES.filter((n) => n !== name && n !== 'Dan');

/** Four on the relay, `through` behind the bottleneck; Dan's camera off (he watches). */
async function joinFour(title: string, through: Name): Promise<string> {
  const meeting = await createMeeting(suite.server.url, title, 'relay');
  for (const name of NAMES) {
    ice.advertise(name === through ? proxy.port : undefined);
    people.push(await joinAs(suite.browser, suite.server.url, meeting.id, name, HZ[name], CAPTURE + (name === through ? '&ice=relay' : ''), name === through ? PEER_CONNECTION_TAP : undefined, VIEWPORT));
  }
  ice.advertise(undefined);
  for (const name of NAMES) await badgeSays(person(name), 'relay', 30_000);
  await person('Dan').page.getByTestId('toggle-camera').click();
  for (const name of NAMES) await widthsAre(person(name).page, camerasAt(name), FULL_WIDTH, 40_000, `${name} sees every camera at full size`);
  return meeting.id;
}

test('slow downlink: every camera keeps moving for the weak viewer, the others keep full size, full size again after', async () => {
  const meetingId = await joinFour('Hotel Wi-Fi', 'Dan');
  // What Dan receives at full size, through the proxy.
  await proxy.resetCounters();
  const started = performance.now();
  await person('Dan').page.waitForTimeout(3000);
  const fullBps = ((await proxy.counters()).down.bytesOut * 8 * 1000) / (performance.now() - started);
  await proxy.set({ rate: { bitsPerSecond: 0.4 * fullBps, queueMs: 150 } }, 'down');
  // The relay lowers what Dan gets…
  await waitFor(async () => ((await meetingDetail(suite.server.url, meetingId)).relay.layerSwitches ?? 0) > 0, 20_000, 'the relay to lower what Dan gets');
  await widthsAre(person('Dan').page, camerasAt('Dan'), 240, 20_000, 'Dan gets the low layers').catch(() => {
    // …or pauses one of them (said on its tile): checked next.
  });
  // …and every camera moves for him (or says it is paused), while Ann still gets full size.
  await everyCameraMoves(person('Dan').page, camerasAt('Dan'), 2000, 20_000, true);
  // His overlay says why, from his browser's own transport-wide feedback: what reaches him,
  // how long it queues, and the relay's limit for his video, below the cap.
  const capBps = 0.4 * fullBps;
  await waitFor(async () => {
    const row = await person('Dan').page.getByTestId('stats-downlink-estimate').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    const limit = Number(row['limitBps']);
    return Number(row['estimateBps']) > 0 && row['queueMs'] !== undefined && limit > 0 && limit < capBps ? row : null;
  }, 20_000, "Dan's overlay to show what reaches him, its queue and the relay's limit");
  // Frames of higher temporal layers the relay leaves out while his video queues there are
  // counted, in his overlay (each second's) and the meeting's counters (how many depends on
  // how the bursts fall: the unit tests check what is left out).
  const leftOut = await person('Dan').page.getByTestId('stats-downlink-estimate').getAttribute('data-frames-left-out');
  assert.ok(Number.isInteger(Number(leftOut)) && Number(leftOut) >= 0, `frames left out: ${leftOut}`);
  assert.type((await meetingDetail(suite.server.url, meetingId)).relay.framesLeftOut, 'number');
  const ann = await cameras(person('Ann').page, camerasAt('Ann'));
  assert.ok(ann.every((c) => c.width === FULL_WIDTH), `Ann keeps full size: ${JSON.stringify(ann)}`);
  await everyCameraMoves(person('Ann').page, camerasAt('Ann'), 1000, 20_000, false);
  // The cap lifted: Dan back at full size.
  await proxy.set({ rate: null }, 'down');
  // Back through the relay's probes, half again the budget (twice after two passes), backing
  // off up to 1 s after a failure: Dan's downlink free 1.5–6.6 s after a lift in the
  // weak-viewer runs (README), and on a loaded CI machine once more than 30 s for the last camera.
  await widthsAre(person('Dan').page, camerasAt('Dan'), FULL_WIDTH, 60_000, 'Dan back at full size');
});

test('slow uplink: the publisher\'s browser estimates its uplink below the cap and stays visible to everyone, full size again after', async () => {
  await joinFour('Train', 'Ann');
  const capBps = 250_000;
  await proxy.set({ rate: { bitsPerSecond: capBps, queueMs: 150 } }, 'up');
  // Her browser estimates its uplink from the relay's transport-wide feedback (Chromium
  // reports an available outgoing bitrate only then), and the estimate comes down under the
  // cap and stays there: three readings in a row, a second apart.
  const estimates: Array<number | undefined> = [];
  await waitFor(async () => {
    estimates.push((await availableOutgoingBitrates(person('Ann').page))[0]);
    return estimates.length >= 3 && estimates.slice(-3).every((bps) => bps !== undefined && bps < capBps);
  }, 30_000, "Ann's send-side estimate to settle below the cap", 1000).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${JSON.stringify(estimates)}`);
  });
  // Past the first seconds (the browser has to learn its uplink), Ann's camera moves for
  // everyone, never paused: her uplink is slow, not their downlinks. (A viewer on this
  // saturated machine can lose packets on loopback and be limited for a moment: the
  // relay cannot tell a starved machine from a full link. It must come back by itself.)
  for (const name of ['Ben', 'Cat', 'Dan'] as const) await everyCameraMoves(person(name).page, ['Ann'], 2000, 30_000, false);
  await proxy.set({ rate: null }, 'up');
  for (const name of ['Ben', 'Cat', 'Dan'] as const) {
    await widthsAre(person(name).page, ['Ann'], FULL_WIDTH, 40_000, `${name} sees Ann at full size again`).catch(async (error: unknown) => {
      const overlay = await person('Ann').page.getByTestId('stats-overlay').innerText().catch(() => '');
      throw new Error(`${String(error)}; Ann's overlay: ${overlay.replace(/\s+/g, ' ')}`);
    });
  }
});

test.run();
