/**
 * `bench/weak-viewer.ts` — the relay and P2P side by side under the same caps, with real
 * Chromium on a real bottleneck (issue 18, item 7).
 *
 * Setups (the coordinator picks the path by size: a meeting of four is on the relay, a call
 * of two is P2P — coordinator/topology/TopologyController.ts):
 * - relay: Ann, Ben, Cat with 640×480 cameras (Chromium publishes simulcast), Dan watching
 *   (camera off), 1600×1000 windows so full quality is the 640-wide layer;
 * - P2P: Ann (camera) and Dan (camera off), the same windows.
 * In both, Dan and Ann reach the media only through coturn (`?ice=relay`), each behind a
 * user-space drop-tail bottleneck of their own (tests/helpers/UdpImpairProxy.ts, each in a
 * process of its own: tests/helpers/ProxyProcess.ts; 150 ms queue); Ben and Cat are direct.
 *
 * Per setup: what Dan receives at full quality (measured first, in the same run); Dan's
 * downlink capped at 100/60/40/20% of it; then Ann's uplink at 600/300/150 kbit/s. Each
 * cell: frame rate, width and longest freeze per camera at the capped person and at an
 * unconstrained viewer (Ben, relay only: a call of two has no other viewer), the longest
 * audio gap per talker, and the time back to full quality after the cap is lifted.
 * Then what layers cost: a relay meeting of four with simulcast and one with `?layers=1`
 * (one layer), no cap: video each publisher sends (outbound-rtp bytesSent, every layer) and
 * the media worker processes' CPU per participant.
 *
 * Run: npx tsx bench/weak-viewer.ts [--only downlink,uplink,layers] [--setup relay|p2p] [--percents 40] [--kbps 300]
 * (the whole matrix takes about 15 minutes on two cores). Writes bench-results/weak-viewer.{json,md,svg}
 * and docs/bench/weak-viewer.{json,svg} (kept in git); a subset writes bench-results/weak-viewer-subset.{json,md,svg}.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import type { Browser, Page } from 'playwright-core';
import type { TopologyPreference } from '../protocol/rest';
import { clockSlip, levelTrace, longestSilence, readProbe } from './harness/browserProbe';
import { descendantPids, machineJiffies, procCpuSeconds } from './harness/cpu';
import { describeRun, runContext, writeResult, writeResults, type BrowserRunContext } from './harness/results';
import { codeState, codeVersion, ensureClientBuilt, ROOT } from './harness/run';
import { overlayOf, PEER_CONNECTION_REGISTRY, receivedVideo, sentVideo, tileStates, watchTiles, type ReceivedVideoStream, type SentVideoStream } from './harness/tileWatch';
import {
  framesText, weakViewerMarkdown, weakViewerSvg,
  type DownlinkCell, type FreshStart, type FullQuality, type LayersCost, type Setup, type Views, type WeakViewerResult,
} from './harness/weakViewerResults';
import { audioGapProbe, pageNow } from '../tests/helpers/audioGaps';
import { launchBrowser } from '../tests/helpers/browser';
import { coturnIce, startCoturn, type Coturn, type CoturnIce } from '../tests/helpers/coturn';
import { badgeSays, createMeeting, joinAs, meetingDetail, type Person } from '../tests/helpers/room';
import { startServer, type TestServer } from '../tests/helpers/server';
import { ProxyProcess } from '../tests/helpers/ProxyProcess';
import { waitFor } from '../tests/helpers/wait';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

// Its traffic stays on loopback, in a network namespace of its own (scripts/privateNetwork.ts).
await runInPrivateNetwork('bench/weak-viewer');

const HZ = { Ann: 500, Ben: 700, Cat: 900, Dan: 1100 } as const;
type Name = keyof typeof HZ;
const CAPTURE = '&video=640x480';
/** Tiles wider than 320 px with four in the grid, so full quality is the 640×480 layer. */
const VIEWPORT = { width: 1600, height: 1000 };
const DOWNLINK_PERCENTS = [100, 60, 40, 20];
const UPLINK_KBPS = [600, 300, 150];
const QUEUE_MS = 150;
/** How long full quality is measured (the caps' reference), once what Dan receives stopped growing (limit). */
const FULL_MS = 4000;
const STEADY_LIMIT_MS = 24_000;
/** After a cap is set: the adaptation (its freezes reported apart), then the measured window. */
const ADAPT_MS = 5000;
const MEASURED_MS = 6000;
/** How long a cell waits for full quality after its cap is lifted. */
const RECOVERY_LIMIT_MS = 20_000;
/** Full quality, checked over one window: full width, unpaused, at least this share of the full frame rate. */
const FULL_CHECK_MS = 1000;
const FULL_FPS_SHARE = 0.7;
/** How long everyone gets to reach full size after joining. */
const FULL_SIZE_LIMIT_MS = 30_000;
/** The layers-cost window, after a warm-up. */
const COST_WARMUP_MS = 3000;
const COST_MS = 10_000;

const SETUPS: Record<Setup, { members: Name[]; topology: TopologyPreference; description: string }> = {
  relay: {
    members: ['Ann', 'Ben', 'Cat', 'Dan'],
    topology: 'relay',
    description: 'four on the relay (a meeting of four always is): Ann, Ben, Cat with 640×480 cameras (Chromium simulcast), Dan camera off; Dan and Ann reach the relay only through coturn (`?ice=relay`), each behind a bottleneck of their own; Ben and Cat direct; 1600×1000 windows',
  },
  p2p: {
    members: ['Ann', 'Dan'],
    topology: 'auto',
    description: "a call of two (P2P, the browsers' own congestion control): Ann with a 640×480 camera, Dan camera off, both through coturn (`?ice=relay`), each behind a bottleneck of their own; 1600×1000 windows",
  },
};

type Part = 'downlink' | 'uplink' | 'layers';

/** `--only a,b`, `--setup s`, `--percents 40,20` and `--kbps 300` from argv. */
function choices(argv: readonly string[]): { parts: Set<Part>; setups: Setup[]; percents: number[]; kbps: number[] } {
  const value = (name: string) => {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  };
  const parts = (value('only') ?? 'downlink,uplink,layers').split(',') as Part[];
  for (const p of parts) if (!['downlink', 'uplink', 'layers'].includes(p)) throw new Error(`--only takes downlink, uplink, layers (got ${p})`);
  const setup = value('setup');
  if (setup !== undefined && setup !== 'relay' && setup !== 'p2p') throw new Error(`--setup takes relay or p2p (got ${setup})`);
  const numbers = (name: string, all: number[]) => {
    const list = value(name)?.split(',').map(Number) ?? all;
    for (const n of list) if (!all.includes(n)) throw new Error(`--${name} takes some of ${all.join(',')} (got ${n})`);
    return list;
  };
  return { parts: new Set(parts), setups: setup ? [setup] : ['relay', 'p2p'], percents: numbers('percents', DOWNLINK_PERCENTS), kbps: numbers('kbps', UPLINK_KBPS) };
}

/** coturn, the two bottlenecks (Dan's, Ann's), the coordinator and the browser. */
interface Lab {
  coturn: Coturn;
  ice: CoturnIce;
  /** Between Dan and coturn: his downlink is capped on `down`. */
  danLink: ProxyProcess;
  /** Between Ann and coturn: her uplink is capped on `up`. */
  annLink: ProxyProcess;
  server: TestServer;
  browser: Browser;
}

/** How a meeting is joined: through the bottlenecks or direct, with more query (e.g. `&layers=1`). */
interface JoinOptions {
  capped: boolean;
  query?: string;
}

/** A meeting of some of the four: who is in it, the cameras each sees; people join, leave and rejoin. */
class Meeting {
  private readonly people = new Map<Name, Person>();
  private readonly probe = audioGapProbe(Object.values(HZ)) + PEER_CONNECTION_REGISTRY;

  private constructor(
    private readonly lab: Lab,
    readonly id: string,
    private readonly mode: 'relay' | 'p2p',
    private readonly options: JoinOptions,
  ) {}

  /** Opens a meeting of `members`: each joins (Dan and Ann through their bottlenecks when `capped`), the path settles, Dan's camera goes off. */
  static async open(lab: Lab, members: Name[], topology: TopologyPreference, options: JoinOptions): Promise<Meeting> {
    const created = await createMeeting(lab.server.url, 'Weak viewer', topology);
    const meeting = new Meeting(lab, created.id, members.length > 2 || topology === 'relay' ? 'relay' : 'p2p', options);
    for (const name of members) await meeting.join(name);
    for (const name of members) await badgeSays(meeting.people.get(name)!, meeting.mode, 30_000);
    return meeting;
  }

  page(name: Name): Page {
    return this.people.get(name)!.page;
  }

  get names(): Name[] {
    return [...this.people.keys()];
  }

  /** The cameras `viewer` sees (Dan's is off). */
  cameras(viewer: Name): Name[] {
    return this.names.filter((n) => n !== viewer && n !== 'Dan');
  }

  /** `name` leaves and joins again as a new participant (fresh connections, fresh estimates). */
  async rejoin(name: Name): Promise<void> {
    await this.leave(name);
    await this.join(name);
    await badgeSays(this.people.get(name)!, this.mode, 30_000);
  }

  /** Everyone leaves (the meeting ends at once) and closes. */
  async close(): Promise<void> {
    for (const name of this.names) await this.leave(name);
  }

  private async join(name: Name): Promise<void> {
    const link = !this.options.capped ? undefined : name === 'Dan' ? this.lab.danLink : name === 'Ann' ? this.lab.annLink : undefined;
    // TURN credentials and URL are handed out at join: only this person gets the bottleneck's port.
    this.lab.ice.advertise(link?.port);
    try {
      const query = CAPTURE + (link ? '&ice=relay' : '') + (this.options.query ?? '');
      this.people.set(name, await joinAs(this.lab.browser, this.lab.server.url, this.id, name, HZ[name], query, this.probe, VIEWPORT));
    } finally {
      this.lab.ice.advertise(undefined);
    }
    if (name === 'Dan') {
      // Dan watches.
      const page = this.page('Dan');
      await page.getByTestId('toggle-camera').click();
      await waitFor(async () => (await page.getByTestId('toggle-camera').getAttribute('aria-pressed')) === 'false', 10_000, "Dan's camera off");
    }
  }

  private async leave(name: Name): Promise<void> {
    const person = this.people.get(name);
    if (!person) return;
    this.people.delete(name);
    await person.page.getByTestId('leave-meeting').click().catch(() => undefined);
    await person.context.close();
  }
}

/** The cameras each viewer should show: `who` maps a viewer to the cameras watched. */
type Watchers = Partial<Record<Name, Name[]>>;

/** Waits (up to a limit) until every watched camera is 640 wide; returns the widths reached: full quality for this run. */
async function reachFullSize(meeting: Meeting, watchers: Watchers): Promise<Record<string, Record<string, number>>> {
  let seen: Record<string, Record<string, number>> = {};
  const read = async () => {
    seen = Object.fromEntries(await Promise.all(Object.entries(watchers).map(async ([v, cams]) => [v, Object.fromEntries(Object.entries(await tileStates(meeting.page(v as Name), cams)).map(([n, s]) => [n, s.width]))] as const)));
    return Object.values(seen).every((ws) => Object.values(ws).every((w) => w >= 640));
  };
  const full = await waitFor(read, FULL_SIZE_LIMIT_MS, 'every camera at 640 wide', 250).then(() => true, () => false);
  if (!full) console.log(`    not every camera reached 640 wide within ${FULL_SIZE_LIMIT_MS / 1000} s: ${JSON.stringify(seen)} (these widths count as full quality)`);
  return seen;
}

/** Watches every viewer's cameras for `ms` at once; each viewer's window on its own page clock (for the audio gaps). */
async function watch(meeting: Meeting, watchers: Watchers, ms: number): Promise<{ views: Views; windows: Record<string, [number, number]> }> {
  const rows = await Promise.all(Object.entries(watchers).map(async ([v, cams]) => {
    const page = meeting.page(v as Name);
    const from = await pageNow(page);
    const tiles = await watchTiles(page, cams, ms);
    return [v, tiles, [from, await pageNow(page)] as [number, number]] as const;
  }));
  return { views: Object.fromEntries(rows.map(([v, tiles]) => [v, tiles])), windows: Object.fromEntries(rows.map(([v, , w]) => [v, w])) };
}

/**
 * The longest gap (ms) of each talker in what `listener` played over its page-time window,
 * and how far the page's audio clock fell behind its page clock meanwhile (ms): a gap that
 * slip explains is the machine's (the audio render thread starved), not the network's.
 */
async function audioGaps(meeting: Meeting, listener: Name, talkers: Name[], [from, to]: [number, number]): Promise<{ gaps: Record<string, number>; at: Record<string, number | null>; clockSlipMs: number }> {
  const data = await readProbe(meeting.page(listener), [from, to]);
  const silences = talkers.map((t) => [t, longestSilence(levelTrace(data, HZ[t], from, to), from, to)] as const);
  return {
    gaps: Object.fromEntries(silences.map(([t, s]) => [t, Math.round(s.ms)])),
    at: Object.fromEntries(silences.map(([t, s]) => [t, s.at === null || s.ms === 0 ? null : Math.round(s.at - from)])),
    clockSlipMs: clockSlip(data, from, to),
  };
}

/**
 * What keeps the watched cameras from full quality over one second: each camera below its
 * full-quality width, paused, or moving at < 70% of its full-quality frame rate (a frozen
 * picture keeps its width), as "viewer←camera why"; none: at full quality.
 */
async function shortOfFull(meeting: Meeting, watchers: Watchers, reference: Views): Promise<string[]> {
  const { views } = await watch(meeting, watchers, FULL_CHECK_MS);
  const short: string[] = [];
  for (const [v, cams] of Object.entries(watchers)) {
    const states = await tileStates(meeting.page(v as Name), cams);
    for (const c of cams) {
      const ref = reference[v]?.[c];
      const seen = views[v]![c]!;
      const why = states[c]!.paused ? 'paused' : seen.width < (ref?.width ?? 640) ? `${seen.width} wide` : seen.fps < FULL_FPS_SHARE * (ref?.fps ?? 15) ? `${seen.fps} fps` : undefined;
      if (why) short.push(`${v}←${c} ${why}`);
    }
  }
  return short;
}

async function atFullQuality(meeting: Meeting, watchers: Watchers, reference: Views): Promise<boolean> {
  const short = await shortOfFull(meeting, watchers, reference);
  if (short.length > 0) console.log(`  short of full quality: ${short.join(', ')}`);
  return short.length === 0;
}

/**
 * Time (ms) from `since` to the end of the first second at full quality (null past the limit),
 * and what held it back each second before: the cameras short of full, and what each viewer
 * that was short received meanwhile (its inbound video streams' counters over that second),
 * to tell a picture the relay did not send from one the browser did not decode.
 */
async function timeBackToFull(meeting: Meeting, watchers: Watchers, reference: Views, since: number): Promise<{ ms: number | null; heldBy: string[] }> {
  const heldBy: string[] = [];
  const viewers = Object.keys(watchers) as Name[];
  let before = await Promise.all(viewers.map((v) => receivedVideo(meeting.page(v))));
  while (performance.now() - since < RECOVERY_LIMIT_MS) {
    const short = await shortOfFull(meeting, watchers, reference);
    const at = Math.round(performance.now() - since);
    if (short.length === 0) return { ms: at, heldBy };
    const after = await Promise.all(viewers.map((v) => receivedVideo(meeting.page(v))));
    const received = viewers.filter((v) => short.some((s) => s.startsWith(`${v}←`))).map((v) => `${v} got ${receivedText(before[viewers.indexOf(v)]!, after[viewers.indexOf(v)]!)}`);
    // What the short cameras' publishers send now, and why no more (their browser's own reason: bandwidth or cpu).
    const publishers = [...new Set(short.map((s) => s.split('←')[1]!.split(' ')[0] as Name))];
    const sent = await Promise.all(publishers.map(async (p) => `${p} sends ${(await sentVideo(meeting.page(p))).map((l) => `${l.width}@${l.fps ?? 0} ${Math.round(l.targetBps / 1000)}k ${l.limitedBy}`).join(', ')}`));
    heldBy.push(`${(at / 1000).toFixed(1)} s ${short.join(', ')} [${[...received, ...sent].join('; ')}]`);
    before = after;
  }
  return { ms: null, heldBy };
}

/** A viewer's received video streams over a stretch: per stream that got packets, its width and what changed ("640: pkt 90 rcv 14 dec 14 drop 0 key 0 lost 0 nack 0 pli 0"). */
function receivedText(before: ReceivedVideoStream[], after: ReceivedVideoStream[]): string {
  return after
    .map((now) => {
      const was = before.find((b) => b.mid === now.mid);
      const d = (k: keyof Omit<ReceivedVideoStream, 'mid' | 'width'>) => now[k] - (was?.[k] ?? 0);
      if (d('packetsReceived') === 0) return undefined;
      return `${now.width}: pkt ${d('packetsReceived')} rcv ${d('framesReceived')} dec ${d('framesDecoded')} drop ${d('framesDropped')} key ${d('keyFramesDecoded')} lost ${d('packetsLost')} nack ${d('nackCount')} pli ${d('pliCount')}`;
    })
    .filter((t) => t !== undefined)
    .join(', ');
}

/** Relay counters of interest: layer switches so far. */
async function layerSwitches(lab: Lab, meeting: Meeting): Promise<number> {
  return (await meetingDetail(lab.server.url, meeting.id)).relay.layerSwitches ?? 0;
}

/** Frames the meeting's mixer has concealed so far (a talker's packet missing or late at the relay). */
async function concealedFrames(lab: Lab, meeting: Meeting): Promise<number> {
  return (await meetingDetail(lab.server.url, meeting.id)).relay.concealedFrames ?? 0;
}

/** Which of `cameras` are paused for bandwidth on `page`. */
async function pausedOn(page: Page, cameras: Name[]): Promise<string[]> {
  const states = await tileStates(page, cameras);
  return cameras.filter((c) => states[c]!.paused);
}

/** Waits (up to a limit) until what Dan receives stops growing (a browser's estimate ramps up for seconds after a join): 2 s windows, steady when one grows less than 10% over the last. */
async function waitForSteadyRate(lab: Lab): Promise<number[]> {
  const rates: number[] = [];
  let last = (await lab.danLink.counters()).down;
  let at = performance.now();
  await waitFor(async () => {
    if (performance.now() - at < 2000) return false;
    const now = (await lab.danLink.counters()).down;
    rates.push(Math.round(((now.bytesOut - last.bytesOut + 28 * (now.out - last.out)) * 8) / ((performance.now() - at) / 1000)));
    last = now;
    at = performance.now();
    return rates.length >= 2 && rates.at(-1)! < 1.1 * rates.at(-2)!;
  }, STEADY_LIMIT_MS, "Dan's downlink rate to stop growing", 100).catch(() => console.log(`    Dan's rate still growing after ${STEADY_LIMIT_MS / 1000} s: ${rates.join(', ')} bit/s`));
  return rates;
}

/** Full quality: what Dan receives and Ann sends through their bottlenecks, and what every viewer sees. */
async function measureFull(lab: Lab, meeting: Meeting, watchers: Watchers): Promise<FullQuality> {
  await waitForSteadyRate(lab);
  await lab.danLink.resetCounters();
  await lab.annLink.resetCounters();
  const start = performance.now();
  const { views } = await watch(meeting, watchers, FULL_MS);
  const seconds = (performance.now() - start) / 1000;
  // The bottleneck counts payload + 28 bytes per datagram: the cap is set in the same terms.
  const rate = (c: { bytesOut: number; out: number }) => Math.round(((c.bytesOut + 28 * c.out) * 8) / seconds);
  return { downBps: rate((await lab.danLink.counters()).down), upBps: rate((await lab.annLink.counters()).up), views };
}

/** One cap: set it, watch the adaptation and the measured window, lift it, time the way back. */
async function runCell(
  lab: Lab, setup: Setup, meeting: Meeting, link: ProxyProcess, direction: 'up' | 'down', capBps: number,
  watchers: Watchers, listeners: Array<[Name, Name[]]>, reference: Views, cappedViewer: Name,
): Promise<Omit<DownlinkCell, 'percent' | 'freshStart' | 'startedAtFull'>> {
  const switchesBefore = setup === 'relay' ? await layerSwitches(lab, meeting) : 0;
  await link.resetCounters();
  await link.set({ rate: { bitsPerSecond: capBps, queueMs: QUEUE_MS } }, direction);
  const adapting = await watch(meeting, watchers, ADAPT_MS);
  const machineBefore = machineSample();
  const receivedBefore = await receivedVideo(meeting.page(cappedViewer));
  const concealedBefore = setup === 'relay' ? await concealedFrames(lab, meeting) : 0;
  const measured = await watch(meeting, watchers, MEASURED_MS);
  const concealed = setup === 'relay' ? (await concealedFrames(lab, meeting)) - concealedBefore : 0;
  const cappedReceived = receivedText(receivedBefore, await receivedVideo(meeting.page(cappedViewer)));
  const machine = machineBetween(machineBefore, machineSample());
  const heard = await Promise.all(listeners.map(async ([listener, talkers]) => [listener, await audioGaps(meeting, listener, talkers, measured.windows[listener]!)] as const));
  const audioGapsMs = Object.fromEntries(heard.map(([listener, h]) => [listener, h.gaps]));
  const audioGapAtMs = Object.fromEntries(heard.map(([listener, h]) => [listener, h.at]));
  const audioClockSlipMs = Object.fromEntries(heard.map(([listener, h]) => [listener, h.clockSlipMs]));
  const relay = setup === 'relay'
    ? { layerSwitches: (await layerSwitches(lab, meeting)) - switchesBefore, pausedAtEnd: await pausedOn(meeting.page(cappedViewer), meeting.cameras(cappedViewer)), overlay: await overlayOf(meeting.page(cappedViewer)), concealedFrames: concealed }
    : undefined;
  const counters = (await link.counters())[direction];
  await link.set({ rate: null }, direction);
  const back = await timeBackToFull(meeting, watchers, reference, performance.now());
  return { setup, capBps: Math.round(capBps), machineBusyCores: machine.busyCores, otherCores: machine.otherCores, adapting: adapting.views, measured: measured.views, audioGapsMs, audioGapAtMs, audioClockSlipMs, backToFullMs: back.ms, backHeldBy: back.heldBy, cappedReceived, bottleneck: { queueDropped: counters.queueDropped, maxQueueMs: Math.round(counters.maxQueueMs) }, ...(relay ? { relay } : {}) };
}

/** One cap of the matrix: Dan's downlink at a share of his full rate, or Ann's uplink at a rate. */
type CapSpec = { kind: 'downlink'; percent: number } | { kind: 'uplink'; kbps: number };

/**
 * One setup: full quality, then each downlink cap on Dan, then each uplink cap on Ann. Each
 * cell starts from full quality: when the previous one did not get back to it within the
 * limit, its capped person rejoins (fresh connections and estimates), and if even that does
 * not bring full quality back, the cell runs in a new meeting (`freshStart`); no cell
 * inherits another's state.
 */
async function runSetup(lab: Lab, setup: Setup, { parts, percents, kbps }: ReturnType<typeof choices>, result: WeakViewerResult): Promise<void> {
  console.log(`\n${setup}: ${SETUPS[setup].description}`);
  const open = () => Meeting.open(lab, SETUPS[setup].members, SETUPS[setup].topology, { capped: true });
  let meeting = await open();
  try {
    const all: Watchers = Object.fromEntries(meeting.names.map((v) => [v, meeting.cameras(v)]));
    await reachFullSize(meeting, all);
    const full = await measureFull(lab, meeting, all);
    result.full[setup] = full;
    console.log(`  full: Dan receives ${Math.round(full.downBps / 1000)} kbit/s, Ann sends ${Math.round(full.upBps / 1000)} kbit/s; ${JSON.stringify(full.views)}`);
    const caps: CapSpec[] = [
      ...(parts.has('downlink') ? percents.map((percent) => ({ kind: 'downlink' as const, percent })) : []),
      ...(parts.has('uplink') ? kbps.map((rate) => ({ kind: 'uplink' as const, kbps: rate })) : []),
    ];
    let lastCapped: Name | null = null;
    for (const cap of caps) {
      // Full quality first: the previous cell's capped person rejoins, or, failing that, a new meeting.
      let freshStart: FreshStart = null;
      let startedAtFull = await atFullQuality(meeting, all, full.views);
      if (!startedAtFull && lastCapped) {
        freshStart = `${lastCapped} rejoined`;
        await meeting.rejoin(lastCapped);
        await reachFullSize(meeting, all);
        await waitForSteadyRate(lab);
        startedAtFull = await atFullQuality(meeting, all, full.views);
        if (!startedAtFull) {
          freshStart = 'new meeting';
          await meeting.close();
          meeting = await open();
          await reachFullSize(meeting, all);
          await waitForSteadyRate(lab);
          startedAtFull = await atFullQuality(meeting, all, full.views);
        }
        console.log(`  (${freshStart} before the next cell${startedAtFull ? '' : '; still not at full quality'})`);
      }
      lastCapped = cap.kind === 'downlink' ? 'Dan' : 'Ann';
      if (cap.kind === 'downlink') {
        // Dan, and Ben where there is a Ben (a call of two has no other viewer); each hears every other.
        const watchers: Watchers = setup === 'relay' ? { Dan: meeting.cameras('Dan'), Ben: meeting.cameras('Ben') } : { Dan: meeting.cameras('Dan') };
        const listeners: Array<[Name, Name[]]> = Object.keys(watchers).map((v) => [v as Name, meeting.names.filter((n) => n !== v)]);
        const cell = await runCell(lab, setup, meeting, lab.danLink, 'down', (full.downBps * cap.percent) / 100, watchers, listeners, full.views, 'Dan');
        result.downlink.push({ percent: cap.percent, freshStart, startedAtFull, ...cell });
        console.log(`  downlink ${cap.percent}% (${Math.round(cell.capBps / 1000)} kbit/s${freshStart ? `, ${freshStart}` : ''}): Dan ${JSON.stringify(cell.measured['Dan'])}, gaps ${JSON.stringify(cell.audioGapsMs)} at ${JSON.stringify(cell.audioGapAtMs)} ms into the window (clock slip ${JSON.stringify(cell.audioClockSlipMs)}; the relay concealed ${cell.relay ? framesText(cell.relay.concealedFrames) : '–'}); Ben ${JSON.stringify(cell.measured['Ben'] ?? null)}; Dan's browser got [${cell.cappedReceived}]; back ${cell.backToFullMs} ms (${cell.backHeldBy.join('; ') || 'at once'}); machine ${cell.machineBusyCores} (others ${cell.otherCores}); ${JSON.stringify(cell.relay ?? {})}`);
      } else {
        // Ann's camera at every viewer; Ann's voice at every listener.
        const viewers = meeting.names.filter((n) => n !== 'Ann');
        const watchers: Watchers = Object.fromEntries(viewers.map((v) => [v, ['Ann']]));
        const listeners: Array<[Name, Name[]]> = viewers.map((v) => [v, ['Ann']]);
        const cell = await runCell(lab, setup, meeting, lab.annLink, 'up', cap.kbps * 1000, watchers, listeners, full.views, 'Dan');
        result.uplink.push({ kbps: cap.kbps, freshStart, startedAtFull, ...cell });
        console.log(`  uplink ${cap.kbps} kbit/s${freshStart ? ` (${freshStart})` : ''}: ${JSON.stringify(cell.measured)}, gaps ${JSON.stringify(cell.audioGapsMs)} at ${JSON.stringify(cell.audioGapAtMs)} ms into the window (clock slip ${JSON.stringify(cell.audioClockSlipMs)}; the relay concealed ${cell.relay ? framesText(cell.relay.concealedFrames) : '–'}); back ${cell.backToFullMs} ms (${cell.backHeldBy.join('; ') || 'at once'}); machine ${cell.machineBusyCores} (others ${cell.otherCores}); switches ${cell.relay?.layerSwitches ?? '–'}`);
      }
    }
  } finally {
    await meeting.close();
  }
}

/** The machine's busy jiffies and this benchmark's CPU seconds (this process and every descendant: the browsers, coturn, the media workers) at one moment. */
function machineSample(): { jiffies: { busy: number; irq: number; total: number }; ownS: number; at: number } {
  let ownS = procCpuSeconds(process.pid);
  for (const pid of descendantPids(process.pid)) {
    try {
      ownS += procCpuSeconds(pid);
    } catch {
      // exited meanwhile
    }
  }
  return { jiffies: machineJiffies(), ownS, at: performance.now() };
}

/** Busy cores between two samples: the whole machine's, and those of programs outside this benchmark (other work on the machine disturbing the figures). */
function machineBetween(a: ReturnType<typeof machineSample>, b: ReturnType<typeof machineSample>): { busyCores: number; otherCores: number } {
  const share = (x: number) => (x / Math.max(1, b.jiffies.total - a.jiffies.total)) * cpus().length;
  const busy = share(b.jiffies.busy - a.jiffies.busy);
  // Interrupt handling is mostly the kernel moving this benchmark's own loopback UDP.
  const irq = share(b.jiffies.irq - a.jiffies.irq);
  const own = (b.ownS - a.ownS) / ((b.at - a.at) / 1000);
  return { busyCores: Math.round(busy * 100) / 100, otherCores: Math.round(Math.max(0, busy - irq - own) * 100) / 100 };
}

/** CPU seconds of the coordinator's media worker processes (the relay and the mixer) alive now. */
function mediaWorkerCpuSeconds(): number {
  let total = 0;
  for (const pid of descendantPids(process.pid)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('mediaWorker')) total += procCpuSeconds(pid);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Video each publisher sent over a window, per stream (SSRC), from two outbound-rtp readings. */
function sentBetween(before: SentVideoStream[], after: SentVideoStream[], seconds: number): LayersCost['publishers'][string] {
  const streams = after.map((s) => {
    const was = before.find((b) => b.ssrc === s.ssrc)?.bytesSent ?? 0;
    return { width: s.width, fps: Math.round(s.fps), kbps: Math.round(((s.bytesSent - was) * 8) / seconds / 1000) };
  }).filter((s) => s.kbps > 0 || s.width > 0).sort((a, b) => a.width - b.width);
  return { kbps: streams.reduce((sum, s) => sum + s.kbps, 0), streams };
}

/** A relay meeting of four with no cap, everyone direct, publishing simulcast or one layer: what it costs. */
async function measureLayersCost(lab: Lab, layers: LayersCost['layers']): Promise<LayersCost> {
  const meeting = await Meeting.open(lab, SETUPS.relay.members, 'relay', { capped: false, query: layers === 'one' ? '&layers=1' : '' });
  try {
    await reachFullSize(meeting, Object.fromEntries(meeting.names.map((v) => [v, meeting.cameras(v)])));
    await watch(meeting, { Ben: meeting.cameras('Ben') }, COST_WARMUP_MS);
    const publishers = meeting.cameras('Dan');
    const sent0 = await Promise.all(publishers.map((p) => sentVideo(meeting.page(p))));
    const cpu0 = mediaWorkerCpuSeconds();
    const machine0 = machineSample();
    const start = performance.now();
    const { views } = await watch(meeting, { Ben: meeting.cameras('Ben') }, COST_MS);
    const sent1 = await Promise.all(publishers.map((p) => sentVideo(meeting.page(p))));
    const seconds = (performance.now() - start) / 1000;
    const relayCores = (mediaWorkerCpuSeconds() - cpu0) / seconds;
    const machine = machineBetween(machine0, machineSample());
    return {
      layers,
      seconds: Math.round(seconds * 10) / 10,
      publishers: Object.fromEntries(publishers.map((p, i) => [p, sentBetween(sent0[i]!, sent1[i]!, seconds)])),
      relayCores: Math.round(relayCores * 10_000) / 10_000,
      relayCoresPerParticipant: Math.round((relayCores / meeting.names.length) * 10_000) / 10_000,
      machineCores: machine.busyCores,
      otherCores: machine.otherCores,
      seenByBen: views['Ben'] ?? {},
    };
  } finally {
    await meeting.close();
  }
}

async function main(): Promise<void> {
  const chosen = choices(process.argv.slice(2));
  const { parts, setups, percents, kbps } = chosen;
  ensureClientBuilt();
  const loadStart = loadavg();
  const code = codeState();
  const coturn = await startCoturn();
  const ice = coturnIce(coturn);
  // Each link in a process of its own: in this one, Playwright stalls the loop for up to half a second (ProxyProcess).
  const danLink = await ProxyProcess.start({ target: { address: coturn.address, port: coturn.port } });
  const annLink = await ProxyProcess.start({ target: { address: coturn.address, port: coturn.port } });
  const server = await startServer({}, ice.parts);
  const browser = await launchBrowser();
  const lab: Lab = { coturn, ice, danLink, annLink, server, browser };
  const result: WeakViewerResult = {
    setups: Object.fromEntries(setups.map((s) => [s, SETUPS[s].description])) as Record<Setup, string>,
    timing: { queueMs: QUEUE_MS, fullMs: FULL_MS, adaptMs: ADAPT_MS, measuredMs: MEASURED_MS, recoveryLimitMs: RECOVERY_LIMIT_MS, costMs: COST_MS },
    full: {},
    downlink: [],
    uplink: [],
    layersCost: [],
  };
  const started = performance.now();
  try {
    if (parts.has('downlink') || parts.has('uplink')) for (const setup of setups) await runSetup(lab, setup, chosen, result);
    if (parts.has('layers')) {
      for (const layers of ['simulcast', 'one'] as const) {
        const cost = await measureLayersCost(lab, layers);
        result.layersCost.push(cost);
        console.log(`\nlayers ${layers}: ${JSON.stringify(cost)}`);
      }
    }
  } finally {
    try {
      await browser.close();
    } finally {
      await server.dispose();
      await danLink.close();
      await annLink.close();
      await coturn.stop();
    }
  }
  const context: BrowserRunContext = { ...runContext(), chromium: browser.version(), code, loadAverage: { start: loadStart, end: loadavg() } };
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  const header = `${describeRun(context, codeVersion())}, Chromium ${context.chromium}; load average ${loadStart.map((l) => l.toFixed(1)).join(' ')} at the start; ${minutes} min${parts.size < 3 || setups.length < 2 || percents.length < DOWNLINK_PERCENTS.length || kbps.length < UPLINK_KBPS.length ? ` (a subset: ${[...parts].join(', ')} on ${setups.join(', ')}${parts.has('downlink') ? `, downlink ${percents.join('/')}%` : ''}${parts.has('uplink') ? `, uplink ${kbps.join('/')} kbit/s` : ''})` : ''}.`;
  // A subset never overwrites the whole matrix's results (nor the documented plot).
  const whole = parts.size === 3 && setups.length === 2 && percents.length === DOWNLINK_PERCENTS.length && kbps.length === UPLINK_KBPS.length;
  const name = whole ? 'weak-viewer' : 'weak-viewer-subset';
  writeResults(name, { name: 'weak-viewer', ...context, parts: [...parts], ...result }, weakViewerMarkdown(result, header));
  const svg = weakViewerSvg(result, context.date.slice(0, 10));
  console.log(`plot: ${writeResult(`${name}.svg`, svg)}`);
  if (whole) {
    writeFileSync(join(ROOT, 'docs', 'bench', 'weak-viewer.svg'), svg);
    writeFileSync(join(ROOT, 'docs', 'bench', 'weak-viewer.json'), `${JSON.stringify({ name: 'weak-viewer', ...context, ...result }, null, 2)}\n`);
  }
}

await main();
