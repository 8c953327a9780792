/**
 * The media plane's workers, mediasoup's model: `MEDIA_WORKERS` worker processes (one per
 * core by default), each owning whole meetings (their relay, mixer and recording). A meeting is
 * placed on the least-loaded worker when it first needs the relay; the coordinator talks
 * to it only through the typed channel (`relay/worker/channel.ts`). A worker that dies is a
 * relay failure for its own meetings (their clients recover as from any relay failure) and
 * is started again for the next meeting that needs one.
 *
 * `MEDIA_WORKERS=0` runs the same host on the main thread (the pre-worker arrangement, kept
 * to measure the difference side by side).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { CodedError } from '../../protocol/errors';
import { decodeFromWorker, type FromWorker, type OfferFailure, type ToWorker, type WorkerFigures } from '../../relay/worker/channel';
import { addTotals, foldGauges, zeroMixerFigures, zeroRelayCounters } from '../../relay/counters';
import { MediaHost, type LogLevel } from '../../relay/worker/MediaHost';
import { releaseNativeRelay } from '../../relay/RelayPeer';
import type { WorkerSettings } from '../../relay/worker/mediaWorker';
import { leastLoadedIndex } from './placement';
import { relayBindAddress, workerUdpPort, type RelayNetworkConfig } from './RelayNetwork';
import { RemoteRelay, type RelayHandlers } from './RemoteRelay';

const BOOT = new URL('../../relay/worker/boot.mjs', import.meta.url);
const ENTRY = new URL('../../relay/worker/mediaWorker.ts', import.meta.url).href;
/**
 * The coordinator's Node options minus its module hooks (`--import`, `--require`, `--loader`):
 * those are the coordinator's (tsx, test helpers); the worker registers its own loader.
 * Everything else (e.g. `--cpu-prof`) applies to the workers too.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const hooks = ['--import', '--require', '-r', '--loader', '--experimental-loader'];
  for (let i = 0; i < process.execArgv.length; i += 1) {
    const arg = process.execArgv[i]!;
    if (hooks.includes(arg)) i += 1;
    else if (!hooks.some((h) => arg.startsWith(`${h}=`))) out.push(arg);
  }
  return out;
}

/**
 * The catalog error for an offer the worker could not answer: the client's own bad offer is
 * its error (`INVALID_OFFER`, a 400, not retried as is); anything else is the relay's.
 */
export function offerError(code: OfferFailure, detail: string): CodedError {
  if (code === 'INVALID_OFFER') return new CodedError('INVALID_OFFER', `The media relay cannot use this offer: ${detail}`);
  return new CodedError('RELAY_FAILED', `The relay refused the offer (${code}).`);
}

/** How long a worker may take to flush and end after `shutdown` before it is terminated. */
const SHUTDOWN_GRACE_MS = 2000;

/** One worker process (or the main-thread stand-in) and what runs on it. */
interface Lane {
  readonly index: number;
  link: Link | null;
  readonly relays: Map<string, RemoteRelay>;
  /** Event-loop utilization baseline for the next sample. */
  elu: EventLoopUtilization | undefined;
  utilization: number;
  /** Processes started for this worker so far (a restart after a death is one more). */
  starts: number;
  /** What the running process last reported of itself. */
  figures: WorkerFigures | undefined;
  /** The last figures of the processes before it, added up: what a restart must not lose. */
  before: { relay: WorkerFigures['relay']; mixer: WorkerFigures['mixer']; cpuSeconds: number };
}

interface Link {
  send(message: ToWorker): void;
  /** Event-loop utilization since `previous` (undefined: the running total, as a baseline); absent for a process, which reports its own. */
  eventLoopUtilization?(previous?: EventLoopUtilization): EventLoopUtilization;
  shutdown(): Promise<void>;
  /** Ends the worker at once, as a crash would (absent on the main thread). */
  crash?(): Promise<void>;
}

export interface MediaWorkersOptions {
  /** Workers; 0 runs the media on the main thread. */
  workers: number;
  logLevel: LogLevel;
  /** `RELAY_PORT` and `RELAY_ANNOUNCED_IP` (worker `i` binds its mux port `RELAY_PORT + i`). */
  network?: RelayNetworkConfig;
}

export interface WorkerLoad {
  index: number;
  meetings: number;
  participants: number;
  /** Event-loop utilization (0..1) over the last sampling interval. */
  utilization: number;
  /** Processes started for it so far. */
  starts: number;
  /**
   * Since the coordinator started, every process this worker had included (totals only
   * grow, across restarts); gauges and resident memory are the running process's. No
   * `process` on the main thread (its CPU and memory are the coordinator's).
   */
  figures: WorkerFigures;
}

export class MediaWorkers {
  private readonly lanes: Lane[];
  private requestIds = 0;
  private closing = false;
  /** Workers that died unasked, since start (a counter for `/metrics`). */
  failures = 0;
  private readonly sampler: NodeJS.Timeout;
  /** Where the relay binds (an announced address of this machine's own), decided once. */
  private readonly bindAddress: string | undefined;

  constructor(
    private readonly options: MediaWorkersOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    const count = Math.max(1, options.workers);
    this.lanes = Array.from({ length: count }, (_, index): Lane => ({
      index,
      link: null,
      relays: new Map(),
      elu: undefined,
      utilization: 0,
      starts: 0,
      figures: undefined,
      before: { relay: zeroRelayCounters(), mixer: zeroMixerFigures(), cpuSeconds: 0 },
    }));
    this.bindAddress = relayBindAddress(options.network ?? {}, networkInterfaces());
    this.sampler = setInterval(() => this.sampleUtilization(), 1000);
    this.sampler.unref();
  }

  get inProcess(): boolean {
    return this.options.workers === 0;
  }

  /** Places a meeting's relay on the least-loaded worker (starting it if needed). */
  open(meetingId: string, options: { hostAddresses: string[] }, handlers: RelayHandlers): RemoteRelay {
    if (this.closing) throw new CodedError('RELAY_FAILED', 'The media plane is shutting down.');
    const lane = this.leastLoaded();
    const link = lane.link ?? (lane.link = this.start(lane));
    const relay = new RemoteRelay(meetingId, { index: lane.index, send: (m) => link.send(m) }, handlers, () => ++this.requestIds);
    lane.relays.set(meetingId, relay);
    const network = this.options.network ?? {};
    const udpMuxPort = workerUdpPort(network, lane.index);
    link.send({
      type: 'open',
      meetingId,
      options: {
        hostAddresses: options.hostAddresses,
        ...(udpMuxPort !== undefined ? { udpMuxPort } : {}),
        ...(network.announcedIp !== undefined ? { announcedAddress: network.announcedIp } : {}),
        ...(this.bindAddress !== undefined ? { bindAddress: this.bindAddress } : {}),
      },
    });
    this.log.info({ meetingId, worker: lane.index }, 'meeting placed on media worker');
    return relay;
  }

  /**
   * Starts the first worker now instead of at its first meeting, so the first relay meeting
   * (or the meetings coming back after a restart) does not wait for a worker to boot (a
   * process, its module loader, libdatachannel and libopus: ~1 s idle, several seconds on a
   * busy machine). The others start when they get a meeting: booting them all at once would
   * slow the first one down.
   */
  warmUp(): void {
    if (this.closing) return;
    const first = this.lanes[0]!;
    first.link ??= this.start(first);
  }

  /** Per worker: what it holds and how busy it is. */
  loads(): WorkerLoad[] {
    return this.lanes.map((lane) => ({
      index: lane.index,
      meetings: [...lane.relays.values()].filter((r) => !r.final).length,
      participants: [...lane.relays.values()].reduce((n, r) => n + r.participantCount, 0),
      utilization: lane.utilization,
      starts: lane.starts,
      figures: this.lifetimeOf(lane),
    }));
  }

  /** A worker's figures over every process it had. */
  private lifetimeOf(lane: Lane): WorkerFigures {
    const whole = { relay: zeroRelayCounters(), mixer: zeroMixerFigures() };
    addTotals(whole, lane.before);
    const now = lane.figures;
    if (now) {
      addTotals(whole, now);
      foldGauges(whole, now);
    }
    if (this.inProcess) return whole;
    return { ...whole, process: { cpuSeconds: lane.before.cpuSeconds + (now?.process?.cpuSeconds ?? 0), rssBytes: now?.process?.rssBytes ?? 0 } };
  }

  /** Kills the worker holding a meeting, as a crash would (tests and drills). */
  async crashWorkerOf(meetingId: string): Promise<boolean> {
    const lane = this.lanes.find((l) => l.relays.get(meetingId)?.final === false);
    if (!lane?.link?.crash) return false;
    await lane.link.crash();
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sampler);
    await Promise.all(this.lanes.map(async (lane) => {
      const link = lane.link;
      lane.link = null;
      await link?.shutdown();
      for (const relay of lane.relays.values()) relay.workerDied();
      lane.relays.clear();
    }));
  }

  private leastLoaded(): Lane {
    const load = (lane: Lane): number => {
      let n = 0;
      for (const relay of lane.relays.values()) if (!relay.final) n += 1 + relay.participantCount;
      return n;
    };
    return this.lanes[leastLoadedIndex(this.lanes.map((lane) => ({ load: load(lane), utilization: lane.utilization })))]!;
  }

  private start(lane: Lane): Link {
    lane.starts += 1;
    const incarnation = lane.starts;
    const onMessage = (raw: unknown): void => this.receive(lane, raw, incarnation);
    const settings: WorkerSettings = { logLevel: this.options.logLevel };
    if (this.inProcess) return new InProcessLink(onMessage, settings);
    return new ProcessLink(settings, onMessage, (code, error) => this.died(lane, code, error));
  }

  private receive(lane: Lane, raw: unknown, incarnation: number): void {
    let message: FromWorker;
    try {
      message = decodeFromWorker(raw);
    } catch (err) {
      this.log.error({ err, worker: lane.index }, 'media worker sent an invalid message');
      return;
    }
    switch (message.type) {
      case 'log': {
        const { level, msg, details, meetingId } = message;
        this.log[level]({ ...details, worker: lane.index, ...(meetingId ? { meetingId } : {}) }, msg);
        return;
      }
      case 'answer':
      case 'offer-failed': {
        const result = message.type === 'answer' ? { sdp: message.sdp } : { error: offerError(message.code, message.message) };
        for (const relay of lane.relays.values()) if (relay.settle(message.requestId, result)) return;
        return;
      }
      case 'figures':
        if (message.utilization !== undefined && !lane.link?.eventLoopUtilization) lane.utilization = message.utilization;
        // A dead process's late words are not its successor's (its last figures are in `before`).
        if (message.worker && lane.link && incarnation === lane.starts) lane.figures = message.worker;
        for (const [meetingId, figures] of Object.entries(message.meetings)) {
          const relay = lane.relays.get(meetingId);
          if (!relay) continue;
          relay.report(figures);
          // A closed meeting's last figures: the worker holds nothing of it any more.
          if (relay.done) lane.relays.delete(meetingId);
        }
        return;
      default: {
        const relay = lane.relays.get(message.meetingId);
        relay?.receive(message);
        if (relay?.done) lane.relays.delete(message.meetingId);
      }
    }
  }

  private died(lane: Lane, code: number, error: Error | undefined): void {
    lane.link = null;
    this.retire(lane);
    if (this.closing) return;
    this.failures += 1;
    this.log.error({ worker: lane.index, code, err: error, meetings: [...lane.relays.keys()] }, 'media worker died; its meetings recover on another');
    const relays = [...lane.relays.values()];
    lane.relays.clear();
    for (const relay of relays) relay.workerDied();
  }

  /** The process of a worker is gone: what it last reported stays counted. */
  private retire(lane: Lane): void {
    const last = lane.figures;
    if (!last) return;
    addTotals(lane.before, last);
    lane.before.cpuSeconds += last.process?.cpuSeconds ?? 0;
    lane.figures = undefined;
  }

  private sampleUtilization(): void {
    for (const lane of this.lanes) {
      if (!lane.link) {
        lane.utilization = 0;
        lane.elu = undefined;
        continue;
      }
      const measure = lane.link.eventLoopUtilization?.bind(lane.link);
      if (!measure) continue; // a process: its figures carry its utilization
      const now = measure();
      lane.utilization = lane.elu ? measure(lane.elu).utilization : 0;
      lane.elu = now;
    }
  }
}

/**
 * A media worker in a child process (node-datachannel's addon serves one JavaScript thread
 * per process). Messages are carried as JSON over the IPC channel; its event-loop
 * utilization, not visible from here, comes with its figures.
 */
class ProcessLink implements Link {
  private readonly child: ChildProcess;
  private expectedExit = false;
  private readonly exited: Promise<void>;

  constructor(
    settings: WorkerSettings,
    onMessage: (raw: unknown) => void,
    onDeath: (code: number, error: Error | undefined) => void,
  ) {
    this.child = fork(fileURLToPath(BOOT), [ENTRY, JSON.stringify(settings)], {
      execArgv: workerExecArgv(),
      serialization: 'json',
    });
    let error: Error | undefined;
    this.child.on('message', onMessage);
    this.child.on('error', (err) => { error = err; });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      if (!this.expectedExit) onDeath(code ?? (signal ? 128 : 1), error ?? (signal ? new Error(`killed by ${signal}`) : undefined));
      resolve();
    }));
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  async shutdown(): Promise<void> {
    this.expectedExit = true;
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Ends the process at once, as a crash would. */
  async crash(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The same host on the main thread; messages still go through the channel's shapes. */
class InProcessLink implements Link {
  private readonly host: MediaHost;

  constructor(onMessage: (raw: unknown) => void, settings: WorkerSettings) {
    this.host = new MediaHost((message) => queueMicrotask(() => onMessage(message)), settings.logLevel);
  }

  send(message: ToWorker): void {
    queueMicrotask(() => this.host.handle(message));
  }

  eventLoopUtilization(previous?: EventLoopUtilization): EventLoopUtilization {
    return performance.eventLoopUtilization(previous);
  }

  async shutdown(): Promise<void> {
    this.host.close();
    // libdatachannel's threads would keep the process alive (nothing else uses it in a coordinator).
    releaseNativeRelay();
  }
}
