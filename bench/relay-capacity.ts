/**
 * How many participants one relay meeting holds on this machine. Light load clients
 * (`harness/LightClient.ts`: our signaling, a native DTLS-SRTP peer, pre-encoded Opus and VP8
 * replayed, nothing decoded) join ONE relay-mode meeting in steps (2, 4, 8, …, 128) until a
 * step fails: the mixer misses deadlines (p99 tick > 10 ms, or more than 1% late ticks), the
 * media worker that holds the meeting saturates (≥ 95% of one core: the server's CPU beside
 * its main thread's), or clients fail to connect or lose their connection. After the first
 * failure it measures at most BEYOND_STEPS more sizes, for the record of how things
 * degrade; they do not count.
 *
 * The server (the real `scripts/start.ts`) runs in a child process; its CPU comes from
 * /proc, the mixer figures from `GET /api/meetings/:id` (`relay.tickMsP99`, `lateTicks`).
 * Runs: audio only (3 talkers sending a sine, the others an unmuted mic in a quiet room:
 * encoded silence every 20 ms, as Chrome sends without DTX); the same with the others muted
 * (the usual large meeting); everyone talking (the mixer's worst case); and audio plus
 * 320×240 VP8 from everyone.
 *
 * Earlier versions used libwebrtc clients (@roamhq/wrtc), which encode and decode like a
 * browser and cost more CPU than the server: at 40 people they, not the server, were the
 * limit. The light clients cost a small fraction of the server's CPU (the "clients CPU"
 * column), so the limits below are the server's.
 *
 * Writes bench-results/relay-capacity.{json,md} and relay-capacity-{cpu,p99}.svg.
 * Run: npx tsx bench/relay-capacity.ts (`CAPACITY_RUNS=silence,muted,talking,video` or `audio`: only those loads)
 */
import { cpus } from 'node:os';
import { LIMITS } from '../protocol/limits';
import type { MeetingDetail } from '../protocol/rest';
import { LightClient } from './harness/LightClient';
import { lineChart } from './harness/lineChart';
import { opusTone, recordVp8, type RecordedVideo } from './harness/preEncoded';
import { codeVersion, isMain, sleep, watchdog } from './harness/run';
import { pct, round } from './harness/figures';
import { cpuBetween, waitForQuiet, type CpuWindow } from './harness/cpu';
import { relaySnapshot } from './harness/relaySnapshot';
import { ServerProcess } from './harness/ServerProcess';
import { describeRun, runContext, writeResult, writeResults, type RunContext } from './harness/results';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

const STEPS = [2, 4, 8, 12, 16, 24, 32, 40, 50, 64, 80, 100, 128];
/** Sizes measured after the first failure, for the record. */
const BEYOND_STEPS = 2;
const TALKERS = 3;
const CAMERA = { width: 320, height: 240, fps: 15 };
const SETTLE_MS = 3000;
/** The mixer's p50/p99 cover its last 500 ticks (10 s): the window matches. */
const WINDOW_MS = 10_000;
const P99_LIMIT_MS = 10;
const LATE_LIMIT = 0.01;
const CPU_LIMIT = 0.95;
/** A window in which other programs used more than this many cores is disturbed. */
const MAX_BACKGROUND_CORES = 0.3;
const MAX_ATTEMPTS = 4;
/** How long to wait for other programs to quieten before each window. */
const QUIET_WAIT_MS = 90_000;

/** What each run's participants send. */
export interface CapacityRunSpec {
  /** Picks the load in `CAPACITY_RUNS`. */
  key: 'silence' | 'muted' | 'talking' | 'video';
  name: string;
  /** How many participants push a sine. */
  talkers: number | 'all';
  /** The others: an unmuted mic in a quiet room (encoded silence, still sent and decoded) or muted. */
  listeners: 'silence' | 'muted';
  /** 320×240 VP8 at 15 fps from everyone (recorded once from libwebrtc's encoder, replayed). */
  camera: boolean;
}

/** Every load, one after the other (same machine, same run). */
const RUNS: CapacityRunSpec[] = [
  { key: 'silence', name: `audio only, ${TALKERS} talkers, the others unmuted in silence`, talkers: TALKERS, listeners: 'silence', camera: false },
  { key: 'muted', name: `audio only, ${TALKERS} talkers, the others muted`, talkers: TALKERS, listeners: 'muted', camera: false },
  { key: 'talking', name: 'audio only, everyone talking', talkers: 'all', listeners: 'silence', camera: false },
  {
    key: 'video',
    name: `audio (${TALKERS} talkers, the others unmuted in silence) + video ${CAMERA.width}×${CAMERA.height}@${CAMERA.fps} from everyone`,
    talkers: TALKERS,
    listeners: 'silence',
    camera: true,
  },
];

/** What one window measures. */
export interface CapacityWindow {
  cpu: CpuWindow;
  mixerP50Ms: number;
  mixerP99Ms: number;
  /** The mix encoders' Opus complexity at the end of the window (lowered while ticks are heavy). */
  mixComplexity: number | null;
  mixTicks: number;
  lateTicks: number;
  /** Packets the relay sent / received per second (mixed audio + forwarded video). */
  relayPacketsOutPerS: number;
  relayPacketsInPerS: number;
  relayMbitOutPerS: number;
  /** Mix packets per second at the client that received the fewest (50 = none missing). */
  minMixPacketsPerS: number;
  /** The longest time between two mix packets at any client in the window (ms). */
  worstAudioGapMs: number;
  /** Forwarded video packets per second at the client that received the fewest (video runs). */
  minVideoPacketsPerS: number;
  /** Slots showing someone at the first client. */
  slotsFilled: number;
  /** Server CPU per participant, in % of one core. */
  serverPercentPerParticipant: number;
}

/** Figures of one step (a meeting size). */
export interface CapacityStep extends CapacityWindow {
  participants: number;
  /** Mean and worst time for this step's newcomers from join to ICE/DTLS connected. */
  connectMsMean: number;
  connectMsMax: number;
  /** Why this step failed; empty when it held. */
  failures: string[];
  /** Windows measured: a failure is confirmed once, and disturbed windows are measured again. */
  attempts: number;
  /** Failed only while other programs loaded the machine: says nothing about the relay. */
  inconclusive: boolean;
  /** Measured after the run's first failure, for the record. */
  beyondLimit: boolean;
}

/** One run's result. */
export interface CapacityRun {
  spec: CapacityRunSpec;
  steps: CapacityStep[];
  /** The largest size that held, below the first failure (0 when none). */
  held: number;
  /** What stopped the run at the limit (the first failure). */
  limitedBy: string;
  /** Server log lines worth attention (warnings, errors, lost connections), counted. */
  serverEvents: Record<string, number>;
}

/** The whole result, as written to bench-results/relay-capacity.json. */
export interface CapacityBenchResult extends RunContext {
  name: 'relay-capacity';
  code: { commit: string; dirty: boolean };
  windowMs: number;
  limits: { mixerP99Ms: number; lateTickShare: number; serverCores: number };
  runs: CapacityRun[];
}

/** One measurement window at the current size. */
async function measure(server: ServerProcess, meetingId: string, clients: LightClient[]): Promise<CapacityWindow> {
  for (const c of clients) c.resetGap();
  const a = await relaySnapshot(server, meetingId, clients);
  await sleep(WINDOW_MS);
  const b = await relaySnapshot(server, meetingId, clients);
  const cpu = cpuBetween(a.cpu, b.cpu);
  const s = cpu.seconds;
  const d = (key: keyof MeetingDetail['relay']) => (b.relay[key] ?? 0) - (a.relay[key] ?? 0);
  const rates = b.clients.map((now, i) => ({
    audio: (now.audioIn - a.clients[i]!.audioIn) / s,
    video: (now.videoIn - a.clients[i]!.videoIn) / s,
  }));
  return {
    cpu,
    mixerP50Ms: b.relay.tickMsP50 ?? 0,
    mixerP99Ms: b.relay.tickMsP99 ?? 0,
    mixComplexity: b.relay.mixComplexity ?? null,
    mixTicks: d('mixTicks'),
    lateTicks: d('lateTicks'),
    relayPacketsOutPerS: d('packets') / s,
    relayPacketsInPerS: d('packetsReceived') / s,
    relayMbitOutPerS: (d('bytes') * 8) / s / 1e6,
    minMixPacketsPerS: Math.min(...rates.map((r) => r.audio)),
    worstAudioGapMs: Math.max(...clients.map((c) => c.counters.longestAudioGapMs)),
    minVideoPacketsPerS: Math.min(...rates.map((r) => r.video)),
    slotsFilled: clients[0]?.filledSlots ?? 0,
    serverPercentPerParticipant: (cpu.serverCores * 100) / Math.max(1, clients.length),
  };
}

/** Why a measured window does not hold (empty when it does). */
function judge(m: CapacityWindow, clients: LightClient[]): string[] {
  const failures: string[] = [];
  if (m.mixerP99Ms > P99_LIMIT_MS) failures.push(`mixer p99 ${round(m.mixerP99Ms, 1)} ms > ${P99_LIMIT_MS} ms`);
  const lateShare = m.mixTicks > 0 ? m.lateTicks / m.mixTicks : 1;
  if (lateShare > LATE_LIMIT) failures.push(`${m.lateTicks}/${m.mixTicks} ticks late (> ${LATE_LIMIT * 100}%)`);
  // One meeting lives on one media worker process: it is what saturates (the server's CPU beside the main thread's).
  const media = m.cpu.serverCores - m.cpu.serverMainCores;
  if (media >= CPU_LIMIT) failures.push(`media worker at ${round(media * 100)}% of a core`);
  const lost = clients.filter((c) => !c.connected);
  if (lost.length > 0) failures.push(`${lost.length} clients lost (${lost[0]!.failure ?? 'connection not connected'})`);
  // Not a failure of its own, but it says whose limit it is: the load clients share this machine.
  const busy = m.cpu.machineCores / cpus().length;
  if (failures.length > 0 && busy > 0.9) failures.push(`machine ${round(busy * 100)}% busy`);
  return failures;
}

/**
 * Measures one size: a held window ends it; a failure is measured once more to confirm it;
 * windows disturbed by other programs are measured again (up to MAX_ATTEMPTS), and a step
 * that only ever failed while disturbed is inconclusive. Keeps the least disturbed window.
 */
async function measureStep(
  server: ServerProcess,
  meetingId: string,
  clients: LightClient[],
  size: number,
  connectMs: number[],
  beyondLimit: boolean,
): Promise<CapacityStep> {
  let best: CapacityStep | undefined;
  let confirmedFailure = false;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    await sleep(SETTLE_MS);
    await waitForQuiet(server, MAX_BACKGROUND_CORES, QUIET_WAIT_MS);
    const m = await measure(server, meetingId, clients);
    const failures = judge(m, clients);
    const disturbed = m.cpu.backgroundCores > MAX_BACKGROUND_CORES;
    const step: CapacityStep = {
      participants: size,
      ...m,
      connectMsMean: connectMs.length ? connectMs.reduce((x, y) => x + y, 0) / connectMs.length : 0,
      connectMsMax: connectMs.length ? Math.max(...connectMs) : 0,
      failures,
      attempts: attempt,
      inconclusive: failures.length > 0 && disturbed,
      beyondLimit,
    };
    if (!best || !step.inconclusive || (best.inconclusive && step.cpu.backgroundCores < best.cpu.backgroundCores)) best = step;
    if (failures.length === 0 || beyondLimit) break;
    if (clients.some((c) => !c.connected)) break; // lost clients: nothing to measure again
    if (!disturbed) {
      if (confirmedFailure) break;
      confirmedFailure = true;
    }
    console.log(`  ${size}: ${failures.join('; ')}${disturbed ? ` (other programs used ${round(m.cpu.backgroundCores, 2)} cores)` : ''}: measuring again`);
  }
  return best!;
}

/** What the run's clients replay: a tone per talker, encoded silence, and (video runs) the recorded camera. */
interface RunMedia {
  silence: Buffer[];
  video: RecordedVideo | null;
}

/** Adds load clients until `size` are in; returns their join→connected times, or the failure. */
async function grow(spec: CapacityRunSpec, media: RunMedia, server: ServerProcess, meetingId: string, clients: LightClient[], size: number): Promise<{ connectMs: number[]; failure?: string }> {
  const connectMs: number[] = [];
  while (clients.length < size) {
    const i = clients.length;
    const talking = spec.talkers === 'all' || i < spec.talkers;
    const started = performance.now();
    try {
      const client = await LightClient.join({
        wsUrl: server.wsUrl,
        meetingId,
        name: `load-${i}`,
        mic: talking ? opusTone(220 + 37 * i) : spec.listeners === 'muted' ? null : media.silence,
        camera: media.video,
        origin: server.url,
        bindAddress: '127.0.0.1',
      });
      clients.push(client);
      connectMs.push(performance.now() - started);
    } catch (err) {
      return { connectMs, failure: `client ${i + 1} failed to connect (${(err as Error).message})` };
    }
  }
  return { connectMs };
}

function describe(step: CapacityStep): string {
  const verdict = step.failures.length ? ` → ${step.inconclusive ? 'INCONCLUSIVE' : 'FAILED'}: ${step.failures.join('; ')}` : '';
  return (
    `  ${step.participants} participants${step.beyondLimit ? ' (beyond the limit)' : ''}: ` +
    `server ${round(step.cpu.serverCores * 100)}% (main ${round(step.cpu.serverMainCores * 100)}%), ` +
    `mixer p50 ${round(step.mixerP50Ms, 2)} p99 ${round(step.mixerP99Ms, 2)} ms (Opus complexity ${step.mixComplexity ?? '?'}), late ${step.lateTicks}/${step.mixTicks}, ` +
    `worst audio gap ${Math.round(step.worstAudioGapMs)} ms, ${round(step.serverPercentPerParticipant, 2)}%/participant, clients ${round(step.cpu.clientCores * 100)}%, ` +
    `other ${round(step.cpu.backgroundCores * 100)}%${verdict}`
  );
}

async function runOnce(spec: CapacityRunSpec, media: RunMedia): Promise<CapacityRun> {
  console.log(`\n${spec.name}`);
  const server = await ServerProcess.start();
  const clients: LightClient[] = [];
  const steps: CapacityStep[] = [];
  let limitedBy = '';
  let beyond = 0;
  let inconclusiveInARow = 0;
  try {
    const meetingId = await server.createRelayMeeting(`capacity: ${spec.name}`.slice(0, LIMITS.titleMax));
    for (const size of STEPS) {
      if (limitedBy && beyond >= BEYOND_STEPS) break;
      const { connectMs, failure } = await grow(spec, { ...media, video: spec.camera ? media.video : null }, server, meetingId, clients, size);
      if (failure) {
        limitedBy ||= `${size} participants: ${failure}`;
        console.log(`  ${size}: ${failure}`);
        break;
      }
      const step = await measureStep(server, meetingId, clients, size, connectMs, limitedBy !== '');
      steps.push(step);
      console.log(describe(step));
      if (step.beyondLimit) {
        beyond += 1;
        if (clients.some((c) => !c.connected)) break;
        continue;
      }
      if (step.inconclusive) {
        inconclusiveInARow += 1;
        if (inconclusiveInARow >= 2) {
          limitedBy = `${size} participants: inconclusive, other programs kept this machine busy`;
          break;
        }
        continue;
      }
      inconclusiveInARow = 0;
      if (step.failures.length > 0) {
        limitedBy = `${size} participants: ${step.failures.join('; ')}`;
        if (clients.some((c) => !c.connected)) break;
      }
    }
  } finally {
    for (const c of clients) c.close();
    await sleep(500);
    await server.stop();
  }
  if (!limitedBy) limitedBy = `none up to ${STEPS[STEPS.length - 1]} participants (the last step)`;
  const firstFailure = steps.findIndex((s) => s.failures.length > 0 && !s.inconclusive);
  const within = firstFailure < 0 ? steps : steps.slice(0, firstFailure);
  const held = within.filter((s) => s.failures.length === 0).reduce((max, s) => Math.max(max, s.participants), 0);
  return { spec, steps, held, limitedBy, serverEvents: server.notableEvents() };
}

function markdown(result: CapacityBenchResult): string {
  const lines = [
    '# Relay capacity: participants in one relay meeting',
    '',
    `${describeRun(result, result.code)}.`,
    'Server (`scripts/start.ts`) in its own process, light load clients (node-datachannel, pre-encoded media, nothing decoded) in another, both on this machine.',
    `A step fails when the mixer p99 tick exceeds ${result.limits.mixerP99Ms} ms or more than ${result.limits.lateTickShare * 100}% of ticks are late,`,
    `when the media worker holding the meeting reaches ${result.limits.serverCores * 100}% of one core, or when clients fail. ${result.windowMs / 1000} s window per step;`,
    'rows marked "beyond" were measured after the first failure, for the record. CPU in % of one core; "per participant" =',
    'server CPU divided by the participants; "other" = programs not part of the benchmark; "worst gap" = the longest time',
    'between two mix packets at any client; "machine busy" = all CPUs of the machine (server, load clients and others',
    `together); "UDP drops" = datagrams the kernel dropped on the server's sockets for a full receive buffer.`,
  ];
  for (const run of result.runs) {
    lines.push(
      '',
      `## ${run.spec.name}: holds ${run.held} participants`,
      '',
      `Limit: ${run.limitedBy}.`,
      '',
      '| participants | server CPU | per participant | main thread | mixer p50 ms | mixer p99 ms | Opus complexity | late ticks | relay pkt/s in / out | relay Mbit/s out | min mix pkt/s | worst gap ms | min video pkt/s (slots) | join→connected ms (mean/max) | clients CPU | other | machine busy | UDP drops at server | result |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const s of run.steps) {
      const verdict = s.failures.length ? `${s.inconclusive ? 'inconclusive (machine busy): ' : ''}${s.failures.join('; ')}` : 'held';
      lines.push(
        `| ${s.participants}${s.beyondLimit ? ' (beyond)' : ''} | ${pct(s.cpu.serverCores)} | ${round(s.serverPercentPerParticipant, 2)}% | ${pct(s.cpu.serverMainCores)} | ${round(s.mixerP50Ms, 2)} | ${round(s.mixerP99Ms, 2)} | ${s.mixComplexity ?? '–'} | ` +
          `${s.lateTicks}/${s.mixTicks} | ${Math.round(s.relayPacketsInPerS)} / ${Math.round(s.relayPacketsOutPerS)} | ${round(s.relayMbitOutPerS, 2)} | ` +
          `${round(s.minMixPacketsPerS, 1)} | ${Math.round(s.worstAudioGapMs)} | ${Math.round(s.minVideoPacketsPerS)} (${s.slotsFilled}) | ${Math.round(s.connectMsMean)}/${Math.round(s.connectMsMax)} | ` +
          `${pct(s.cpu.clientCores)} | ${pct(s.cpu.backgroundCores)} | ${round((s.cpu.machineCores / result.cores) * 100)}% | ${s.cpu.udpDropsServer} | ${verdict}${s.attempts > 1 ? ` (${s.attempts} windows)` : ''} |`,
      );
    }
    const warnings = Object.entries(run.serverEvents);
    if (warnings.length > 0) {
      lines.push('', 'Server log lines worth attention:', '');
      for (const [msg, count] of warnings) lines.push(`- ${count}× ${msg}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Server CPU and the mixer's p99 tick against participants, one line per run (bench-results/relay-capacity-*.svg). */
function writeCharts(result: CapacityBenchResult): void {
  const measured = (run: CapacityRun) => run.steps.filter((s) => !s.inconclusive);
  const curve = (pick: (s: CapacityStep) => number) => result.runs.map((run) => ({ label: run.spec.name, points: measured(run).map((s): [number, number] => [s.participants, pick(s)]) }));
  writeResult(
    'relay-capacity-cpu.svg',
    lineChart({ title: 'One relay meeting: server CPU against participants', xLabel: 'participants', yLabel: '% of one core (whole server process)', series: curve((s) => s.cpu.serverCores * 100) }),
  );
  writeResult(
    'relay-capacity-p99.svg',
    lineChart({
      title: 'One relay meeting: mixer tick p99 against participants',
      xLabel: 'participants',
      yLabel: 'ms per 20 ms tick (p99)',
      series: curve((s) => s.mixerP99Ms),
      limit: { y: P99_LIMIT_MS, label: `${P99_LIMIT_MS} ms limit` },
    }),
  );
}

/** Runs every capacity run, prints the tables, writes bench-results/relay-capacity.{json,md} (after each run). */
export async function runRelayCapacityBench(runs: CapacityRunSpec[] = RUNS): Promise<CapacityBenchResult> {
  const result: CapacityBenchResult = {
    name: 'relay-capacity',
    ...runContext(),
    code: codeVersion(),
    windowMs: WINDOW_MS,
    limits: { mixerP99Ms: P99_LIMIT_MS, lateTickShare: LATE_LIMIT, serverCores: CPU_LIMIT },
    runs: [],
  };
  const media: RunMedia = {
    silence: opusTone(440, 0),
    video: runs.some((r) => r.camera) ? await recordVp8(CAMERA.width, CAMERA.height, CAMERA.fps, 3) : null,
  };
  for (const spec of runs) {
    try {
      result.runs.push(await runOnce(spec, media));
    } catch (err) {
      // One broken run must not lose the others' figures.
      result.runs.push({ spec, steps: [], held: 0, limitedBy: `the run failed: ${(err as Error).message}`, serverEvents: {} });
    }
    writeResults('relay-capacity', result, markdown(result), result.runs.length === runs.length);
    writeCharts(result);
  }
  return result;
}

if (isMain(import.meta.url)) {
  await runInPrivateNetwork('bench/relay-capacity');
  watchdog(60 * 60_000, 'relay-capacity');
  // `CAPACITY_RUNS=talking,video` measures only those loads (`audio`: the three without video).
  const only = process.env.CAPACITY_RUNS?.split(',');
  await runRelayCapacityBench(only ? RUNS.filter((r) => only.includes(r.key) || (only.includes('audio') && !r.camera)) : RUNS);
  // libdatachannel's threads can outlive the closed connections for a while: do not wait for them.
  process.exit(0);
}
