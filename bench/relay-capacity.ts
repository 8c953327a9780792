/**
 * How many participants one relay meeting holds on this machine. Load clients join ONE
 * relay-mode meeting in steps (2, 4, 8, 12, 16, 24, 32, …) until a step fails: the mixer
 * misses deadlines (p99 tick > 10 ms, or more than 1% late ticks), the server process
 * saturates (≥ 95% of one core), or clients fail to connect or lose their connection.
 * After the first failure it measures at most BEYOND_STEPS more sizes, for the record of
 * how things degrade (what the listeners hear, where the CPU goes); they do not count.
 *
 * The server (the real `scripts/start.ts`) runs in a child process; its CPU comes from
 * /proc, the mixer figures from `GET /api/meetings/:id` (`relay.tickMsP99`, `lateTicks`).
 * Runs: audio only (3 talkers sending a sine, the others an unmuted mic in a quiet room:
 * digital silence, no DTX); the same with the others muted (the usual large meeting); everyone
 * talking (the mixer's worst case); and audio plus a small synthetic camera from everyone.
 *
 * Load clients do not decode video: libwebrtc decodes every received stream whether a sink
 * is attached or not, so they apply the relay's answer with their slots inactive
 * (`slotVideo: 'drop'`) and drop forwarded video undecoded. The relay still forwards to every
 * slot as it would to browsers. One observer (the first client) decodes all its slots and
 * listens to its mix, to show that video and audio still arrive at every step.
 *
 * Writes bench-results/relay-capacity.{json,md}. Run: npx tsx bench/relay-capacity.ts
 */
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { LIMITS } from '../protocol/limits';
import {
  codeVersion,
  cpuBetween,
  LoadClient,
  round,
  sampleCpu,
  ServerProcess,
  sleep,
  waitForQuiet,
  watchdog,
  writeResults,
  type CameraOptions,
  type CpuWindow,
  type RtpTotals,
} from './loadClient';

const STEPS = [2, 4, 8, 12, 16, 24, 32, 40, 48];
/** Sizes measured after the first failure, for the record. */
const BEYOND_STEPS = 2;
const TALKERS = 3;
const CAMERA: CameraOptions = { width: 160, height: 120, fps: 15, maxKbps: 250 };
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
  name: string;
  /** How many participants push a sine. */
  talkers: number | 'all';
  /** The others: an unmuted mic in a quiet room (digital silence, still sent and decoded) or muted. */
  listeners: 'silence' | 'muted';
  camera: CameraOptions | false;
}

const RUNS: CapacityRunSpec[] = [
  { name: `audio only, ${TALKERS} talkers, the others unmuted in silence`, talkers: TALKERS, listeners: 'silence', camera: false },
  { name: `audio only, ${TALKERS} talkers, the others muted`, talkers: TALKERS, listeners: 'muted', camera: false },
  { name: 'audio only, everyone talking', talkers: 'all', listeners: 'silence', camera: false },
  {
    name: `audio (${TALKERS} talkers, the others unmuted in silence) + video ${CAMERA.width}×${CAMERA.height}@${CAMERA.fps} from everyone`,
    talkers: TALKERS,
    listeners: 'silence',
    camera: CAMERA,
  },
];

/** What one window measures. */
export interface CapacityWindow {
  cpu: CpuWindow;
  mixerP50Ms: number;
  mixerP99Ms: number;
  mixTicks: number;
  lateTicks: number;
  /** Packets the relay sent / received per second (mixed audio + forwarded video). */
  relayPacketsOutPerS: number;
  relayPacketsInPerS: number;
  relayMbitOutPerS: number;
  /** Mix packets per second at the client that received the fewest (50 = none missing). */
  minMixPacketsPerS: number;
  /** Share of played mix samples that were concealed, at the worst client (glitches heard). */
  worstConcealed: number;
  /** Mean jitter-buffer delay of the mix over all clients, ms. */
  jitterBufferMs: number;
  /** The observer's share of 10 ms chunks with audible mix (its talker peers' sines). */
  observerAudible: number;
  /** Frames per second the observer decoded over its slots (video runs). */
  observerFramesPerS: number;
  observerSlotsFilled: number;
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
export interface CapacityBenchResult {
  name: 'relay-capacity';
  date: string;
  node: string;
  cpu: string;
  cores: number;
  code: { commit: string; dirty: boolean };
  windowMs: number;
  limits: { mixerP99Ms: number; lateTickShare: number; serverCores: number };
  runs: CapacityRun[];
}

interface Snapshot {
  relay: Record<string, number>;
  clients: RtpTotals[];
  observerAudible: number;
  observerFrames: number;
  cpu: ReturnType<typeof sampleCpu>;
}

async function snapshot(server: ServerProcess, meetingId: string, clients: LoadClient[]): Promise<Snapshot> {
  const [detail, totals] = await Promise.all([server.meeting(meetingId), Promise.all(clients.map((c) => c.rtpTotals()))]);
  return {
    relay: detail.relay as Record<string, number>,
    clients: totals,
    observerAudible: clients[0]?.audibleChunks ?? 0,
    observerFrames: clients[0]?.framesSeen ?? 0,
    cpu: sampleCpu(server),
  };
}

/** One measurement window at the current size. */
async function measure(server: ServerProcess, meetingId: string, clients: LoadClient[]): Promise<CapacityWindow> {
  const a = await snapshot(server, meetingId, clients);
  await sleep(WINDOW_MS);
  const b = await snapshot(server, meetingId, clients);
  const cpu = cpuBetween(a.cpu, b.cpu);
  const s = cpu.seconds;
  const d = (key: string) => (b.relay[key] ?? 0) - (a.relay[key] ?? 0);
  const audio = b.clients.map((t, i) => {
    const before = a.clients[i]!.audioIn;
    const now = t.audioIn;
    const played = now.totalSamples - before.totalSamples;
    return {
      packetsPerS: (now.packets - before.packets) / s,
      concealed: played > 0 ? (now.concealedSamples - before.concealedSamples) / played : 0,
      jitterBufferDelayS: now.jitterBufferDelayS - before.jitterBufferDelayS,
      emitted: now.jitterBufferEmitted - before.jitterBufferEmitted,
    };
  });
  const emitted = audio.reduce((acc, x) => acc + x.emitted, 0);
  return {
    cpu,
    mixerP50Ms: b.relay.tickMsP50 ?? 0,
    mixerP99Ms: b.relay.tickMsP99 ?? 0,
    mixTicks: d('mixTicks'),
    lateTicks: d('lateTicks'),
    relayPacketsOutPerS: d('packets') / s,
    relayPacketsInPerS: d('packetsReceived') / s,
    relayMbitOutPerS: (d('bytes') * 8) / s / 1e6,
    minMixPacketsPerS: Math.min(...audio.map((x) => x.packetsPerS)),
    worstConcealed: Math.max(...audio.map((x) => x.concealed)),
    jitterBufferMs: emitted > 0 ? (audio.reduce((acc, x) => acc + x.jitterBufferDelayS, 0) / emitted) * 1000 : 0,
    observerAudible: (b.observerAudible - a.observerAudible) / (s * 100),
    observerFramesPerS: (b.observerFrames - a.observerFrames) / s,
    observerSlotsFilled: clients[0]?.filledSlots ?? 0,
  };
}

/** Why a measured window does not hold (empty when it does). */
function judge(m: CapacityWindow, clients: LoadClient[]): string[] {
  const failures: string[] = [];
  if (m.mixerP99Ms > P99_LIMIT_MS) failures.push(`mixer p99 ${round(m.mixerP99Ms, 1)} ms > ${P99_LIMIT_MS} ms`);
  const lateShare = m.mixTicks > 0 ? m.lateTicks / m.mixTicks : 1;
  if (lateShare > LATE_LIMIT) failures.push(`${m.lateTicks}/${m.mixTicks} ticks late (> ${LATE_LIMIT * 100}%)`);
  if (m.cpu.serverCores >= CPU_LIMIT) failures.push(`server at ${round(m.cpu.serverCores * 100)}% of a core`);
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
  clients: LoadClient[],
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

/** Adds load clients until `size` are in; returns their join→connected times, or the failure. */
async function grow(spec: CapacityRunSpec, server: ServerProcess, meetingId: string, clients: LoadClient[], size: number): Promise<{ connectMs: number[]; failure?: string }> {
  const connectMs: number[] = [];
  while (clients.length < size) {
    const i = clients.length;
    const talking = spec.talkers === 'all' || i < spec.talkers;
    try {
      const client = await LoadClient.join({
        wsUrl: server.wsUrl,
        meetingId,
        name: `load-${i}`,
        mic: talking ? 'tone' : spec.listeners === 'muted' ? 'off' : 'silence',
        toneHz: 220 + 37 * i,
        camera: spec.camera,
        luma: 30 + ((i * 37) % 200),
        slots: LIMITS.relayVideoSlots,
        slotVideo: i === 0 ? 'decode' : 'drop',
        sinkSlots: i === 0 ? LIMITS.relayVideoSlots : 0,
        listenAudio: i === 0,
      });
      clients.push(client);
      connectMs.push(client.timings.connectedMs);
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
    `mixer p50 ${round(step.mixerP50Ms, 2)} p99 ${round(step.mixerP99Ms, 2)} ms, late ${step.lateTicks}/${step.mixTicks}, ` +
    `concealed ${round(step.worstConcealed * 100, 2)}%, clients ${round(step.cpu.clientCores * 100)}%, ` +
    `other ${round(step.cpu.backgroundCores * 100)}%${verdict}`
  );
}

async function runOnce(spec: CapacityRunSpec): Promise<CapacityRun> {
  console.log(`\n${spec.name}`);
  const server = await ServerProcess.start();
  const clients: LoadClient[] = [];
  const steps: CapacityStep[] = [];
  let limitedBy = '';
  let beyond = 0;
  let inconclusiveInARow = 0;
  try {
    const meetingId = await server.createRelayMeeting(`capacity: ${spec.name}`.slice(0, LIMITS.titleMax));
    for (const size of STEPS) {
      if (limitedBy && beyond >= BEYOND_STEPS) break;
      const { connectMs, failure } = await grow(spec, server, meetingId, clients, size);
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

function pct(cores: number): string {
  return `${round(cores * 100)}%`;
}

function markdown(result: CapacityBenchResult): string {
  const lines = [
    '# Relay capacity: participants in one relay meeting',
    '',
    `${result.date}, Node ${result.node}, ${result.cpu} (${result.cores} cores), code ${result.code.commit}${result.code.dirty ? ' + uncommitted changes' : ''}.`,
    'Server (`scripts/start.ts`) in its own process, load clients (@roamhq/wrtc) in another, both on this machine.',
    `A step fails when the mixer p99 tick exceeds ${result.limits.mixerP99Ms} ms or more than ${result.limits.lateTickShare * 100}% of ticks are late,`,
    `when the server process reaches ${result.limits.serverCores * 100}% of one core, or when clients fail. ${result.windowMs / 1000} s window per step;`,
    'rows marked "beyond" were measured after the first failure, for the record. Load clients do not decode the video forwarded',
    'to them (their slots are inactive on their side; the relay forwards as to browsers); one observer decodes its 8 slots and',
    'plays its mix. CPU in % of one core; "other" = programs not part of the benchmark; "concealed" = share of the mix the',
    'worst client played as concealment (a glitch); "jb" = mean jitter-buffer delay of the mix at the clients; "machine busy" =',
    'all CPUs of the machine (server, load clients and others together); "UDP drops" = datagrams the kernel dropped on the',
    "server's sockets for a full receive buffer.",
  ];
  for (const run of result.runs) {
    lines.push(
      '',
      `## ${run.spec.name}: holds ${run.held} participants`,
      '',
      `Limit: ${run.limitedBy}.`,
      '',
      '| participants | server CPU | main thread | mixer p50 ms | mixer p99 ms | late ticks | relay pkt/s in / out | relay Mbit/s out | min mix pkt/s | concealed (worst) | jb ms | observer audible | observer fps (slots) | join→connected ms (mean/max) | clients CPU | other | machine busy | UDP drops at server | result |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const s of run.steps) {
      const verdict = s.failures.length ? `${s.inconclusive ? 'inconclusive (machine busy): ' : ''}${s.failures.join('; ')}` : 'held';
      lines.push(
        `| ${s.participants}${s.beyondLimit ? ' (beyond)' : ''} | ${pct(s.cpu.serverCores)} | ${pct(s.cpu.serverMainCores)} | ${round(s.mixerP50Ms, 2)} | ${round(s.mixerP99Ms, 2)} | ` +
          `${s.lateTicks}/${s.mixTicks} | ${Math.round(s.relayPacketsInPerS)} / ${Math.round(s.relayPacketsOutPerS)} | ${round(s.relayMbitOutPerS, 2)} | ` +
          `${round(s.minMixPacketsPerS, 1)} | ${round(s.worstConcealed * 100, 2)}% | ${Math.round(s.jitterBufferMs)} | ${Math.round(s.observerAudible * 100)}% | ` +
          `${round(s.observerFramesPerS, 1)} (${s.observerSlotsFilled}) | ${Math.round(s.connectMsMean)}/${Math.round(s.connectMsMax)} | ` +
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

/** Runs every capacity run, prints the tables, writes bench-results/relay-capacity.{json,md} (after each run). */
export async function runRelayCapacityBench(runs: CapacityRunSpec[] = RUNS): Promise<CapacityBenchResult> {
  const result: CapacityBenchResult = {
    name: 'relay-capacity',
    date: new Date().toISOString(),
    node: process.versions.node,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    code: codeVersion(),
    windowMs: WINDOW_MS,
    limits: { mixerP99Ms: P99_LIMIT_MS, lateTickShare: LATE_LIMIT, serverCores: CPU_LIMIT },
    runs: [],
  };
  for (const spec of runs) {
    try {
      result.runs.push(await runOnce(spec));
    } catch (err) {
      // One broken run must not lose the others' figures.
      result.runs.push({ spec, steps: [], held: 0, limitedBy: `the run failed: ${(err as Error).message}`, serverEvents: {} });
    }
    writeResults('relay-capacity', result, markdown(result), result.runs.length === runs.length);
  }
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  watchdog(60 * 60_000, 'relay-capacity');
  await runRelayCapacityBench();
  // libwebrtc's threads can outlive the closed connections for a while: do not wait for them.
  process.exit(0);
}
