/**
 * A user-space stand-in for `netem` on one UDP service (this kernel has none): clients send
 * to the proxy, the proxy forwards to the target (the bundled TURN server) and back, and
 * each direction can lose, delay, jitter or black out datagrams, changed live.
 *
 * - One upstream socket per client source address, so the target sees a distinct 5-tuple
 *   per client (as behind a NAT) and its replies go back to the right client.
 * - Jitter reorders by default, as on a real path and in netem: each datagram independently
 *   waits `delayMs ± uniform(jitterMs)`. `reorder: false` holds a datagram until the one
 *   before it in the same flow and direction has left (a FIFO link), keeping order.
 * - Loss and jitter draw from a seeded PRNG (`seed`, else `IMPAIR_SEED`, else random; read it
 *   back from `proxy.seed` to replay a run). With the same seed and the same datagram
 *   sequence, the same datagrams are dropped.
 * - An upstream socket that carried nothing either way for `idleTimeoutMs` is closed, like a
 *   NAT mapping expiring; the client's next datagram gets a new one (a new 5-tuple).
 * - A bottleneck (`rate`) per direction: a drop-tail queue drained at a bit rate, shared by
 *   every flow of the proxy (one proxy stands for one person's access link). A datagram meets
 *   loss (and blackout) first, then the queue (no room: dropped, counted in `queueDropped`;
 *   else it leaves after the datagrams ahead of it and its own serialization time), then the
 *   propagation delay and jitter.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { raiseOwnPriority } from '../../relay/worker/priority';
import { prng } from './prng';

/**
 * The proxy's sockets hold 4 MiB (as far as net.core.rmem_max allows): it runs in the test's
 * own event loop, which a saturated machine stalls for tens of milliseconds, and the
 * kernel's default 208 KiB overflowed then — hundreds of datagrams dropped per run that no
 * cap asked for (seen in `ss -m`), read by the relay as the link's loss.
 */
const SOCKET_BUFFERS = { recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 };

/**
 * The process that hosts a proxy runs at nice −10 (where allowed), as coturn does in the
 * tests: the proxy stands for a network link, and a link does not stop while the browsers it
 * serves keep the machine's cores busy. At the default priority the host's event loop stalled
 * for up to a second (weak-viewer: packets 300–850 ms late, far past a 150 ms queue), then
 * read the waiting datagrams all at once, and its bottleneck dropped what did not fit — loss
 * no cap asked for.
 */
const PROXY_HOST_NICE = -10;

/** The way a datagram travels: `up` from a client to the target, `down` from the target back. */
export type Direction = 'up' | 'down';

/** How one direction is impaired. */
export interface Impairment {
  /** Probability (0..1) that a datagram is dropped, drawn independently per datagram. */
  loss: number;
  /** One-way delay added to every datagram, in ms. */
  delayMs: number;
  /** Each datagram waits `delayMs + uniform(-jitterMs, +jitterMs)` (never below 0). */
  jitterMs: number;
  /** Whether jitter may reorder datagrams (true: like a real path and netem). */
  reorder: boolean;
  /** A bottleneck link with a drop-tail queue, shared by every flow of this direction; `null`: no limit. */
  rate: RateLimit | null;
}

/**
 * A bottleneck link: `bitsPerSecond` counts each datagram's UDP payload plus 28 bytes of
 * IPv4 and UDP header. The queue holds at most `queueBytes` (counted the same way), or, with
 * `queueMs`, what the link sends in that long (a datagram then never waits longer than that,
 * its own serialization included).
 */
export type RateLimit = { bitsPerSecond: number } & ({ queueBytes: number; queueMs?: never } | { queueMs: number; queueBytes?: never });

/** IPv4 (20) and UDP (8) header bytes, counted on the bottleneck link with each payload. */
export const IP_UDP_OVERHEAD_BYTES = 28;

/** Datagrams seen in one direction: `in` = arrived at the proxy, `out` = forwarded, `dropped` = lost, blacked out, refused by the bottleneck queue, or still waiting when the proxy closed. */
export interface DirectionCounters {
  in: number;
  out: number;
  dropped: number;
  /** Of `dropped`: datagrams the bottleneck queue had no room for (drop-tail). */
  queueDropped: number;
  /** UDP payload bytes forwarded. */
  bytesOut: number;
  /** The longest time a datagram was given in the bottleneck queue (waiting plus its own serialization), ms. */
  maxQueueMs: number;
}

/** Counters for both directions. */
export interface UdpProxyCounters {
  up: DirectionCounters;
  down: DirectionCounters;
}

/** Where and how to run a UdpImpairProxy. */
export interface UdpImpairProxyOptions {
  /** The UDP service behind the proxy. */
  target: { address: string; port: number };
  /** Address to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  /** PRNG seed (default: `IMPAIR_SEED` from the environment, else random). */
  seed?: number;
  /** Close an upstream socket after this long without traffic either way (default 120 s: longer than TURN refreshes and ICE consent checks, so a live call never rebinds). */
  idleTimeoutMs?: number;
  /** Initial impairment of both directions (default: none). */
  impairment?: Partial<Impairment>;
  /** Keep every delay drawn (`drawnDelays()`): what the proxy did, apart from how late timers fire. */
  recordDelays?: boolean;
}

/** One client source address and its own upstream socket. */
interface Flow {
  key: string;
  client: { address: string; port: number };
  upstream: Socket;
  lastActiveAt: number;
  /** For `reorder: false`: when the previous datagram of this flow leaves, per direction. */
  lastDueAt: Record<Direction, number>;
}

const NO_IMPAIRMENT: Impairment = { loss: 0, delayMs: 0, jitterMs: 0, reorder: true, rate: null };
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/** A UDP forwarder with live, seeded, per-direction loss, delay, jitter and blackout. */
export class UdpImpairProxy {
  /** The PRNG seed of this run (print it with a failure to replay the same losses). */
  readonly seed: number;
  readonly #socket: Socket;
  readonly #target: { address: string; port: number };
  readonly #idleTimeoutMs: number;
  readonly #flows = new Map<string, Flow>();
  readonly #impairment: Record<Direction, Impairment>;
  readonly #blackout: Record<Direction, boolean> = { up: false, down: false };
  #counters: UdpProxyCounters = freshCounters();
  #drawn: number[] | undefined;
  readonly #delayLine = new DelayLine();
  readonly #bottleneck: Record<Direction, Bottleneck>;
  readonly #blackoutTimers = new Set<{ timer: ReturnType<typeof setTimeout>; directions: Direction[]; done: () => void }>();
  readonly #random: () => number;
  readonly #idleSweep: ReturnType<typeof setInterval>;
  #closing: Promise<void> | undefined;

  /** Binds the proxy; resolves once it listens. */
  static async start(options: UdpImpairProxyOptions): Promise<UdpImpairProxy> {
    // Every thread of the host (the relay's own helper; refused without CAP_SYS_NICE: it runs as given).
    raiseOwnPriority(PROXY_HOST_NICE);
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', ...SOCKET_BUFFERS });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpImpairProxy(socket, options);
  }

  private constructor(socket: Socket, options: UdpImpairProxyOptions) {
    this.#socket = socket;
    this.#target = { ...options.target };
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const envSeed = Number(process.env.IMPAIR_SEED);
    this.seed = (options.seed ?? (Number.isInteger(envSeed) && process.env.IMPAIR_SEED ? envSeed : Math.floor(Math.random() * 2 ** 32))) >>> 0;
    this.#random = prng(this.seed);
    if (options.recordDelays) this.#drawn = [];
    const initial = validated({ ...NO_IMPAIRMENT, ...options.impairment });
    this.#impairment = { up: copy(initial), down: copy(initial) };
    this.#bottleneck = { up: new Bottleneck(initial.rate), down: new Bottleneck(initial.rate) };
    // A proxy socket error (e.g. ICMP from a vanished client) must not crash the test run.
    socket.on('error', () => {});
    socket.on('message', (datagram, from) => this.#fromClient(datagram, from));
    this.#idleSweep = setInterval(() => this.#closeIdleFlows(), Math.max(50, Math.min(this.#idleTimeoutMs / 2, 5_000)));
  }

  /** The address clients send to. */
  get address(): { address: string; port: number } {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  /** The port clients send to. */
  get port(): number {
    return this.#socket.address().port;
  }

  /** How many client flows (upstream sockets) are open now. */
  get flowCount(): number {
    return this.#flows.size;
  }

  /**
   * Changes the impairment of `direction` (default both) from the next datagram on; omitted
   * fields keep their value. A new `rate` applies at once to what is queued (`null` lets
   * the whole queue go now, as the link it stood for had no limit).
   */
  set(impairment: Partial<Impairment>, direction: Direction | 'both' = 'both'): void {
    const changed = directions(direction).map((d) => [d, validated({ ...this.#impairment[d], ...impairment })] as const);
    for (const [d, next] of changed) {
      this.#impairment[d] = next;
      if ('rate' in impairment) this.#bottleneck[d].setLimit(next.rate, performance.now());
    }
  }

  /** The impairment of one direction now. */
  impairment(direction: Direction): Readonly<Impairment> {
    return copy(this.#impairment[direction]);
  }

  /** Bytes (payload plus IP/UDP header) waiting in the bottleneck queue of `direction` now. */
  queuedBytes(direction: Direction): number {
    return this.#bottleneck[direction].queuedBytes;
  }

  /** The delay given to each datagram so far, in order (only with `recordDelays`). */
  drawnDelays(): readonly number[] {
    return this.#drawn ?? [];
  }

  /** No loss, delay, jitter, bottleneck or blackout any more, both ways (datagrams already delayed still arrive). */
  heal(): void {
    this.set(NO_IMPAIRMENT);
    this.blackout(false);
  }

  /** Drops every datagram of `direction` (default both) while on; ends any running `blackoutFor` early when turned off. */
  blackout(on: boolean, direction: Direction | 'both' = 'both'): void {
    for (const d of directions(direction)) this.#blackout[d] = on;
    if (!on && direction === 'both') for (const pending of [...this.#blackoutTimers]) pending.done();
  }

  /** True while `direction` is blacked out. */
  isBlackedOut(direction: Direction): boolean {
    return this.#blackout[direction];
  }

  /** A blackout of `ms`; resolves when it is over (or when the proxy closes). */
  blackoutFor(ms: number, direction: Direction | 'both' = 'both'): Promise<void> {
    this.blackout(true, direction);
    return new Promise((resolve) => {
      const pending = {
        timer: setTimeout(() => pending.done(), ms),
        directions: directions(direction),
        done: () => {
          clearTimeout(pending.timer);
          if (!this.#blackoutTimers.delete(pending)) return;
          // Overlapping blackouts: a direction comes back only when the last one covering it ends.
          const stillDark = new Set([...this.#blackoutTimers].flatMap((p) => p.directions));
          if (this.#closing === undefined) for (const d of pending.directions) if (!stillDark.has(d)) this.#blackout[d] = false;
          resolve();
        },
      };
      this.#blackoutTimers.add(pending);
    });
  }

  /** A copy of the datagram counters since start or the last `resetCounters`. */
  counters(): UdpProxyCounters {
    return { up: { ...this.#counters.up }, down: { ...this.#counters.down } };
  }

  /** Starts counting from zero (e.g. per phase of a test). */
  resetCounters(): void {
    this.#counters = freshCounters();
  }

  /** Stops forwarding: drops every delayed datagram (counted as dropped), clears every timer, closes every socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#idleSweep);
    const stranded = this.#delayLine.clear();
    for (const direction of stranded) this.#counters[direction].dropped++;
    for (const d of ['up', 'down'] as const) this.#counters[d].dropped += this.#bottleneck[d].clear();
    for (const pending of [...this.#blackoutTimers]) pending.done();
    const closing = [...this.#flows.values()].map((flow) => closeSocket(flow.upstream));
    this.#flows.clear();
    await Promise.all([...closing, closeSocket(this.#socket)]);
  }

  #fromClient(datagram: Buffer, from: RemoteInfo): void {
    if (this.#closing !== undefined) return;
    const flow = this.#flowOf(from);
    this.#pass(flow, 'up', datagram);
  }

  #flowOf(from: RemoteInfo): Flow {
    const key = `${from.address}|${from.port}`;
    const existing = this.#flows.get(key);
    if (existing !== undefined) return existing;
    const upstream = createSocket({ type: isIP(this.#target.address) === 6 ? 'udp6' : 'udp4', ...SOCKET_BUFFERS });
    const flow: Flow = {
      key,
      client: { address: from.address, port: from.port },
      upstream,
      lastActiveAt: performance.now(),
      lastDueAt: { up: 0, down: 0 },
    };
    upstream.on('error', () => {});
    upstream.on('message', (datagram, source) => {
      // Only the target's replies are ours to carry back; anything else is noise.
      if (source.port !== this.#target.port || this.#closing !== undefined) return;
      this.#pass(flow, 'down', datagram);
    });
    // Any local address: the kernel picks the one that routes to the target. Sends made
    // before the bind completes are queued by dgram, so no await is needed.
    upstream.bind(0);
    this.#flows.set(key, flow);
    return flow;
  }

  /** Counts, then drops one datagram (loss, blackout, a full queue) or sends it on through the bottleneck and the delay line. */
  #pass(flow: Flow, direction: Direction, datagram: Buffer): void {
    const counters = this.#counters[direction];
    counters.in++;
    const now = performance.now();
    flow.lastActiveAt = now;
    const { loss, rate } = this.#impairment[direction];
    if (this.#blackout[direction] || (loss > 0 && this.#random() < loss)) {
      counters.dropped++;
      return;
    }
    if (rate === null) {
      this.#propagate(flow, direction, datagram, now);
      return;
    }
    const queuedMs = this.#bottleneck[direction].enqueue(datagram.length + IP_UDP_OVERHEAD_BYTES, now, (departedAt) =>
      this.#propagate(flow, direction, datagram, departedAt),
    );
    if (queuedMs === undefined) {
      counters.dropped++;
      counters.queueDropped++;
    } else counters.maxQueueMs = Math.max(counters.maxQueueMs, queuedMs);
  }

  /** Delays (with jitter) a datagram that left the bottleneck at `departedAt` (its scheduled time, so late timers do not add up), or delivers it now. */
  #propagate(flow: Flow, direction: Direction, datagram: Buffer, departedAt: number): void {
    const { delayMs, jitterMs, reorder } = this.#impairment[direction];
    const jitter = jitterMs > 0 ? (this.#random() * 2 - 1) * jitterMs : 0;
    let dueAt = departedAt + Math.max(0, delayMs + jitter);
    if (!reorder) dueAt = Math.max(dueAt, flow.lastDueAt[direction]);
    this.#drawn?.push(dueAt - departedAt);
    flow.lastDueAt[direction] = dueAt;
    // Due already (no delay, or this process woke late): out now, unless the delay line still
    // holds one due earlier (its timer has not fired yet), which must go first.
    if (dueAt <= performance.now() && dueAt < this.#delayLine.nextDueAt) this.#deliver(flow, direction, datagram);
    else this.#delayLine.schedule(dueAt, direction, () => this.#deliver(flow, direction, datagram));
  }

  #deliver(flow: Flow, direction: Direction, datagram: Buffer): void {
    // The flow may have gone idle and closed while this datagram was delayed.
    if (this.#flows.get(flow.key) !== flow) {
      this.#counters[direction].dropped++;
      return;
    }
    this.#counters[direction].out++;
    this.#counters[direction].bytesOut += datagram.length;
    if (direction === 'up') flow.upstream.send(datagram, this.#target.port, this.#target.address);
    else this.#socket.send(datagram, flow.client.port, flow.client.address);
  }

  #closeIdleFlows(): void {
    const now = performance.now();
    for (const flow of [...this.#flows.values()]) {
      if (now - flow.lastActiveAt < this.#idleTimeoutMs) continue;
      this.#flows.delete(flow.key);
      void closeSocket(flow.upstream);
    }
  }
}

/**
 * Datagrams waiting for their departure time, in a min-heap on (time, arrival order) behind
 * one timer: exact ordering (a FIFO flow never overtakes itself, which per-datagram timers
 * with millisecond rounding cannot promise) and one timer to clear on close.
 */
class DelayLine {
  readonly #heap: { dueAt: number; seq: number; direction: Direction; run: () => void }[] = [];
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;

  /** When the first datagram waiting is due (Infinity: none waits). */
  get nextDueAt(): number {
    return this.#heap[0]?.dueAt ?? Infinity;
  }

  schedule(dueAt: number, direction: Direction, run: () => void): void {
    const heap = this.#heap;
    heap.push({ dueAt, seq: this.#seq++, direction, run });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
    if (dueAt < this.#armedFor) this.#arm();
  }

  /** Forgets everything waiting; returns the direction of each forgotten datagram. */
  clear(): Direction[] {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    return this.#heap.splice(0).map((entry) => entry.direction);
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const head = this.#heap[0];
    if (head === undefined) {
      this.#timer = undefined;
      this.#armedFor = Infinity;
      return;
    }
    this.#armedFor = head.dueAt;
    // Rounded up: a timer may fire up to a millisecond early by performance.now(), and a
    // datagram must never leave before its time.
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(head.dueAt - performance.now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    while (this.#heap.length > 0 && this.#heap[0]!.dueAt <= now) this.#pop().run();
    this.#arm();
  }

  #pop(): { dueAt: number; seq: number; direction: Direction; run: () => void } {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

/** One datagram in a bottleneck queue: its size on the link, when it leaves, what to do then. */
interface Queued {
  wireBytes: number;
  departAt: number;
  depart: (departedAt: number) => void;
}

/**
 * A bottleneck link: a FIFO drop-tail queue drained at a bit rate. Each datagram's departure
 * time is exact (when the link finishes sending it, after everything ahead of it), and one
 * timer is armed for the next departure; a late wake-up sends every datagram already due, so
 * timer lateness shifts datagrams by a moment but never lowers the rate. A fixed tick would
 * quantize departures to the tick and burst at each one.
 */
class Bottleneck {
  #limit: RateLimit | null;
  readonly #queue: Queued[] = [];
  /** When the link has sent everything accepted so far (≤ now: idle). */
  #busyUntil = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limit: RateLimit | null) {
    this.#limit = limit;
  }

  /** Bytes accepted and not yet sent: what is left of the one being sent, plus those waiting. */
  get queuedBytes(): number {
    if (this.#limit === null) return 0;
    return (Math.max(0, this.#busyUntil - performance.now()) * this.#limit.bitsPerSecond) / 8000;
  }

  /** Queues a datagram of `wireBytes`; returns how long it will spend in the queue (ms), or undefined when it does not fit (dropped). */
  enqueue(wireBytes: number, now: number, depart: (departedAt: number) => void): number | undefined {
    const limit = this.#limit;
    if (limit === null) throw new Error('Bottleneck.enqueue without a rate');
    const backlogBytes = (Math.max(0, this.#busyUntil - now) * limit.bitsPerSecond) / 8000;
    const maxBytes = limit.queueBytes ?? (limit.queueMs * limit.bitsPerSecond) / 8000;
    // A tiny tolerance: with `queueMs`, a datagram that fills the queue to the byte must fit.
    if (backlogBytes + wireBytes > maxBytes + 1e-6) return undefined;
    const departAt = Math.max(now, this.#busyUntil) + (wireBytes * 8000) / limit.bitsPerSecond;
    this.#busyUntil = departAt;
    this.#queue.push({ wireBytes, departAt, depart });
    if (this.#queue.length === 1) this.#arm();
    return departAt - now;
  }

  /**
   * A new rate applies to what is queued from `now`: the datagram being sent keeps the bits
   * already sent, the rest follow at the new rate. `null` sends everything queued at once.
   */
  setLimit(limit: RateLimit | null, now: number): void {
    const old = this.#limit;
    this.#limit = limit;
    if (old === null || this.#queue.length === 0) {
      this.#busyUntil = now;
      return;
    }
    if (limit === null) {
      this.#busyUntil = now;
      this.#drain(Infinity);
      return;
    }
    let t = now;
    for (const [i, entry] of this.#queue.entries()) {
      const bits = entry.wireBytes * 8;
      // Only the head can be part-sent; its remaining bits are what the old rate had left to send.
      const remainingBits = i === 0 ? Math.min(bits, (Math.max(0, entry.departAt - now) * old.bitsPerSecond) / 1000) : bits;
      t += (remainingBits * 1000) / limit.bitsPerSecond;
      entry.departAt = t;
    }
    this.#busyUntil = t;
    this.#arm();
  }

  /** Forgets everything queued; returns how many datagrams that was. */
  clear(): number {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#busyUntil = 0;
    return this.#queue.splice(0).length;
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#queue[0];
    if (next === undefined) return;
    // Rounded up, as in DelayLine: a datagram never leaves before its time.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain(performance.now());
      this.#arm();
    }, Math.max(1, Math.ceil(next.departAt - performance.now())));
  }

  /** Sends every datagram due by `until`, in order, each stamped with its own departure time. */
  #drain(until: number): void {
    // A queue holds at most a few hundred datagrams (its limit is a fraction of a second), so shift() is cheap.
    while (this.#queue.length > 0 && this.#queue[0]!.departAt <= until) {
      const entry = this.#queue.shift()!;
      entry.depart(Math.min(entry.departAt, performance.now()));
    }
  }
}

function before(a: { dueAt: number; seq: number }, b: { dueAt: number; seq: number }): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
}


function validated(impairment: Impairment): Impairment {
  const { loss, delayMs, jitterMs, rate } = impairment;
  if (!(loss >= 0 && loss <= 1)) throw new RangeError(`loss ${loss} is not within 0..1`);
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`delayMs ${delayMs} is not a finite number ≥ 0`);
  if (!(jitterMs >= 0) || !Number.isFinite(jitterMs)) throw new RangeError(`jitterMs ${jitterMs} is not a finite number ≥ 0`);
  if (rate !== null) {
    const { bitsPerSecond, queueBytes, queueMs } = rate;
    if (!(bitsPerSecond > 0) || !Number.isFinite(bitsPerSecond)) throw new RangeError(`rate.bitsPerSecond ${bitsPerSecond} is not a finite number > 0`);
    if ((queueBytes === undefined) === (queueMs === undefined)) throw new RangeError('rate needs exactly one of queueBytes and queueMs');
    const limit = queueBytes ?? queueMs!;
    if (!(limit >= 0) || !Number.isFinite(limit)) throw new RangeError(`rate.${queueBytes === undefined ? 'queueMs' : 'queueBytes'} ${limit} is not a finite number ≥ 0`);
  }
  return copy(impairment);
}

function copy(impairment: Impairment): Impairment {
  return { ...impairment, rate: impairment.rate === null ? null : { ...impairment.rate } };
}

function directions(direction: Direction | 'both'): Direction[] {
  return direction === 'both' ? ['up', 'down'] : [direction];
}

function freshCounters(): UdpProxyCounters {
  const zero = (): DirectionCounters => ({ in: 0, out: 0, dropped: 0, queueDropped: 0, bytesOut: 0, maxQueueMs: 0 });
  return { up: zero(), down: zero() };
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
