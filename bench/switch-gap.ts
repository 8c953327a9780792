/**
 * The media gap of a topology switch. Ann and Ben (tones of their own) stay in one meeting
 * while Cat joins (P2P → relay) and leaves (relay → P2P after the hold time), again and
 * again. Ann's and Ben's pages measure continuously (harness/browserProbe.ts):
 * - audio: the other's tone across ALL remote audio elements (the old path's element plays
 *   until the commit, then the new one), in 256-frame blocks on the audio clock (≈5.8 ms at
 *   44.1 kHz); a gap is the longest run of blocks below −50 dB (AnalyserNode scale; a heard
 *   tone sits near −20 dB) inside the switch window;
 * - video: the longest interval between presented frames of the other's tile
 *   (requestVideoFrameCallback, re-attached when the element or srcObject changes);
 * - signaling: when the page got `topology` (switching, commit) and sent `path-ready`.
 * A switch window runs from PRE_MS before the page got `switching` to POST_MS after it got
 * the commit. The same measures over the settled stretches between switches give the
 * baseline (what the machine does with no switch at all). Switch durations come from the
 * server's record (`mode-switched` events).
 * Under load (`--load N`): meanwhile N light participants (`harness/LightClient.ts`, 320×240
 * video from everyone, 3 talkers) fill another relay meeting on the same server, so the relay
 * the switch lands on is busy.
 * Writes bench-results/switch-gap.{json,md,svg}.
 *
 * Run: npx tsx bench/switch-gap.ts [--switches 10] [--hold 1000] [--load 0] [--client-dir path/to/built/client]
 */
import { loadavg } from 'node:os';
import type { Browser, Page } from 'playwright-core';
import type { MeetingEventRecord } from '../protocol/rest';
import { LightClient } from './harness/LightClient';
import { releaseNativePeers } from './harness/LightPeer';
import { opusTone, recordVp8 } from './harness/preEncoded';
import { launchBrowser, newParticipant, type Participant } from '../tests/helpers/browser';
import { toneInitScript } from '../tests/helpers/media';
import { createMeeting } from '../tests/helpers/room';
import { api, startServer, type TestServer } from '../tests/helpers/server';
import { waitFor } from '../tests/helpers/wait';
import { codeState, ensureClientBuilt, isMain, numberArg, sleep } from './harness/run';
import { escapeXml, fmt, round, summarize, type Summary } from './harness/figures';
import { runContext, writeResult, writeResults, type BrowserRunContext } from './harness/results';
import { AUDIO_BLOCK, audibleAt, audioClock, clockSlip, HEARD_DB, levelTrace, longestFreeze, longestSilence, probeInitScript, probeStatus, readProbe, type ProbeData } from './harness/browserProbe';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

const ANN = { name: 'Ann', hz: 600 };
const BEN = { name: 'Ben', hz: 1100 };
const CAT = { name: 'Cat', hz: 1900 };
/** The switch window starts this long before the page got `switching`… */
const PRE_MS = 300;
/** …and ends this long after it got the commit (the new path's playback must have started). */
const POST_MS = 1500;
/** An audible gap a person would notice; the issue wants the switch well under it. */
const TARGET_MS = 200;
const SWITCH_TIMEOUT_MS = 30_000;

export type Direction = 'p2p→relay' | 'relay→p2p';
const DIRECTIONS: Direction[] = ['p2p→relay', 'relay→p2p'];

export interface SwitchGapOptions {
  /** Switches per direction (default 10). */
  switches?: number;
  /** The server's P2P hold time (default 1000 ms). */
  holdMs?: number;
  /** Serve the client from here instead of dist/client (to compare client versions). */
  clientDir?: string;
  /** How long to stay settled after each commit (default 3000 ms; the baseline is measured there). */
  settleMs?: number;
  /** Light participants in another relay meeting on the same server meanwhile (default 0). */
  load?: number;
  print?: boolean;
  write?: boolean;
}

/** Where the time of one switch went, on one listener's page (ms, that page's clock). */
export interface SwitchTimeline {
  /** `switching` received → this page sent `path-ready`. */
  prepareMs: number | null;
  /** `switching` → the page offered to the relay (p2p→relay only). */
  relayOfferMs: number | null;
  /** `switching` → the relay's answer arrived (p2p→relay only). */
  relayAnswerMs: number | null;
  /** `switching` → the new path's peer connection reached `connected`. */
  connectedMs: number | null;
  /** This page's `path-ready` → commit received (waiting for the other member, and the server). */
  readyToCommitMs: number | null;
  /** `switching` → commit, as this page saw it. */
  switchingToCommitMs: number;
  /** Relative to the commit: the last block with the talker's tone on the old path's element(s). */
  oldPathLastToneMs: number | null;
  /** Relative to the commit: the new path's audio element was added to the page. */
  newElementMs: number | null;
  /** Relative to the commit: that element fired `playing`. */
  newElementPlayingMs: number | null;
  /** Relative to the commit: a new-path element became audible (unmuted, or added unmuted). */
  newElementAudibleMs: number | null;
  /** Relative to the commit: the old path's audio element left the page. */
  oldElementRemovedMs: number | null;
  /** The task that handled the commit message, from its arrival to its end (render included). */
  commitTaskMs: number | null;
  /** Of which RTCPeerConnection.close() of the old path took (it blocks the main thread). */
  oldPathCloseMs: number | null;
  /** Longest main-thread task anywhere in the switch window. */
  windowLongTaskMs: number | null;
  /** How far the page's audio clock fell behind its wall clock over the window (render starvation). */
  audioClockSlipMs: number;
  /** Longest stall of the server's event loop in the window (delays the mixer). */
  serverStallMs: number | null;
  /** Mixer ticks that ran late or were skipped in the window. */
  serverLateTicks: number;
  /** The same two from the commit on (the new path is what is heard then). */
  serverStallAfterCommitMs: number | null;
  serverLateTicksAfterCommit: number;
  /** Relative to the commit: the first block with the talker's tone on the new path's element. */
  newPathFirstToneMs: number | null;
  /** Relative to the commit: the tile's <video> changed (new element or srcObject). */
  videoChangeMs: number | null;
  /** Relative to the commit: the first frame presented after that change. */
  videoFirstFrameMs: number | null;
}

/** One switch as one listener experienced it. */
export interface SwitchMeasure {
  index: number;
  direction: Direction;
  listener: string;
  talker: string;
  completed: boolean;
  audioGapMs: number;
  /** Page time (ms) where the longest gap began, relative to the commit. */
  audioGapAtMs: number | null;
  videoFreezeMs: number;
  videoFreezeAtMs: number | null;
  timeline: SwitchTimeline;
}

/** A settled stretch between switches (no switch under way). */
export interface BaselineMeasure {
  mode: 'p2p' | 'relay';
  listener: string;
  durationMs: number;
  audioGapMs: number;
  videoFreezeMs: number;
  serverStallMs: number | null;
  serverLateTicks: number;
}

export interface DirectionSummary {
  switches: number;
  audioGapMs: Summary;
  videoFreezeMs: Summary;
  /** From the server's record. */
  switchDurationMs: Summary;
  /** Median over switches and listeners of each timeline step. */
  timeline: Record<keyof SwitchTimeline, number | null>;
  targetMet: boolean;
}

export interface SwitchGapResult extends BrowserRunContext {
  name: 'switch-gap';
  video: string;
  holdMs: number;
  /** Light participants in another relay meeting meanwhile. */
  load: { participants: number };
  audioThresholdDb: number;
  audioResolutionMs: number;
  windowMs: { pre: number; post: number };
  targetMs: number;
  serverSwitches: { from: string; to: string; durationMs: number; completed: boolean; reason: string }[];
  switches: SwitchMeasure[];
  baseline: BaselineMeasure[];
  summary: Record<Direction, DirectionSummary>;
  baselineSummary: Record<'p2p' | 'relay', { audioGapMs: Summary; videoFreezeMs: Summary; serverStallMs: Summary; serverLateTicksPerSecond: number }>;
  targetMet: boolean;
  errors: string[];
}

async function enter(browser: Browser, link: string, person: { name: string; hz: number }, other: { name: string; hz: number } | null): Promise<Participant> {
  const probe = other ? probeInitScript({ frequencies: [other.hz, person.hz, CAT.hz], videoOf: [other.name] }) : '';
  const p = await newParticipant(browser, { initScript: `${toneInitScript(person.hz)}\n${probe}` });
  await p.page.goto(`${link}&name=${encodeURIComponent(person.name)}`);
  await p.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
  return p;
}

/** Waits (sequencing only) until the page got a settled `topology` of `mode` after its `after`-th signal. */
async function settledOn(page: Page, mode: 'p2p' | 'relay', after: number): Promise<void> {
  await waitFor(async () => {
    const { signals } = await probeStatus(page);
    return signals.slice(after).some((s) => s.type === 'topology' && s.mode === mode);
  }, SWITCH_TIMEOUT_MS, `the page to settle on ${mode}`, 50);
}

const signalCount = async (page: Page) => (await probeStatus(page)).signals.length;

/**
 * The coordinator runs in this process: watch its event loop (a 5 ms timer; a stall delays
 * the mixer's 20 ms ticks, and the TickClock skips what it cannot catch up) and the
 * meeting's late mixer ticks. Times are epoch ms (performance.timeOrigin + now), the same
 * clock the pages' timeOrigin uses.
 */
class ServerMonitor {
  readonly stalls: [number, number][] = [];
  readonly lateTicks: [number, number][] = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private last = performance.now();
  private lastLate = 0;

  constructor(readCounters: () => Record<string, number>) {
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - 5;
      if (late >= 20) this.stalls.push([performance.timeOrigin + this.last, Math.round(late)]);
      this.last = now;
      const lateTicks = readCounters().lateTicks ?? 0;
      if (lateTicks > this.lastLate) this.lateTicks.push([performance.timeOrigin + now, lateTicks - this.lastLate]);
      this.lastLate = lateTicks;
    }, 5);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface PageSwitch {
  direction: Direction;
  start: number;
  commit: number;
  completed: boolean;
  epoch: number;
  readySent: number | null;
  commitTaskEnd: number | null;
}

/** The switches one page saw: each `switching` and the settled `topology` that ended it. */
function pageSwitches(data: ProbeData): PageSwitch[] {
  const out: PageSwitch[] = [];
  let open: { start: number; target: string; epoch: number } | null = null;
  for (const s of data.signals) {
    if (s.type !== 'topology') continue;
    if (s.mode === 'switching') {
      open ??= { start: s.t, target: s.target ?? '', epoch: s.epoch ?? -1 };
    } else if (open) {
      const epoch = open.epoch;
      const readySent = data.signals.find((x) => x.type === 'sent:path-ready' && x.epoch === epoch)?.t ?? null;
      out.push({
        direction: open.target === 'relay' ? 'p2p→relay' : 'relay→p2p',
        start: open.start,
        commit: s.t,
        completed: s.mode === open.target,
        epoch,
        readySent,
        commitTaskEnd: s.taskEnd ?? null,
      });
      open = null;
    }
  }
  return out;
}

/** First/last block (page time) above the threshold among elements of `kind`, within [from, to]. */
function toneEdge(data: ProbeData, frequency: number, kind: 'p2p' | 'relay', from: number, to: number, edge: 'first' | 'last'): number | null {
  const index = data.frequencies.indexOf(frequency) + 1;
  const toMs = audioClock(data, from, to);
  let found: number | null = null;
  for (const a of data.audio) {
    if (a.kind !== kind) continue;
    for (const row of a.rows) {
      if (row[index]! <= HEARD_DB) continue;
      const t = toMs(row[0]!);
      if (t < from || t > to || !audibleAt(a, t)) continue;
      if (found === null || (edge === 'first' ? t < found : t > found)) found = t;
    }
  }
  return found;
}

function timelineOf(data: ProbeData, talker: { name: string; hz: number }, sw: PageSwitch, windowEnd: number, server: ServerMonitor): SwitchTimeline {
  const to = sw.direction === 'p2p→relay' ? 'relay' : 'p2p';
  const from = to === 'relay' ? 'p2p' : 'relay';
  const windowStart = sw.start - PRE_MS;
  const rel = (t: number | null | undefined) => (typeof t === 'number' ? round(t - sw.commit) : null);
  const inWindow = (t: number) => t >= windowStart && t <= windowEnd;
  const elementEvents = data.audioElements.filter((e) => inWindow(e.t));
  const added = elementEvents.find((e) => e.what === 'srcObject' && e.kind === to);
  const playing = added ? elementEvents.find((e) => e.what === 'playing' && e.element === added.element) : undefined;
  const oldElements = new Set(data.audioElements.filter((e) => e.kind === from && e.t <= sw.commit).map((e) => e.element));
  const audible = data.audio
    .filter((a) => a.kind === to)
    .flatMap((a) => a.audible.filter(([t, on]) => on && inWindow(t)).map(([t]) => t))
    .sort((x, y) => x - y)[0];
  const removed = elementEvents.find((e) => e.what === 'removed' && oldElements.has(e.element) && e.t >= sw.start);
  const video = data.video[talker.name];
  const change = video?.changes.find((c) => inWindow(c.t))?.t;
  const firstFrame = change === undefined ? undefined : video?.frames.find((f) => f > change);
  const tasks = data.longTasks.filter(([start]) => inWindow(start));
  const taskEnd = sw.commitTaskEnd;
  const closes = taskEnd === null ? [] : data.pcCloses.filter(([start]) => start >= sw.commit && start <= taskEnd);
  const after = (type: string) => data.signals.find((x) => x.type === type && x.t >= sw.start && x.t <= sw.commit)?.t;
  const fromStart = (t: number | undefined) => (t === undefined ? null : Math.round(t - sw.start));
  const newPcs = new Set(data.pcs.filter((p) => p.state === 'new' && p.t >= sw.start - 50 && p.t <= sw.commit).map((p) => p.id));
  const connected = data.pcs.find((p) => newPcs.has(p.id) && p.state === 'connected')?.t;
  return {
    prepareMs: sw.readySent === null ? null : Math.round(sw.readySent - sw.start),
    relayOfferMs: to === 'relay' ? fromStart(after('sent:relay-offer')) : null,
    relayAnswerMs: to === 'relay' ? fromStart(after('relay-answer')) : null,
    connectedMs: fromStart(connected),
    readyToCommitMs: sw.readySent === null ? null : Math.round(sw.commit - sw.readySent),
    switchingToCommitMs: Math.round(sw.commit - sw.start),
    oldPathLastToneMs: rel(toneEdge(data, talker.hz, from, windowStart, windowEnd, 'last')),
    newElementMs: rel(added?.t),
    newElementPlayingMs: rel(playing?.t),
    newElementAudibleMs: rel(audible),
    oldElementRemovedMs: rel(removed?.t),
    newPathFirstToneMs: rel(toneEdge(data, talker.hz, to, windowStart, windowEnd, 'first')),
    videoChangeMs: rel(change),
    videoFirstFrameMs: rel(firstFrame),
    commitTaskMs: taskEnd === null ? null : round(taskEnd - sw.commit),
    oldPathCloseMs: closes.length > 0 ? round(closes.reduce((sum, [, d]) => sum + d, 0)) : null,
    windowLongTaskMs: tasks.length > 0 ? Math.max(...tasks.map(([, d]) => d)) : null,
    audioClockSlipMs: clockSlip(data, windowStart, windowEnd),
    ...serverInWindow(server, data.timeOrigin + windowStart, data.timeOrigin + windowEnd),
    ...(({ serverStallMs, serverLateTicks }) => ({ serverStallAfterCommitMs: serverStallMs, serverLateTicksAfterCommit: serverLateTicks }))(
      serverInWindow(server, data.timeOrigin + sw.commit, data.timeOrigin + windowEnd),
    ),
  };
}

function serverInWindow(server: ServerMonitor, from: number, to: number): { serverStallMs: number | null; serverLateTicks: number } {
  const stalls = server.stalls.filter(([t, d]) => t + d >= from && t <= to).map(([, d]) => d);
  const late = server.lateTicks.filter(([t]) => t >= from && t <= to).reduce((sum, [, n]) => sum + n, 0);
  return { serverStallMs: stalls.length > 0 ? Math.max(...stalls) : null, serverLateTicks: late };
}

interface ListenerAnalysis {
  switches: SwitchMeasure[];
  baseline: BaselineMeasure[];
}

function analyseListener(data: ProbeData, listener: string, talker: { name: string; hz: number }, server: ServerMonitor): ListenerAnalysis {
  const frames = data.video[talker.name]?.frames ?? [];
  const switches = pageSwitches(data);
  const result: ListenerAnalysis = { switches: [], baseline: [] };
  const perDirection: Record<Direction, number> = { 'p2p→relay': 0, 'relay→p2p': 0 };
  // Cat's arrival and departure, as the page saw them: a settled stretch ends there.
  const disturbances = data.signals.filter((s) => s.type === 'participant-joined' || s.type === 'participant-left').map((s) => s.t);
  const lastClock = data.clock[data.clock.length - 1];
  const dataEnd = lastClock ? lastClock[0] - 100 : 0;
  switches.forEach((sw, i) => {
    const from = sw.start - PRE_MS;
    const to = sw.commit + POST_MS;
    const gap = longestSilence(levelTrace(data, talker.hz, from, to), from, to);
    const freeze = longestFreeze(frames, from, to);
    result.switches.push({
      index: ++perDirection[sw.direction],
      direction: sw.direction,
      listener,
      talker: talker.name,
      completed: sw.completed,
      audioGapMs: gap.ms,
      audioGapAtMs: gap.at === null ? null : Math.round(gap.at - sw.commit),
      videoFreezeMs: freeze.ms,
      videoFreezeAtMs: freeze.at === null ? null : Math.round(freeze.at - sw.commit),
      timeline: timelineOf(data, talker, sw, to, server),
    });
    // Baseline: from the end of this window to the next disturbance (or switch, or the end).
    const next = Math.min(
      disturbances.find((t) => t > to) ?? Infinity,
      switches[i + 1] ? switches[i + 1]!.start - PRE_MS : Infinity,
      dataEnd,
    );
    if (next - to >= 500) {
      result.baseline.push({
        mode: sw.direction === 'p2p→relay' ? 'relay' : 'p2p',
        listener,
        durationMs: Math.round(next - to),
        audioGapMs: longestSilence(levelTrace(data, talker.hz, to, next - 100), to, next - 100).ms,
        videoFreezeMs: longestFreeze(frames, to, next - 100).ms,
        ...serverInWindow(server, data.timeOrigin + to, data.timeOrigin + next - 100),
      });
    }
  });
  return result;
}

function median(values: (number | null)[]): number | null {
  return summarize(values).median;
}


/** A grouped bar chart per direction: audio gap and video freeze per switch and listener. */
function svgPlot(r: SwitchGapResult): string {
  const width = 980;
  const height = 420;
  const margin = { top: 68, right: 20, bottom: 58, left: 58 };
  const panelGap = 40;
  const panelWidth = (width - margin.left - margin.right - panelGap) / 2;
  const plotHeight = height - margin.top - margin.bottom;
  const listeners = [...new Set(r.switches.map((s) => s.listener))];
  const other = (l: string) => (l === ANN.name ? BEN.name : ANN.name);
  const series = [
    ...listeners.map((l) => ({ label: `audio gap, ${l} hears ${other(l)}`, color: l === ANN.name ? '#1f5fa8' : '#7fb2e5', pick: (s: SwitchMeasure) => s.audioGapMs, listener: l })),
    ...listeners.map((l) => ({ label: `video freeze, ${l} sees ${other(l)}`, color: l === ANN.name ? '#c8641b' : '#f2b27a', pick: (s: SwitchMeasure) => s.videoFreezeMs, listener: l })),
  ];
  const maxValue = Math.max(TARGET_MS * 1.25, ...r.switches.flatMap((s) => [s.audioGapMs, s.videoFreezeMs]));
  const step = maxValue > 2000 ? 500 : maxValue > 800 ? 200 : maxValue > 400 ? 100 : 50;
  const yMax = Math.ceil(maxValue / step) * step;
  const y = (v: number) => margin.top + plotHeight - (v / yMax) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">Topology switch: longest audio gap and video freeze per switch (ms)</text>`,
  ];
  // Legend.
  let lx = margin.left;
  for (const s of series) {
    parts.push(`<rect x="${lx}" y="28" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="37">${escapeXml(s.label)}</text>`);
    lx += 14 + s.label.length * 6 + 16;
  }
  parts.push(`<line x1="${lx}" y1="33" x2="${lx + 18}" y2="33" stroke="#d00" stroke-dasharray="5,3"/><text x="${lx + 22}" y="37">${TARGET_MS} ms target</text>`);
  DIRECTIONS.forEach((direction, p) => {
    const x0 = margin.left + p * (panelWidth + panelGap);
    const items = r.switches.filter((s) => s.direction === direction);
    const count = Math.max(1, ...items.map((s) => s.index));
    const groupWidth = panelWidth / count;
    const barWidth = Math.max(2, (groupWidth * 0.8) / series.length);
    parts.push(`<text x="${x0 + panelWidth / 2}" y="${margin.top - 6}" text-anchor="middle" font-weight="bold">${escapeXml(direction)}</text>`);
    for (let v = 0; v <= yMax; v += step) {
      parts.push(`<line x1="${x0}" y1="${y(v)}" x2="${x0 + panelWidth}" y2="${y(v)}" stroke="#e4e4e4"/>`);
      parts.push(`<text x="${x0 - 4}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v}</text>`);
    }
    for (let i = 1; i <= count; i++) {
      const gx = x0 + (i - 1) * groupWidth + groupWidth * 0.1;
      series.forEach((s, k) => {
        const item = items.find((it) => it.index === i && it.listener === s.listener);
        if (!item) return;
        const v = s.pick(item);
        const bx = gx + k * barWidth;
        parts.push(`<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${direction} #${i} ${s.label}: ${v} ms`)}</title></rect>`);
      });
      parts.push(`<text x="${x0 + (i - 0.5) * groupWidth}" y="${y(0) + 14}" text-anchor="middle" fill="#555">${i}</text>`);
    }
    parts.push(`<line x1="${x0}" y1="${y(0)}" x2="${x0 + panelWidth}" y2="${y(0)}" stroke="#333"/>`);
    parts.push(`<line x1="${x0}" y1="${margin.top}" x2="${x0}" y2="${y(0)}" stroke="#333"/>`);
    parts.push(`<line x1="${x0}" y1="${y(TARGET_MS)}" x2="${x0 + panelWidth}" y2="${y(TARGET_MS)}" stroke="#d00" stroke-dasharray="5,3"/>`);
    const d = r.summary[direction];
    parts.push(`<text x="${x0 + panelWidth / 2}" y="${y(0) + 30}" text-anchor="middle" fill="#333">switch # — audio gap median ${fmt(d.audioGapMs.median)} / worst ${fmt(d.audioGapMs.max)} ms; video freeze median ${fmt(d.videoFreezeMs.median)} / worst ${fmt(d.videoFreezeMs.max)} ms</text>`);
  });
  const b = r.baselineSummary;
  parts.push(`<text x="${width / 2}" y="${height - 8}" text-anchor="middle" fill="#555">baseline without a switch (settled stretches): audio gap worst p2p ${fmt(b.p2p.audioGapMs.max)} / relay ${fmt(b.relay.audioGapMs.max)} ms; video freeze median p2p ${fmt(b.p2p.videoFreezeMs.median)} / relay ${fmt(b.relay.videoFreezeMs.median)}, worst ${fmt(b.p2p.videoFreezeMs.max)} / ${fmt(b.relay.videoFreezeMs.max)} ms</text>`);
  parts.push(`<text x="14" y="${margin.top + plotHeight / 2}" transform="rotate(-90 14 ${margin.top + plotHeight / 2})" text-anchor="middle" fill="#333">ms</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const TIMELINE_LABELS: Record<keyof SwitchTimeline, string> = {
  relayOfferMs: '`switching` received → relay offer sent',
  relayAnswerMs: '`switching` received → relay answer received',
  connectedMs: "`switching` received → new path's RTCPeerConnection connected",
  prepareMs: '`switching` received → own `path-ready` sent',
  readyToCommitMs: 'own `path-ready` → commit received',
  switchingToCommitMs: '`switching` → commit (page)',
  oldPathLastToneMs: 'last audible tone on the old path, vs commit',
  newElementMs: "new path's audio element added (srcObject set), vs commit",
  newElementPlayingMs: 'that element fired `playing`, vs commit',
  newElementAudibleMs: 'a new-path element became audible (unmuted), vs commit',
  oldElementRemovedMs: "old path's audio element removed, vs commit",
  newPathFirstToneMs: 'first audible tone on the new path, vs commit',
  videoChangeMs: "tile's <video> switched source, vs commit",
  videoFirstFrameMs: 'first frame from the new source, vs commit',
  commitTaskMs: 'the task handling the commit (arrival → end, render included)',
  oldPathCloseMs: 'of which RTCPeerConnection.close() of the old path',
  windowLongTaskMs: 'longest main-thread task in the switch window',
  audioClockSlipMs: 'audio clock behind wall clock over the window (overload)',
  serverStallMs: "longest stall of the server's event loop in the window",
  serverLateTicks: 'mixer ticks late or skipped in the window',
  serverStallAfterCommitMs: "longest server event-loop stall from the commit to the window's end",
  serverLateTicksAfterCommit: 'mixer ticks late or skipped from the commit on',
};

function markdown(r: SwitchGapResult): string {
  const lines = [
    `# Topology switch gap (${r.summary['p2p→relay'].switches} + ${r.summary['relay→p2p'].switches} switches)`,
    '',
    `${r.date}, Chromium ${r.chromium}, Node ${r.node}, ${r.cpu} (${r.cores} cores), load average at start ${r.loadAverage.start.map((x) => x.toFixed(1)).join(' ')}, at end ${r.loadAverage.end.map((x) => x.toFixed(1)).join(' ')}.`,
    `Code: ${r.code.commit}${r.code.uncommitted.length > 0 ? ` plus uncommitted changes to ${r.code.uncommitted.join(', ')}` : ''}.`,
    `${r.load.participants > 0 ? `Under load: ${r.load.participants} light participants (320×240 video from everyone, 3 talkers) in another relay meeting on the same server` : 'No other load'}.`,
    `Video ${r.video}, P2P hold ${r.holdMs} ms. Listeners Ann (hears Ben's ${BEN.hz} Hz) and Ben (hears Ann's ${ANN.hz} Hz); Cat (${CAT.hz} Hz) joins and leaves.`,
    `Audio gap: longest stretch with the talker's tone below ${r.audioThresholdDb} dB summed over every remote audio element, in ${r.audioResolutionMs.toFixed(1)} ms blocks on the audio clock; ` +
      `video freeze: longest interval between presented frames of the talker's tile. Window: ${r.windowMs.pre} ms before \`switching\` to ${r.windowMs.post} ms after the commit, on each page.`,
    '',
    '| direction | switches | audio gap median | audio gap worst | video freeze median | video freeze worst | switch duration median (server) | worst | no gap ≥ 200 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |',
  ];
  for (const d of DIRECTIONS) {
    const s = r.summary[d];
    lines.push(`| ${d} | ${s.switches} | ${fmt(s.audioGapMs.median)} | ${fmt(s.audioGapMs.max)} | ${fmt(s.videoFreezeMs.median)} | ${fmt(s.videoFreezeMs.max)} | ${fmt(s.switchDurationMs.median)} | ${fmt(s.switchDurationMs.max)} | ${s.targetMet ? 'yes' : 'NO'} |`);
  }
  lines.push('', 'Baseline, settled stretches between switches (same measures, no switch under way):', '',
    '| mode | stretches | audio gap median | audio gap worst | video freeze median | video freeze worst | server stall worst | late mixer ticks /s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const mode of ['p2p', 'relay'] as const) {
    const b = r.baselineSummary[mode];
    lines.push(`| ${mode} | ${b.audioGapMs.n} | ${fmt(b.audioGapMs.median)} | ${fmt(b.audioGapMs.max)} | ${fmt(b.videoFreezeMs.median)} | ${fmt(b.videoFreezeMs.max)} | ${fmt(b.serverStallMs.max)} | ${fmt(b.serverLateTicksPerSecond, 1)} |`);
  }
  lines.push('', 'Where the time goes (medians over switches and both listeners; "vs commit" is relative to the moment the page received the commit):', '',
    `| step | ${DIRECTIONS.join(' | ')} |`, '| --- | ---: | ---: |');
  for (const key of Object.keys(TIMELINE_LABELS) as (keyof SwitchTimeline)[]) {
    lines.push(`| ${TIMELINE_LABELS[key]} | ${DIRECTIONS.map((d) => fmt(r.summary[d].timeline[key])).join(' | ')} |`);
  }
  lines.push('', 'Per switch (times vs the commit as the page received it; "slip" = audio clock lost to overload):', '',
    '| direction | # | listener | audio gap | at | video freeze | at | prepare | ready→commit | old tone last | new element | playing | audible | new tone first | old element removed | commit task | pc.close | slip | server stall | late ticks | stall after commit | late ticks after commit |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.switches) {
    const t = s.timeline;
    lines.push(`| ${s.direction}${s.completed ? '' : ' (abandoned)'} | ${s.index} | ${s.listener} | ${fmt(s.audioGapMs)} | ${fmt(s.audioGapAtMs)} | ${fmt(s.videoFreezeMs)} | ${fmt(s.videoFreezeAtMs)} | ` +
      `${fmt(t.prepareMs)} | ${fmt(t.readyToCommitMs)} | ${fmt(t.oldPathLastToneMs)} | ${fmt(t.newElementMs)} | ${fmt(t.newElementPlayingMs)} | ${fmt(t.newElementAudibleMs)} | ${fmt(t.newPathFirstToneMs)} | ` +
      `${fmt(t.oldElementRemovedMs)} | ${fmt(t.commitTaskMs)} | ${fmt(t.oldPathCloseMs)} | ${fmt(t.audioClockSlipMs)} | ${fmt(t.serverStallMs)} | ${fmt(t.serverLateTicks)} | ${fmt(t.serverStallAfterCommitMs)} | ${fmt(t.serverLateTicksAfterCommit)} |`);
  }
  lines.push('', `Target: no audible gap (every audio gap under ${r.targetMs} ms): **${r.targetMet ? 'met' : 'NOT met'}**. All figures in milliseconds.`);
  if (r.errors.length > 0) lines.push('', `Errors: ${r.errors.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

/** What a run recorded, before any analysis. */
interface Recording {
  chromium: string;
  ann: ProbeData;
  ben: ProbeData;
  /** The meeting's record: its `mode-switched` events say how long each switch took on the server. */
  events: MeetingEventRecord[];
  monitor: ServerMonitor;
  errors: string[];
}

/** Fills another relay meeting with `load` light participants (video from everyone, 3 talkers), so the relay the switches land on is busy. */
async function fillBackgroundMeeting(server: TestServer, load: number, clients: LightClient[]): Promise<void> {
  const video = await recordVp8(320, 240, 15, 3);
  const busy = await createMeeting(server.url, 'Background load', 'relay');
  for (let i = 0; i < load; i++) {
    clients.push(await LightClient.join({
      wsUrl: server.wsUrl, meetingId: busy.id, name: `load-${i}`, mic: i < 3 ? opusTone(200 + 31 * i) : opusTone(440, 0), camera: video, origin: server.url, bindAddress: '127.0.0.1',
    }));
  }
}

/** Ann and Ben in the meeting, each seeing and hearing the other: a switch's gap is measured against media that was flowing. */
async function enterListeners(browser: Browser, link: string, people: Participant[]): Promise<[Participant, Participant]> {
  const ann = await enter(browser, link, ANN, BEN);
  const ben = await enter(browser, link, BEN, ANN);
  people.push(ann, ben);
  for (const [p, other] of [[ann, BEN], [ben, ANN]] as const) {
    await waitFor(async () => {
      const s = await probeStatus(p.page);
      return (s.frames[other.name] ?? 0) > 10 && s.heardAt !== null;
    }, 20_000, `${other.name}'s video and tone to arrive`, 100);
  }
  return [ann, ben];
}

/**
 * Cat joins (P2P → relay) and leaves (relay → P2P) `count` times; each time both listeners'
 * pages settle and stay settled for `settleMs`, the stretch the baseline is measured on.
 */
async function cycleCat(cat: Participant, link: string, listeners: [Participant, Participant], count: number, settleMs: number, log: (line: string) => void): Promise<void> {
  const [ann, ben] = listeners;
  for (let i = 1; i <= count; i++) {
    const started = Date.now();
    const [a0, b0] = [await signalCount(ann.page), await signalCount(ben.page)];
    await cat.page.goto(`${link}&name=${CAT.name}`);
    await settledOn(ann.page, 'relay', a0);
    await settledOn(ben.page, 'relay', b0);
    await sleep(settleMs);
    const [a1, b1] = [await signalCount(ann.page), await signalCount(ben.page)];
    await cat.page.getByTestId('leave-meeting').click();
    await cat.page.goto('about:blank');
    await settledOn(ann.page, 'p2p', a1);
    await settledOn(ben.page, 'p2p', b1);
    await sleep(settleMs);
    log(`cycle ${i}/${count} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** Runs the switches on a server and a browser of their own, and closes everything whatever happens; returns what the pages and the server recorded. */
async function recordSwitches(options: SwitchGapOptions, count: number, holdMs: number, settleMs: number, load: number, log: (line: string) => void): Promise<Recording> {
  const server = await startServer({ p2pHoldMs: holdMs, limits: { createsPerMin: 10_000, joinsPerMin: 10_000 }, ...(options.clientDir ? { clientDir: options.clientDir } : {}) });
  const browser = await launchBrowser();
  const errors: string[] = [];
  const people: Participant[] = [];
  const loadClients: LightClient[] = [];
  let monitor: ServerMonitor | null = null;
  try {
    if (load > 0) {
      await fillBackgroundMeeting(server, load, loadClients);
      log(`${load} light participants on the relay in another meeting`);
    }
    const meeting = await createMeeting(server.url, 'Switch gap');
    monitor = new ServerMonitor(() => server.coordinator.media.countersFor(meeting.id));
    const link = `${server.url}/m/${meeting.id}?video=320x240`;
    const [ann, ben] = await enterListeners(browser, link, people);
    await sleep(1500);
    const cat = await newParticipant(browser, { initScript: toneInitScript(CAT.hz) });
    people.push(cat);
    await cycleCat(cat, link, [ann, ben], count, settleMs, log);
    const annData = await readProbe(ann.page);
    const benData = await readProbe(ben.page);
    errors.push(...annData.errors.map((e) => `Ann: ${e}`), ...benData.errors.map((e) => `Ben: ${e}`));
    const events = (await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${meeting.id}/events`)).body;
    return { chromium: browser.version(), ann: annData, ben: benData, events, monitor, errors };
  } finally {
    monitor?.stop();
    for (const p of people) await p.context.close().catch(() => {});
    const lostLoad = loadClients.filter((c) => !c.connected).length;
    if (lostLoad > 0) errors.push(`${lostLoad} of the ${load} load participants lost their connection`);
    for (const c of loadClients) c.close();
    if (load > 0) releaseNativePeers();
    await browser.close();
    await server.dispose();
  }
}

/** The server's own account of each switch (`mode-switched` events): the switch durations come from here, not from a page. */
function serverSwitchesOf(events: MeetingEventRecord[]): SwitchGapResult['serverSwitches'] {
  return events
    .filter((e) => e.type === 'mode-switched')
    .map((e) => {
      const d = (e.detail ?? {}) as { from?: string; to?: string; durationMs?: number; completed?: boolean; reason?: string };
      return { from: d.from ?? '?', to: d.to ?? '?', durationMs: d.durationMs ?? NaN, completed: d.completed ?? false, reason: d.reason ?? '' };
    });
}

/** Per direction: the gaps, freezes, server durations and timeline medians over every switch and listener, and whether the target held. */
function summarizeDirections(switches: SwitchMeasure[], serverSwitches: SwitchGapResult['serverSwitches']): Record<Direction, DirectionSummary> {
  return Object.fromEntries(DIRECTIONS.map((d) => {
    const items = switches.filter((s) => s.direction === d);
    // An abandoned relay→p2p switch is recorded with to = from ('relay'): pair by the attempted direction.
    const durations = serverSwitches.filter((s) => (d === 'p2p→relay' ? s.from === 'p2p' : s.from === 'relay')).map((s) => s.durationMs);
    const audio = summarize(items.map((s) => s.audioGapMs));
    const timeline = Object.fromEntries((Object.keys(TIMELINE_LABELS) as (keyof SwitchTimeline)[]).map((k) => [k, median(items.map((s) => s.timeline[k]))])) as Record<keyof SwitchTimeline, number | null>;
    const value: DirectionSummary = {
      switches: Math.max(0, ...items.map((s) => s.index)),
      audioGapMs: audio,
      videoFreezeMs: summarize(items.map((s) => s.videoFreezeMs)),
      switchDurationMs: summarize(durations),
      timeline,
      targetMet: items.length > 0 && (audio.max ?? Infinity) < TARGET_MS,
    };
    return [d, value];
  })) as Record<Direction, DirectionSummary>;
}

/** Per mode, the settled stretches: what the machine does with no switch at all, to read the switches against. */
function summarizeBaseline(baseline: BaselineMeasure[]): SwitchGapResult['baselineSummary'] {
  return Object.fromEntries((['p2p', 'relay'] as const).map((mode) => {
    const items = baseline.filter((b) => b.mode === mode);
    const seconds = items.reduce((sum, b) => sum + b.durationMs, 0) / 1000;
    return [mode, {
      audioGapMs: summarize(items.map((b) => b.audioGapMs)),
      videoFreezeMs: summarize(items.map((b) => b.videoFreezeMs)),
      serverStallMs: summarize(items.map((b) => b.serverStallMs ?? 0)),
      serverLateTicksPerSecond: seconds > 0 ? round(items.reduce((sum, b) => sum + b.serverLateTicks, 0) / seconds) : 0,
    }];
  })) as SwitchGapResult['baselineSummary'];
}

/** Writes bench-results/switch-gap.{json,md,svg} and prints the table and the verdicts, as the options ask. */
function report(result: SwitchGapResult, options: SwitchGapOptions): void {
  const table = markdown(result);
  if (options.write !== false) {
    writeResults('switch-gap', result, table, false);
    writeResult('switch-gap.svg', svgPlot(result));
  }
  if (options.print !== false) {
    console.log(`\n${table}`);
    for (const d of DIRECTIONS) {
      const s = result.summary[d];
      console.log(`${d}: worst audio gap ${fmt(s.audioGapMs.max)} ms → target (< ${TARGET_MS} ms) ${s.targetMet ? 'met' : 'NOT met'}`);
    }
  }
}

/** Runs the benchmark, prints the table, writes bench-results/switch-gap.{json,md,svg}, returns the figures. */
export async function runSwitchGapBench(options: SwitchGapOptions = {}): Promise<SwitchGapResult> {
  const count = options.switches ?? 10;
  const holdMs = options.holdMs ?? 1000;
  const settleMs = options.settleMs ?? 3000;
  const load = options.load ?? 0;
  const log = (line: string) => options.print !== false && console.log(line);
  if (!options.clientDir) ensureClientBuilt();
  const code = codeState();
  const loadStart = loadavg();
  const recording = await recordSwitches(options, count, holdMs, settleMs, load, log);
  const annAnalysis = analyseListener(recording.ann, ANN.name, BEN, recording.monitor);
  const benAnalysis = analyseListener(recording.ben, BEN.name, ANN, recording.monitor);
  const switches = [...annAnalysis.switches, ...benAnalysis.switches].sort((x, y) => x.direction.localeCompare(y.direction) || x.index - y.index || x.listener.localeCompare(y.listener));
  const baseline = [...annAnalysis.baseline, ...benAnalysis.baseline];
  const serverSwitches = serverSwitchesOf(recording.events);
  const summary = summarizeDirections(switches, serverSwitches);
  const result: SwitchGapResult = {
    name: 'switch-gap',
    ...runContext(),
    chromium: recording.chromium,
    code,
    loadAverage: { start: loadStart.map((x) => round(x)), end: loadavg().map((x) => round(x)) },
    video: '320x240',
    holdMs,
    load: { participants: load },
    audioThresholdDb: HEARD_DB,
    audioResolutionMs: round((AUDIO_BLOCK / (recording.ann.sampleRate || 48_000)) * 1000),
    windowMs: { pre: PRE_MS, post: POST_MS },
    targetMs: TARGET_MS,
    serverSwitches,
    switches,
    baseline,
    summary,
    baselineSummary: summarizeBaseline(baseline),
    targetMet: DIRECTIONS.every((d) => summary[d].targetMet),
    errors: recording.errors,
  };
  report(result, options);
  return result;
}

if (isMain(import.meta.url)) {
  await runInPrivateNetwork('bench/switch-gap');
  const clientAt = process.argv.indexOf('--client-dir');
  await runSwitchGapBench({
    switches: numberArg(process.argv, 'switches'),
    holdMs: numberArg(process.argv, 'hold'),
    load: numberArg(process.argv, 'load'),
    ...(clientAt > 0 && process.argv[clientAt + 1] ? { clientDir: process.argv[clientAt + 1] } : {}),
  });
}
