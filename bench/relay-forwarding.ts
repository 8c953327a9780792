/**
 * Video forwarding throughput of the relay: a few publishers send synthetic camera video
 * into one relay-mode meeting with several viewers, and we count the RTP packets the relay
 * forwards per second against the CPU time of the server process. The server (the real
 * `scripts/start.ts`) runs in a child process so its CPU is read from /proc apart from the
 * load clients (@roamhq/wrtc, this process).
 *
 * Each configuration is measured twice on the same meeting: cameras on (video in and out,
 * plus the audio mix every participant always receives), then cameras off (everything but
 * video). The difference is the CPU the video path costs, from which packets per
 * CPU-second of the video path follow; the all-in figure divides every forwarded packet
 * (video and mixed audio) by all the server's CPU.
 *
 * Writes bench-results/relay-forwarding.{json,md}. Run: npx tsx bench/relay-forwarding.ts
 *
 * Knobs (environment): `FORWARDING_CONFIGS=4x8,6x18` runs only those publishers×viewers;
 * `BENCH_MAX_BACKGROUND=0.8` tolerates a busier machine (cores used by other programs) before
 * a window is measured again; `BENCH_CPU_PROF=<dir>` runs the server under `--cpu-prof` and
 * leaves its .cpuprofile there (profiling slows it: take figures from runs without it).
 */
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { codeVersion, sleep, watchdog } from './harness/run';
import { pct, round } from './harness/figures';
import { cpuBetween, sampleCpu, waitForQuiet, type CpuWindow } from './harness/cpu';
import { ServerProcess } from './harness/ServerProcess';
import { writeResults } from './harness/results';
import { LoadClient, type CameraOptions, type RtpTotals } from './loadClient';

/** Publishers × viewers (viewers send no video; everyone, publishers too, views every camera). */
const ALL_CONFIGS: Array<{ publishers: number; viewers: number }> = [
  { publishers: 2, viewers: 4 },
  { publishers: 4, viewers: 8 },
  { publishers: 4, viewers: 16 },
  { publishers: 6, viewers: 18 },
];
const CONFIGS = chosenConfigs(process.env.FORWARDING_CONFIGS);

function chosenConfigs(spec: string | undefined): Array<{ publishers: number; viewers: number }> {
  if (spec === undefined || spec.trim() === '') return ALL_CONFIGS;
  return spec.split(',').map((item) => {
    const match = /^(\d+)x(\d+)$/.exec(item.trim());
    if (!match) throw new Error(`FORWARDING_CONFIGS: "${item}" is not <publishers>x<viewers>`);
    return { publishers: Number(match[1]), viewers: Number(match[2]) };
  });
}
/** Capped so the load stays put (bandwidth estimation would otherwise ramp it between runs). */
const CAMERA: CameraOptions = { width: 320, height: 240, fps: 15, maxKbps: 300 };
const SETTLE_MS = 4000;
const WINDOW_MS = 10_000;
/** Windows disturbed by other programs (more than this many cores) are measured again, up to twice. */
const MAX_BACKGROUND_CORES = Number(process.env.BENCH_MAX_BACKGROUND ?? 0.3);

/** Figures of one measurement window. */
export interface ForwardingWindow {
  cpu: CpuWindow;
  /** RTP packets the relay sent per second (video forwarded plus the audio mix). */
  relayPacketsOutPerS: number;
  relayBytesOutPerS: number;
  /** RTP packets the relay received per second (cameras, and mics if any). */
  relayPacketsInPerS: number;
  /** Mixed-audio packets the clients received per second (getStats), to split the relay's total. */
  audioPacketsOutPerS: number;
  /** Forwarded video: the relay's total minus the audio mix. */
  videoPacketsOutPerS: number;
  videoBytesOutPerS: number;
  /** Frames per second the observing viewer decoded, over all publishers. */
  observerFps: number;
  /** Frames per second each publisher's encoder produced (libwebrtc lowers it when starved of CPU). */
  publisherFps: number;
  /** Mixer ticks in the window and how many were late (the audio path sharing the event loop). */
  mixerTicks: number;
  mixerLateTicks: number;
  /** Clients whose connection was no longer up at the end of the window. */
  lostClients: number;
}

/** One configuration's result. */
export interface ForwardingRow {
  publishers: number;
  viewers: number;
  /** Video streams the relay sends: each publisher to every other participant. */
  forwardedStreams: number;
  camerasOn: ForwardingWindow;
  camerasOff: ForwardingWindow;
  /** Forwarded video packets per second per core of server CPU spent on video (on − off). */
  videoPacketsPerCoreSecond: number;
  /** Every forwarded packet (video and audio) per second per core of all server CPU, cameras on. */
  allPacketsPerCoreSecond: number;
  /** Server CPU per 1000 forwarded video packets, in ms (on − off). */
  cpuMsPer1000VideoPackets: number;
  failedClients: number;
}

/** The whole result, as written to bench-results/relay-forwarding.json. */
export interface ForwardingBenchResult {
  name: 'relay-forwarding';
  date: string;
  node: string;
  cpu: string;
  cores: number;
  code: { commit: string; dirty: boolean };
  camera: CameraOptions;
  windowMs: number;
  rows: ForwardingRow[];
  /** Server log lines worth attention (warnings, errors, lost connections), counted. */
  serverEvents: Record<string, number>;
}

interface Snapshot {
  relay: { packets: number; bytes: number; packetsReceived: number; mixTicks: number; lateTicks: number };
  clients: RtpTotals[];
  cpu: ReturnType<typeof sampleCpu>;
}

async function snapshot(server: ServerProcess, meetingId: string, clients: LoadClient[]): Promise<Snapshot> {
  const [detail, totals] = await Promise.all([server.meeting(meetingId), Promise.all(clients.map((c) => c.rtpTotals()))]);
  const cpu = sampleCpu(server);
  const relay = detail.relay as Record<string, number | undefined>;
  return {
    relay: {
      packets: relay.packets ?? 0,
      bytes: relay.bytes ?? 0,
      packetsReceived: relay.packetsReceived ?? 0,
      mixTicks: relay.mixTicks ?? 0,
      lateTicks: relay.lateTicks ?? 0,
    },
    clients: totals,
    cpu,
  };
}

function sum(totals: RtpTotals[], pick: (t: RtpTotals) => number): number {
  return totals.reduce((acc, t) => acc + pick(t), 0);
}

/** Measures one window; repeats it (at most twice) when other programs disturbed it. */
async function measureWindow(server: ServerProcess, meetingId: string, clients: LoadClient[], publishers: number): Promise<ForwardingWindow> {
  let best: ForwardingWindow | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    await waitForQuiet(server, MAX_BACKGROUND_CORES, 90_000);
    const a = await snapshot(server, meetingId, clients);
    await sleep(WINDOW_MS);
    const b = await snapshot(server, meetingId, clients);
    const cpu = cpuBetween(a.cpu, b.cpu);
    const s = cpu.seconds;
    const audioOut = (sum(b.clients, (t) => t.audioIn.packets) - sum(a.clients, (t) => t.audioIn.packets)) / s;
    // Mix bytes on the wire per packet: payload plus RTP header as the relay counts them.
    const audioBytesOut =
      (sum(b.clients, (t) => t.audioIn.bytes + t.audioIn.headerBytes) - sum(a.clients, (t) => t.audioIn.bytes + t.audioIn.headerBytes)) / s;
    const relayOut = (b.relay.packets - a.relay.packets) / s;
    const relayBytes = (b.relay.bytes - a.relay.bytes) / s;
    const window: ForwardingWindow = {
      cpu,
      relayPacketsOutPerS: relayOut,
      relayBytesOutPerS: relayBytes,
      relayPacketsInPerS: (b.relay.packetsReceived - a.relay.packetsReceived) / s,
      audioPacketsOutPerS: audioOut,
      videoPacketsOutPerS: Math.max(0, relayOut - audioOut),
      videoBytesOutPerS: Math.max(0, relayBytes - audioBytesOut),
      observerFps: ((b.clients[publishers]?.videoIn.framesDecoded ?? 0) - (a.clients[publishers]?.videoIn.framesDecoded ?? 0)) / s,
      publisherFps: (sum(b.clients, (t) => t.videoOut.framesEncoded) - sum(a.clients, (t) => t.videoOut.framesEncoded)) / s / publishers,
      mixerTicks: b.relay.mixTicks - a.relay.mixTicks,
      mixerLateTicks: b.relay.lateTicks - a.relay.lateTicks,
      lostClients: clients.filter((c) => !c.connected).length,
    };
    if (!best || window.cpu.backgroundCores < best.cpu.backgroundCores) best = window;
    if (window.cpu.backgroundCores <= MAX_BACKGROUND_CORES) break;
    console.log(`  window disturbed by other programs (${round(window.cpu.backgroundCores, 2)} cores): measuring again`);
  }
  return best!;
}

async function benchConfig(server: ServerProcess, publishers: number, viewers: number): Promise<ForwardingRow> {
  const meetingId = await server.createRelayMeeting(`forwarding ${publishers}x${viewers}`);
  const clients: LoadClient[] = [];
  let failed = 0;
  try {
    for (let i = 0; i < publishers + viewers; i++) {
      const publisher = i < publishers;
      try {
        clients.push(
          await LoadClient.join({
            wsUrl: server.wsUrl,
            meetingId,
            name: `${publisher ? 'pub' : 'view'}-${i}`,
            // Mics off: the mixer then only sends the shared (silent) listener mix, and the
            // measured CPU is mostly the video path's.
            mic: 'off',
            camera: publisher ? CAMERA : false,
            luma: 40 + ((i * 23) % 180),
            // Only the first viewer decodes (to show the video arrives); the others drop what the
            // relay forwards undecoded, so the load clients leave the CPU to the server.
            slotVideo: i === publishers ? 'decode' : 'drop',
          }),
        );
      } catch (err) {
        failed += 1;
        console.log(`  client ${i} failed: ${(err as Error).message}`);
      }
    }
    const pubs = clients.slice(0, publishers);
    // Everyone should see every camera but its own (at most the offer's slots).
    await waitUntil(() => clients.every((c, i) => c.filledSlots >= Math.min(8, i < publishers ? publishers - 1 : publishers)), 15_000);
    await sleep(SETTLE_MS);
    const camerasOn = await measureWindow(server, meetingId, clients, publishers);
    for (const p of pubs) p.setCamera(false);
    await sleep(SETTLE_MS);
    const camerasOff = await measureWindow(server, meetingId, clients, publishers);
    const videoCores = camerasOn.cpu.serverCores - camerasOff.cpu.serverCores;
    const row: ForwardingRow = {
      publishers,
      viewers,
      forwardedStreams: publishers * (publishers - 1 + viewers),
      camerasOn,
      camerasOff,
      videoPacketsPerCoreSecond: videoCores > 0 ? camerasOn.videoPacketsOutPerS / videoCores : 0,
      allPacketsPerCoreSecond: camerasOn.relayPacketsOutPerS / Math.max(1e-6, camerasOn.cpu.serverCores),
      cpuMsPer1000VideoPackets: camerasOn.videoPacketsOutPerS > 0 ? (videoCores * 1e6) / camerasOn.videoPacketsOutPerS : 0,
      failedClients: failed,
    };
    console.log(
      `  ${publishers} publishers × ${viewers} viewers: ${round(camerasOn.videoPacketsOutPerS)} video pkt/s out, ` +
        `server ${round(camerasOn.cpu.serverCores * 100)}% (cameras off ${round(camerasOff.cpu.serverCores * 100)}%), ` +
        `${Math.round(row.videoPacketsPerCoreSecond)} video pkt per core-second`,
    );
    return row;
  } finally {
    for (const c of clients) c.close();
    await sleep(1000);
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function markdown(result: ForwardingBenchResult): string {
  const lines = [
    '# Relay video forwarding: packets per second per core',
    '',
    `${result.date}, Node ${result.node}, ${result.cpu} (${result.cores} cores), code ${result.code.commit}${result.code.dirty ? ' + uncommitted changes' : ''}. Server (\`scripts/start.ts\`) in its own process;`,
    `load clients (@roamhq/wrtc) in another. Cameras ${result.camera.width}×${result.camera.height} at ${result.camera.fps} fps (synthetic, moving);`,
    `mics off; ${result.windowMs / 1000} s windows. One viewer decodes everything (observer fps); the others drop forwarded video undecoded.`,
    `"video" = the relay's forwarded packets minus the audio mix the clients received.`,
    'CPU in % of one core: server = whole process (all threads), main = its event loop thread; "off" = same meeting with cameras off.',
    '"UDP drops": datagrams the kernel dropped for a full receive buffer on the server\'s sockets (its event loop did not read in time).',
    '',
    '| publishers | viewers | streams out | publisher fps | observer fps | video pkt/s in | video pkt/s out | video Mbit/s out | server CPU on / off | main thread on | video pkt per core-s (video CPU) | all pkt per core-s (all CPU) | CPU ms per 1000 video pkt | UDP drops at server | mixer late ticks | clients CPU | background |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of result.rows) {
    const on = r.camerasOn;
    lines.push(
      `| ${r.publishers} | ${r.viewers} | ${r.forwardedStreams} | ${round(on.publisherFps, 1)} | ${round(on.observerFps, 1)} | ${Math.round(on.relayPacketsInPerS)} | ${Math.round(on.videoPacketsOutPerS)} | ` +
        `${round((on.videoBytesOutPerS * 8) / 1e6, 2)} | ${pct(on.cpu.serverCores)} / ${pct(r.camerasOff.cpu.serverCores)} | ${pct(on.cpu.serverMainCores)} | ` +
        `${Math.round(r.videoPacketsPerCoreSecond)} | ${Math.round(r.allPacketsPerCoreSecond)} | ${round(r.cpuMsPer1000VideoPackets, 1)} | ` +
        `${on.cpu.udpDropsServer} | ${on.mixerLateTicks}/${on.mixerTicks} | ` +
        `${pct(on.cpu.clientCores)} | ${pct(Math.max(on.cpu.backgroundCores, r.camerasOff.cpu.backgroundCores))} |`,
    );
  }
  const warnings = Object.entries(result.serverEvents);
  if (warnings.length > 0) {
    lines.push('', 'Server log lines worth attention during the run:', '');
    for (const [msg, count] of warnings) lines.push(`- ${count}× ${msg}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the benchmark, prints the table, writes bench-results/relay-forwarding.{json,md}. */
export async function runRelayForwardingBench(): Promise<ForwardingBenchResult> {
  const profileDir = process.env.BENCH_CPU_PROF;
  const server = await ServerProcess.start(profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {});
  const rows: ForwardingRow[] = [];
  try {
    for (const { publishers, viewers } of CONFIGS) rows.push(await benchConfig(server, publishers, viewers));
  } finally {
    await server.stop();
  }
  const result: ForwardingBenchResult = {
    name: 'relay-forwarding',
    date: new Date().toISOString(),
    node: process.versions.node,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    code: codeVersion(),
    camera: CAMERA,
    windowMs: WINDOW_MS,
    rows,
    serverEvents: server.notableEvents(),
  };
  writeResults('relay-forwarding', result, markdown(result));
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  watchdog(15 * 60_000, 'relay-forwarding');
  await runRelayForwardingBench();
  // libwebrtc's threads can outlive the closed connections for a while: do not wait for them.
  process.exit(0);
}
