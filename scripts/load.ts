/**
 * `npm run load -- --meetings M --participants N [--video] [--talkers K|all] [--muted] [--seconds S] [--url URL]`
 *
 * Puts relay meetings under load with light clients (bench/harness/LightClient.ts: our real
 * signaling, a native DTLS-SRTP peer replaying pre-encoded Opus and VP8, nothing decoded),
 * prints a live progress line, then a summary with the server's CPU per participant. Without
 * `--url` it starts its own server (limits lifted, TURN off) and measures that process and
 * its media workers from /proc; with `--url` it loads that server and reads the whole node's
 * CPU (coordinator and media worker processes) from its `/metrics`
 * (`meetmesh_node_cpu_seconds_total`), and says so when the server does not report it (the server must allow this
 * many sockets and joins from one address: LIMIT_SOCKETS_PER_IP, LIMIT_JOINS_PER_MIN,
 * LIMIT_CREATES_PER_MIN, MAX_PARTICIPANTS). `--talkers 0 --muted` (no `--video`) keeps idle
 * relay connections: what a warm relay connection per participant would cost.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LightClient } from '../bench/harness/LightClient';
import { SignalingConnection } from '../bench/harness/SignalingConnection';
import { releaseNativePeers } from '../bench/harness/LightPeer';
import { opusTone, recordVp8, type RecordedVideo } from '../bench/harness/preEncoded';
import { readMetrics, ServerProcess } from '../bench/harness/ServerProcess';
import { selfCpuSeconds } from '../bench/harness/cpu';
import { sleep } from '../bench/harness/run';
import { writeResults } from '../bench/harness/results';
import { pct, percentile, round } from '../bench/harness/figures';
import type { MeetingDetail } from '../protocol/rest';
import { runInPrivateNetwork } from './privateNetwork';

const USAGE = 'usage: npm run load -- --meetings M --participants N [--video] [--talkers K|all] [--muted] [--seconds S] [--url URL]';

interface Settings {
  meetings: number;
  participants: number;
  video: boolean;
  /** Talkers per meeting (a tone each); the others send encoded silence, as an open microphone in a quiet room… */
  talkers: number;
  /** …or, muted, nothing. */
  muted: boolean;
  seconds: number;
  url: string | undefined;
  /** Joins in flight at once. */
  concurrency: number;
}

function settingsFromArgs(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      meetings: { type: 'string', default: '1' },
      participants: { type: 'string', default: '10' },
      video: { type: 'boolean', default: false },
      talkers: { type: 'string', default: '3' },
      muted: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '30' },
      url: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number of at least ${min} (got ${JSON.stringify(text)})\n${USAGE}`);
    return n;
  };
  const participants = count('participants', values.participants, 1);
  return {
    meetings: count('meetings', values.meetings, 1),
    participants,
    video: values.video,
    talkers: values.talkers === 'all' ? participants : Math.min(participants, count('talkers', values.talkers, 0)),
    muted: values.muted,
    seconds: count('seconds', values.seconds, 1),
    url: values.url?.replace(/\/$/, ''),
    concurrency: count('concurrency', values.concurrency, 1),
  };
}

/** The series of a server's `/metrics` that counts the whole node's CPU (coordinator and media workers). */
const NODE_CPU = 'meetmesh_node_cpu_seconds_total';

/** The server under load: one we started (CPU from /proc) or one given by URL (CPU from /metrics). */
interface Target {
  url: string;
  wsUrl: string;
  /** CPU seconds of the whole server so far (coordinator and media workers); undefined when it cannot be known. */
  cpuSeconds(): Promise<number | undefined>;
  /** Why the CPU is not known, or what it leaves out; empty when it is whole. */
  cpuCaveat: string;
  stop(): Promise<void>;
}

async function target(settings: Settings): Promise<Target> {
  if (settings.url) {
    const url = settings.url;
    const metrics = await readMetrics(url).catch(() => new Map<string, number>());
    const clustered = [...metrics.keys()].some((series) => series.startsWith('meetmesh_node_info{') && !series.includes('node="single"'));
    const cpuCaveat = !metrics.has(NODE_CPU)
      ? `cannot tell: ${url}/metrics has no ${NODE_CPU} (a server older than its per-worker metrics; process_cpu_seconds_total alone would leave out its media workers)`
      : clustered
        ? 'this node only: the server is one node of several, and meetings placed on the others are not counted'
        : '';
    return {
      url,
      wsUrl: url.replace(/^http/, 'ws') + '/ws',
      async cpuSeconds() {
        return (await readMetrics(url).catch(() => new Map<string, number>())).get(NODE_CPU);
      },
      cpuCaveat,
      stop: async () => {},
    };
  }
  const server = await ServerProcess.start({ env: { LIMIT_CREATES_PER_MIN: '100000' } });
  return { url: server.url, wsUrl: server.wsUrl, cpuSeconds: async () => server.cpu().processS, cpuCaveat: '', stop: () => server.stop() };
}

/** Cores used between two CPU readings `seconds` apart; undefined when either is unknown. */
function coresBetween(start: number | undefined, end: number | undefined, seconds: number): number | undefined {
  return start === undefined || end === undefined ? undefined : (end - start) / seconds;
}

async function createMeeting(url: string, title: string): Promise<string> {
  const response = await fetch(url + '/api/meetings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title, topology: 'relay', listed: false }),
  });
  const body = (await response.json()) as { id?: string; error?: { code: string; message: string } };
  if (!response.ok || !body.id) throw new Error(`creating a meeting: ${response.status} ${body.error?.code ?? ''} ${body.error?.message ?? ''}`);
  return body.id;
}

async function meetingDetail(url: string, id: string): Promise<MeetingDetail> {
  return (await (await fetch(`${url}/api/meetings/${id}`)).json()) as MeetingDetail;
}

/** The p-th percentile (0..100) of `values`, rounded to 0.1; 0 when empty. */
const percentileOf = (values: number[], p: number) => round(percentile([...values].sort((a, b) => a - b), p));

/** How much of the run one reading of a meeting's departure figures covers (its last 500 ticks of 20 ms). */
const DEPARTURE_WINDOW_MS = 10_000;

/** Every meeting's worst mix inter-departure p99 and max over the readings of the run. */
class DepartureSamples {
  private readonly p99 = new Map<string, number>();
  private readonly max = new Map<string, number>();

  add(details: MeetingDetail[]): void {
    for (const d of details) {
      this.p99.set(d.id, Math.max(this.p99.get(d.id) ?? 0, d.relay.departureMsP99 ?? 0));
      this.max.set(d.id, Math.max(this.max.get(d.id) ?? 0, d.relay.departureMsMax ?? 0));
    }
  }

  get figures(): { worstP99: number; worstMax: number; medianP99: number; medianMax: number } {
    const p99 = [...this.p99.values()];
    const max = [...this.max.values()];
    return { worstP99: round(Math.max(0, ...p99), 1), worstMax: round(Math.max(0, ...max), 1), medianP99: percentileOf(p99, 50), medianMax: percentileOf(max, 50) };
  }
}

/** One line, rewritten in place on a terminal, appended otherwise. */
function progress(line: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r${line.padEnd(process.stdout.columns - 1)}`);
  else console.log(line);
}

/** Sums of every client's received packets. */
function totals(clients: LightClient[]): { audioIn: number; videoIn: number } {
  let audioIn = 0;
  let videoIn = 0;
  for (const c of clients) {
    audioIn += c.counters.audioIn;
    videoIn += c.counters.videoIn;
  }
  return { audioIn, videoIn };
}

async function main(): Promise<void> {
  const settings = settingsFromArgs(process.argv.slice(2));
  // Its own server in a network namespace of its own (traffic stays on loopback); a server at `--url` is reached as it is.
  if (!settings.url) await runInPrivateNetwork('the load');
  const total = settings.meetings * settings.participants;
  console.log(`load: ${settings.meetings} meeting(s) × ${settings.participants} participants, ${settings.talkers} talking per meeting${settings.muted ? ', the others muted' : ''}, ${settings.video ? '320×240 VP8 from everyone' : 'audio only'}, ${settings.seconds} s`);
  const video: RecordedVideo | null = settings.video ? await recordVp8(320, 240, 15, 3) : null;
  const silence = opusTone(440, 0);
  const server = await target(settings);
  console.log(`server: ${server.url}${settings.url ? '' : ' (started for this run)'}`);
  if (server.cpuCaveat) console.log(`server CPU: ${server.cpuCaveat}`);
  const clients: LightClient[] = [];
  const failures = new Map<string, number>();
  const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  const interrupted = () => {
    for (const c of clients) c.close();
    void server.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  try {
    const meetingIds: string[] = [];
    for (let m = 0; m < settings.meetings; m++) meetingIds.push(await createMeeting(server.url, `load ${m + 1}`));

    // Joins, a few at a time, meeting after meeting (as people arrive).
    const queue = meetingIds.flatMap((meetingId, m) => Array.from({ length: settings.participants }, (_, p) => ({ meetingId, m, p })));
    const joinStarted = performance.now();
    const joinTimes: number[] = [];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { meetingId, m, p } = next;
        const talking = p < settings.talkers;
        const started = performance.now();
        try {
          const client = await LightClient.join({
            wsUrl: server.wsUrl,
            meetingId,
            name: `load ${m + 1}.${p + 1}`,
            mic: talking ? opusTone(200 + 100 * p) : settings.muted ? null : silence,
            camera: video,
            origin: server.url,
            ...(/^https?:\/\/(127\.|localhost)/.test(server.url) ? { bindAddress: '127.0.0.1' } : {}),
          });
          clients.push(client);
          joinTimes.push(performance.now() - started);
        } catch (err) {
          fail(`join: ${err instanceof Error ? err.message : String(err)}`);
        }
        progress(`joining: ${clients.length}/${total} in, ${[...failures.values()].reduce((a, b) => a + b, 0)} failed`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(settings.concurrency, total) }, worker));
    const joinSeconds = (performance.now() - joinStarted) / 1000;
    if (process.stdout.isTTY) process.stdout.write('\n');

    // The measured window: everyone in, a second to settle, then `seconds` of steady load.
    await sleep(1000);
    for (const c of clients) c.resetGap();
    // The load clients' own pace: a client process that stalls sends everyone's audio late and
    // then at once, which no meeting of separate people does; say so when it happened.
    const clientStalls = monitorEventLoopDelay({ resolution: 10 });
    clientStalls.enable();
    // The signaling round trip while the media is under load: a socket of its own pings the
    // server's main thread 10 times a second.
    const prober = await SignalingConnection.open(server.wsUrl, 5000, server.url);
    const roundTrips: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        roundTrips.push(await prober.ping().catch(() => 5000));
        await sleep(100);
      }
    })();
    const startCpu = await server.cpuSeconds();
    const startClientCpu = selfCpuSeconds();
    const startAt = performance.now();
    const startTotals = totals(clients);
    const startDetails = await Promise.all(meetingIds.map((id) => meetingDetail(server.url, id)));
    let lastCpu = startCpu;
    let lastAt = startAt;
    let lastTotals = startTotals;
    // Each meeting's departure figures cover its last 500 ticks (10 s): read them every 10 s.
    const departures = new DepartureSamples();
    let departuresReadAt = startAt;
    while (performance.now() - startAt < settings.seconds * 1000) {
      await sleep(1000);
      const now = performance.now();
      if (now - departuresReadAt >= DEPARTURE_WINDOW_MS) {
        departuresReadAt = now;
        departures.add(await Promise.all(meetingIds.map((id) => meetingDetail(server.url, id))));
      }
      const cpu = await server.cpuSeconds();
      const t = totals(clients);
      const dt = (now - lastAt) / 1000;
      const connected = clients.filter((c) => c.connected).length;
      const cores = coresBetween(lastCpu, cpu, dt);
      progress(
        `[${((now - startAt) / 1000).toFixed(0)}/${settings.seconds} s] ${connected}/${total} connected · received: audio ${((t.audioIn - lastTotals.audioIn) / dt).toFixed(0)} pkt/s, video ${((t.videoIn - lastTotals.videoIn) / dt).toFixed(0)} pkt/s · server CPU ${cores === undefined ? 'unknown' : `${pct(cores)} (${(cores * 100 / Math.max(1, connected)).toFixed(2)}%/participant)`}`,
      );
      lastCpu = cpu;
      lastAt = now;
      lastTotals = t;
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    const seconds = (performance.now() - startAt) / 1000;
    probing = false;
    await probe;
    prober.close();
    const serverCores = coresBetween(startCpu, await server.cpuSeconds(), seconds);
    const clientCores = (selfCpuSeconds() - startClientCpu) / seconds;
    const endTotals = totals(clients);
    const endDetails = await Promise.all(meetingIds.map((id) => meetingDetail(server.url, id)));
    for (const c of clients) if (c.failure) fail(c.failure);

    // Mixer health over the window, over every meeting.
    let ticks = 0;
    let lateTicks = 0;
    let tickP99 = 0;
    endDetails.forEach((detail, i) => {
      const end = detail.relay;
      const start = startDetails[i]!.relay;
      ticks += (end.mixTicks ?? 0) - (start.mixTicks ?? 0);
      lateTicks += (end.lateTicks ?? 0) - (start.lateTicks ?? 0);
      tickP99 = Math.max(tickP99, end.tickMsP99 ?? 0);
    });
    const connected = clients.filter((c) => c.connected).length;
    clientStalls.disable();
    const gaps = clients.map((c) => c.counters.longestAudioGapMs).sort((a, b) => a - b);
    const result = {
      settings: { ...settings, url: settings.url ?? 'started by the run' },
      participants: { joined: clients.length, connected, wanted: total },
      joinSeconds: Math.round(joinSeconds * 10) / 10,
      joinMsMedian: Math.round(percentileOf(joinTimes, 50)),
      seconds: Math.round(seconds * 10) / 10,
      /** The whole server (coordinator and media workers); null when it cannot be known (see `serverCpuCaveat`). */
      serverCpuCores: serverCores === undefined ? null : round(serverCores, 3),
      serverCpuPercentPerParticipant: serverCores === undefined ? null : round((serverCores * 100) / Math.max(1, connected), 3),
      serverCpuCaveat: server.cpuCaveat || null,
      loadClientsCpuCores: Math.round(clientCores * 1000) / 1000,
      /** How late the load clients' own event loop ran (ms): their stalls are gaps in what they receive and bursts in what they send. */
      loadClientsLoopDelayMs: { p99: round(clientStalls.percentile(99) / 1e6, 1), max: round(clientStalls.max / 1e6, 1) },
      receivedPerClientPerSecond: {
        audio: Math.round(((endTotals.audioIn - startTotals.audioIn) / Math.max(1, clients.length) / seconds) * 10) / 10,
        video: Math.round(((endTotals.videoIn - startTotals.videoIn) / Math.max(1, clients.length) / seconds) * 10) / 10,
      },
      signalingRoundTripMs: { median: percentileOf(roundTrips, 50), p99: percentileOf(roundTrips, 99), max: percentileOf(roundTrips, 100) },
      longestAudioGapMs: { median: Math.round(percentile(gaps, 50)), max: Math.round(percentile(gaps, 100)) },
      mixer: { ticks, lateTicks, lateShare: ticks > 0 ? Math.round((lateTicks / ticks) * 10000) / 10000 : 0, tickMsP99Max: Math.round(tickP99 * 100) / 100 },
      departures: departures.figures,
      failures: Object.fromEntries(failures),
    };
    const table = [
      '| measure | value |',
      '| --- | --- |',
      `| participants connected | ${connected} of ${total} (${settings.meetings} × ${settings.participants}) |`,
      `| joins | ${result.joinSeconds} s for all, median ${result.joinMsMedian} ms each |`,
      `| server CPU (coordinator and media workers) | ${serverCores === undefined ? server.cpuCaveat : `${pct(serverCores)} of a core, ${result.serverCpuPercentPerParticipant}% per participant${server.cpuCaveat ? ` (${server.cpuCaveat})` : ''}`} |`,
      `| load clients' CPU (this process) | ${pct(clientCores)} of a core${settings.url ? '' : ' (on the same machine as the server)'}; their event loop late by p99 ${result.loadClientsLoopDelayMs.p99} ms, max ${result.loadClientsLoopDelayMs.max} ms |`,
      `| received per participant | audio ${result.receivedPerClientPerSecond.audio} pkt/s (50 = every mix frame), video ${result.receivedPerClientPerSecond.video} pkt/s |`,
      `| signaling round trip (WebSocket ping, 10/s) | median ${result.signalingRoundTripMs.median} ms, p99 ${result.signalingRoundTripMs.p99} ms, worst ${result.signalingRoundTripMs.max} ms |`,
      `| longest audio gap a participant had (as its client received it) | median ${result.longestAudioGapMs.median} ms, worst ${result.longestAudioGapMs.max} ms |`,
      `| mixer | ${ticks} ticks, ${(100 * result.mixer.lateShare).toFixed(2)}% late, p99 ${result.mixer.tickMsP99Max} ms |`,
      `| mix inter-departure (every 10 s, per meeting) | worst meeting p99 ${result.departures.worstP99} ms, max ${result.departures.worstMax} ms; median meeting p99 ${result.departures.medianP99} ms, max ${result.departures.medianMax} ms |`,
      `| failures | ${failures.size === 0 ? 'none' : [...failures].map(([why, n]) => `${n}× ${why}`).join('; ')} |`,
    ].join('\n');
    console.log(`\n${table}\n`);
    writeResults('load', result, `# npm run load\n\n${table}\n`, false);
    console.log('written to bench-results/load.json and bench-results/load.md');
    process.exitCode = failures.size === 0 && connected === total ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    for (const c of clients) c.close();
    releaseNativePeers();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
