/**
 * Join time on the P2P path: Alice waits in a meeting, Bob opens the link; how long until
 * each sees the other's first decoded video frame and hears the other's tone. Measured in
 * the pages (performance.now(), requestVideoFrameCallback, an AudioWorklet tap; see
 * harness/browserProbe.ts), from Bob's navigation start and from the moment Bob's `joined` reply
 * arrived. Both pages run in one browser, so their clocks (timeOrigin + now) agree.
 * Writes bench-results/join-time.{json,md}.
 *
 * Run: npx tsx bench/join-time.ts [--runs 7]
 */
import { loadavg } from 'node:os';
import type { Browser } from 'playwright-core';
import { launchBrowser, newParticipant, type Participant } from '../tests/helpers/browser';
import { toneInitScript } from '../tests/helpers/media';
import { createMeeting } from '../tests/helpers/room';
import { startServer } from '../tests/helpers/server';
import { waitFor } from '../tests/helpers/wait';
import { codeState, ensureClientBuilt, isMain, numberArg } from './harness/run';
import { fmt, round, summarize, type Summary } from './harness/figures';
import { runContext, writeResults, type BrowserRunContext } from './harness/results';
import { AUDIO_BLOCK, firstHeard, HEARD_DB, probeInitScript, probeStatus, readProbe, type ProbeData } from './harness/browserProbe';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

const ALICE_HZ = 700;
const BOB_HZ = 1500;
/** Quiet time after Alice joined, so her page load does not overlap Bob's. */
const SETTLE_MS = 500;
const MEDIA_TIMEOUT_MS = 20_000;

export interface JoinTimeOptions {
  runs?: number;
  /** Print the table (default true). */
  print?: boolean;
  /** Write bench-results (default true). */
  write?: boolean;
}

/** What is measured in each run: the four first-media events, and Bob's connection for context. */
export const JOIN_METRICS = ['bobConnected', 'bobSeesAlice', 'aliceSeesBob', 'bobHearsAlice', 'aliceHearsBob'] as const;
export type JoinMetric = (typeof JOIN_METRICS)[number];

const LABELS: Record<JoinMetric, string> = {
  bobConnected: "Bob's RTCPeerConnection `connected` (context)",
  bobSeesAlice: "Bob's first frame of Alice",
  aliceSeesBob: "Alice's first frame of Bob",
  bobHearsAlice: "Bob hears Alice's tone",
  aliceHearsBob: "Alice hears Bob's tone",
};

/** One run: milliseconds from Bob's page open (and from his join reply) to each event. */
export interface JoinRun {
  run: number;
  /** Bob's page open → his `joined` reply arrived. */
  joinedMs: number | null;
  fromPageOpen: Record<JoinMetric, number | null>;
  fromJoinReply: Record<JoinMetric, number | null>;
  error?: string;
}

export interface JoinTimeResult extends BrowserRunContext {
  name: 'join-time';
  video: string;
  audioThresholdDb: number;
  audioResolutionMs: number;
  runs: JoinRun[];
  summary: {
    joinedMs: Summary;
    fromPageOpen: Record<JoinMetric, Summary>;
    fromJoinReply: Record<JoinMetric, Summary>;
  };
}

async function join(browser: Browser, url: string, name: string, hz: number, otherName: string, otherHz: number): Promise<Participant> {
  const initScript = `${toneInitScript(hz)}\n${probeInitScript({ frequencies: [otherHz, hz], videoOf: [otherName] })}`;
  const p = await newParticipant(browser, { initScript });
  await p.page.goto(`${url}&name=${encodeURIComponent(name)}`);
  return p;
}

/** Absolute (epoch ms, shared by the pages) time of a page-relative time. */
const abs = (data: ProbeData, t: number | null | undefined): number | null => (typeof t === 'number' ? data.timeOrigin + t : null);

async function oneRun(browser: Browser, baseUrl: string, run: number): Promise<JoinRun> {
  const meeting = await createMeeting(baseUrl, `Join time ${run}`);
  const link = `${baseUrl}/m/${meeting.id}?video=320x240`;
  const people: Participant[] = [];
  try {
    const alice = await join(browser, link, 'Alice', ALICE_HZ, 'Bob', BOB_HZ);
    people.push(alice);
    await alice.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const bob = await join(browser, link, 'Bob', BOB_HZ, 'Alice', ALICE_HZ);
    people.push(bob);
    // Sequencing only (the figures come from page-side timestamps).
    for (const [p, other] of [[bob, 'Alice'], [alice, 'Bob']] as const) {
      await waitFor(async () => {
        const s = await probeStatus(p.page);
        return (s.frames[other] ?? 0) > 0 && s.heardAt !== null;
      }, MEDIA_TIMEOUT_MS, `${other}'s video and tone to arrive`, 100);
    }
    const [a, b] = [await readProbe(alice.page), await readProbe(bob.page)];
    const bobOpen = b.timeOrigin;
    const bobJoined = abs(b, b.signals.find((s) => s.type === 'joined')?.t);
    const events: Record<JoinMetric, number | null> = {
      bobConnected: abs(b, b.pcs.find((p) => p.state === 'connected')?.t),
      bobSeesAlice: abs(b, b.video.Alice?.frames[0]),
      aliceSeesBob: abs(a, a.video.Bob?.frames[0]),
      bobHearsAlice: abs(b, firstHeard(b, ALICE_HZ)),
      aliceHearsBob: abs(a, firstHeard(a, BOB_HZ)),
    };
    const rel = (from: number | null) =>
      Object.fromEntries(JOIN_METRICS.map((m) => [m, from === null || events[m] === null ? null : round(events[m]! - from)])) as Record<JoinMetric, number | null>;
    return { run, joinedMs: bobJoined === null ? null : round(bobJoined - bobOpen), fromPageOpen: rel(bobOpen), fromJoinReply: rel(bobJoined) };
  } catch (err) {
    const none = Object.fromEntries(JOIN_METRICS.map((m) => [m, null])) as Record<JoinMetric, null>;
    return { run, joinedMs: null, fromPageOpen: none, fromJoinReply: none, error: err instanceof Error ? err.message : String(err) };
  } finally {
    for (const p of people) await p.context.close().catch(() => {});
  }
}

function markdown(r: JoinTimeResult): string {
  const lines = [
    `# P2P join time (${r.runs.length} runs)`,
    '',
    `${r.date}, Chromium ${r.chromium}, Node ${r.node}, ${r.cpu} (${r.cores} cores), load average at start ${r.loadAverage.start.map((x) => x.toFixed(1)).join(' ')}.`,
    `Code: ${r.code.commit}${r.code.uncommitted.length > 0 ? ` plus uncommitted changes to ${r.code.uncommitted.join(', ')}` : ''}.`,
    `Video ${r.video}; "hears" = the other's tone above ${r.audioThresholdDb} dB (AnalyserNode scale) in the received audio, ` +
      `measured in ${r.audioResolutionMs.toFixed(1)} ms blocks; "first frame" = first requestVideoFrameCallback on the tile's <video>.`,
    `Bob's page open → his \`joined\` reply: median ${fmt(r.summary.joinedMs.median)} ms (min ${fmt(r.summary.joinedMs.min)}, max ${fmt(r.summary.joinedMs.max)}).`,
    '',
    '| metric | from page open: median | min | max | from join reply: median | min | max |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const m of JOIN_METRICS) {
    const o = r.summary.fromPageOpen[m];
    const j = r.summary.fromJoinReply[m];
    lines.push(`| ${LABELS[m]} | ${fmt(o.median)} | ${fmt(o.min)} | ${fmt(o.max)} | ${fmt(j.median)} | ${fmt(j.min)} | ${fmt(j.max)} |`);
  }
  const failed = r.runs.filter((x) => x.error);
  if (failed.length > 0) lines.push('', `Failed runs: ${failed.map((x) => `#${x.run} (${x.error})`).join('; ')}`);
  lines.push('', 'All figures in milliseconds.');
  return `${lines.join('\n')}\n`;
}

/** Runs the benchmark, prints the table, writes bench-results/join-time.{json,md}, returns the figures. */
export async function runJoinTimeBench(options: JoinTimeOptions = {}): Promise<JoinTimeResult> {
  const runs = options.runs ?? 7;
  ensureClientBuilt();
  const code = codeState();
  const loadStart = loadavg();
  // Many joins from loopback in a short run: lift the per-address limits.
  const server = await startServer({ limits: { createsPerMin: 10_000, joinsPerMin: 10_000 } });
  const browser = await launchBrowser();
  const results: JoinRun[] = [];
  let sampleRate = 48_000;
  const chromium = browser.version();
  try {
    for (let i = 1; i <= runs; i++) {
      const r = await oneRun(browser, server.url, i);
      results.push(r);
      if (options.print !== false) {
        console.log(r.error ? `run ${i}: failed: ${r.error}` :
          `run ${i}: joined ${fmt(r.joinedMs)} ms; from page open: ` + JOIN_METRICS.map((m) => `${m} ${fmt(r.fromPageOpen[m])}`).join(', '));
      }
    }
    // The probe's block length depends on the page's audio sample rate.
    const page = await browser.newPage();
    sampleRate = await page.evaluate(() => new AudioContext().sampleRate);
    await page.close();
  } finally {
    await browser.close();
    await server.dispose();
  }
  const ok = results.filter((r) => !r.error);
  const summary = {
    joinedMs: summarize(ok.map((r) => r.joinedMs)),
    fromPageOpen: Object.fromEntries(JOIN_METRICS.map((m) => [m, summarize(ok.map((r) => r.fromPageOpen[m]))])) as Record<JoinMetric, Summary>,
    fromJoinReply: Object.fromEntries(JOIN_METRICS.map((m) => [m, summarize(ok.map((r) => r.fromJoinReply[m]))])) as Record<JoinMetric, Summary>,
  };
  const result: JoinTimeResult = {
    name: 'join-time',
    ...runContext(),
    chromium,
    code,
    loadAverage: { start: loadStart.map((x) => round(x)), end: loadavg().map((x) => round(x)) },
    video: '320x240',
    audioThresholdDb: HEARD_DB,
    audioResolutionMs: round((AUDIO_BLOCK / sampleRate) * 1000),
    runs: results,
    summary,
  };
  const table = markdown(result);
  if (options.write !== false) {
    writeResults('join-time', result, table, false);
  }
  if (options.print !== false) console.log(`\n${table}`);
  return result;
}

if (isMain(import.meta.url)) {
  await runInPrivateNetwork('bench/join-time');
  await runJoinTimeBench({ runs: numberArg(process.argv, 'runs') });
}
