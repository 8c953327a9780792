/**
 * What the relay costs per forwarded video packet on each transport (`RELAY_TRANSPORT`):
 * werift (ICE, DTLS, SRTP and RTP in JavaScript, patched) against node-datachannel
 * (libdatachannel with libsrtp: native), side by side in one run, our `MeetingRelay` doing the
 * same job in a process of its own (`workers/forwarderHost.ts`): P publishers send 320×240
 * VP8 at 15 fps, every participant receives every other's camera in a slot. The load is
 * light clients (`harness/LightPeer.ts`) in this process. Figures: forwarded packets per
 * second and the forwarder process's CPU per 1,000 forwarded packets (all its threads), and
 * the ratio: issue 10's forwarding target is 15 ms per 1,000 packets.
 *
 * Writes bench-results/transport-cost.{json,md}. Run: npx tsx bench/transport-cost.ts
 * (`TRANSPORT_CONFIGS=4x8` picks publishers×participants; `TRANSPORT_ROUNDS=2` alternates that often).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { LightPeer } from './harness/LightPeer';
import { recordVp8, type RecordedVideo } from './harness/preEncoded';
import { codeVersion, round, sleep, watchdog, ROOT } from './harness/run';
import { procCpuSeconds, selfCpuSeconds } from './harness/cpu';
import { writeResults } from './harness/results';
import type { FromHost, ToHost, Transport } from './workers/forwarderHost';

const SLOTS = 8;
const SETTLE_MS = 3000;
const WINDOW_MS = 10_000;
const CONFIGS = (process.env.TRANSPORT_CONFIGS ?? '2x6,4x12,6x18').split(',').map((spec) => {
  const [publishers, participants] = spec.split('x').map(Number);
  if (!publishers || !participants || publishers > participants) throw new Error(`TRANSPORT_CONFIGS: "${spec}" is not <publishers>x<participants>`);
  return { publishers, participants };
});
const ROUNDS = Number(process.env.TRANSPORT_ROUNDS ?? 2);

/** The forwarder process and its IPC. */
class Host {
  private readonly waiting = new Map<string, (message: FromHost) => void>();
  onCandidate: (peer: string, candidate: string, mid: string) => void = () => {};

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: FromHost) => {
      if (message.type === 'candidate') this.onCandidate(message.peer, message.candidate, message.mid);
      const key = message.type === 'answer' || message.type === 'failed' ? `offer:${message.peer}` : message.type;
      const waiter = this.waiting.get(key);
      if (waiter) {
        this.waiting.delete(key);
        waiter(message);
      }
    });
  }

  static async start(transport: Transport): Promise<Host> {
    const child = fork(join(ROOT, 'bench', 'workers', 'forwarderHost.ts'), [transport], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const host = new Host(child);
    await host.next('ready');
    return host;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private next(key: string): Promise<FromHost> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`forwarder host: no ${key} within 15 s`)), 15_000);
      this.waiting.set(key, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  private send(message: ToHost): void {
    this.child.send(message);
  }

  async offer(peer: string, sdp: string, publisher: boolean): Promise<string> {
    const reply = this.next(`offer:${peer}`);
    this.send({ type: 'offer', peer, sdp, publisher });
    const message = await reply;
    if (message.type !== 'answer') throw new Error(`offer refused: ${message.type === 'failed' ? message.message : message.type}`);
    return message.sdp;
  }

  candidate(peer: string, candidate: string, mid: string): void {
    this.send({ type: 'candidate', peer, candidate, mid });
  }

  async stats(): Promise<{ forwarded: number; received: number }> {
    const reply = this.next('stats');
    this.send({ type: 'stats' });
    const message = await reply;
    if (message.type !== 'stats') throw new Error('no stats');
    return message;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

interface Measurement {
  transport: Transport;
  publishers: number;
  participants: number;
  forwardedPerS: number;
  /** The forwarder process (every thread), in cores. */
  forwarderCores: number;
  msPer1000: number;
  /** The light clients (this process), in cores. */
  clientCores: number;
}

async function measure(transport: Transport, publishers: number, participants: number, video: RecordedVideo): Promise<Measurement> {
  const host = await Host.start(transport);
  const peers = new Map<string, LightPeer>();
  host.onCandidate = (id, candidate, mid) => peers.get(id)?.addCandidate(candidate, mid);
  try {
    for (let i = 0; i < participants; i++) {
      const id = `p${i}`;
      const publisher = i < publishers;
      const peer = new LightPeer({ name: id, mic: null, camera: publisher ? video : null, slots: SLOTS, bindAddress: '127.0.0.1' });
      peers.set(id, peer);
      peer.onCandidate = (candidate, mid) => host.candidate(id, candidate, mid);
      peer.accept(await host.offer(id, await peer.offer(), publisher));
    }
    const deadline = Date.now() + 15_000;
    while ([...peers.values()].some((p) => p.state !== 'connected')) {
      if (Date.now() > deadline) throw new Error(`${transport}: not every peer connected within 15 s`);
      await sleep(50);
    }
    await sleep(SETTLE_MS);
    const a = { stats: await host.stats(), cpu: procCpuSeconds(host.pid), clients: selfCpuSeconds(), at: performance.now() };
    await sleep(WINDOW_MS);
    const b = { stats: await host.stats(), cpu: procCpuSeconds(host.pid), clients: selfCpuSeconds(), at: performance.now() };
    const seconds = (b.at - a.at) / 1000;
    const forwarded = b.stats.forwarded - a.stats.forwarded;
    const cpu = b.cpu - a.cpu;
    const received = Math.min(...[...peers.values()].slice(0, publishers).map((p) => p.counters.videoIn));
    if (forwarded === 0 || received === 0) throw new Error(`${transport}: nothing forwarded (forwarded ${forwarded}, least received ${received})`);
    return {
      transport,
      publishers,
      participants,
      forwardedPerS: forwarded / seconds,
      forwarderCores: cpu / seconds,
      msPer1000: (cpu * 1000 * 1000) / forwarded,
      clientCores: (b.clients - a.clients) / seconds,
    };
  } finally {
    for (const peer of peers.values()) peer.close();
    host.stop();
  }
}

watchdog(30 * 60_000, 'transport-cost');
console.log('recording 3 s of 320×240 VP8 from libwebrtc…');
const video = await recordVp8(320, 240, 15, 3);
const results: Measurement[] = [];
for (const { publishers, participants } of CONFIGS) {
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    // Alternating order, so a drift of the machine's load favours neither.
    const order: Transport[] = round_ % 2 === 0 ? ['werift', 'datachannel'] : ['datachannel', 'werift'];
    for (const transport of order) {
      const m = await measure(transport, publishers, participants, video);
      results.push(m);
      console.log(
        `${publishers} publishers × ${participants} participants, ${transport}: ${Math.round(m.forwardedPerS)} pkt/s forwarded, ` +
          `forwarder ${round(m.forwarderCores * 100)}% of a core = ${round(m.msPer1000, 1)} ms per 1,000 packets (clients ${round(m.clientCores * 100)}%)`,
      );
    }
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
const rows = CONFIGS.map(({ publishers, participants }) => {
  const of = (t: Transport) => results.filter((r) => r.transport === t && r.publishers === publishers && r.participants === participants);
  const werift = median(of('werift').map((r) => r.msPer1000));
  const native = median(of('datachannel').map((r) => r.msPer1000));
  const rate = median(of('werift').map((r) => r.forwardedPerS));
  return { publishers, participants, forwardedPerS: Math.round(rate), weriftMsPer1000: round(werift, 1), datachannelMsPer1000: round(native, 1), ratio: round(werift / native, 2) };
});
const table = [
  '| publishers × participants | forwarded pkt/s | werift ms CPU / 1,000 pkts | node-datachannel ms CPU / 1,000 pkts | werift ÷ node-datachannel |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.publishers} × ${r.participants} | ${r.forwardedPerS} | ${r.weriftMsPer1000} | ${r.datachannelMsPer1000} | ${r.ratio}× |`),
].join('\n');
console.log(`\n${table}`);
writeResults(
  'transport-cost',
  { name: 'transport-cost', date: new Date().toISOString(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, code: codeVersion(), windowMs: WINDOW_MS, rounds: ROUNDS, rows, runs: results },
  `# Relay transport: CPU per forwarded video packet\n\nwerift (JavaScript ICE/DTLS/SRTP) and node-datachannel (libdatachannel, native), the same forwarding job in a process of their own, median of ${ROUNDS} alternating runs, ${WINDOW_MS / 1000} s windows, 320×240 VP8 at 15 fps per publisher. CPU of the forwarder process, every thread.\n\n${table}\n`,
  false,
);
process.exit(0);
