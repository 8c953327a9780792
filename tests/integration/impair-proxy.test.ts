/**
 * The impaired-network harness itself, with real sockets: the UDP impairment proxy (loss,
 * delay, jitter, blackout, a rate-limited drop-tail bottleneck, routing, idle flows, TURN
 * through it) and the TCP proxy (a real
 * coordinator's WebSocket cut, stalled, refused).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { CreatedMeeting } from '../../protocol/rest';
import { impairedSignaling, impairedTurn } from '../helpers/impair';
import { api, startServer, type TestServer } from '../helpers/server';
import { TurnClient } from '../helpers/turnClient';
import { IP_UDP_OVERHEAD_BYTES, UdpImpairProxy, type Impairment } from '../helpers/UdpImpairProxy';
import { waitFor } from '../helpers/wait';
import { TestSocket } from '../helpers/wsClient';

interface Arrival {
  seq: number;
  sentAt: number;
  at: number;
  from: { address: string; port: number };
  tag: string;
}

/** A UDP endpoint on 127.0.0.1 that records what arrives; `echo` sends each datagram back to its source. */
class Endpoint {
  readonly arrivals: Arrival[] = [];
  private constructor(readonly socket: Socket) {}

  static async open(options: { echo?: boolean } = {}): Promise<Endpoint> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const endpoint = new Endpoint(socket);
    socket.on('message', (datagram, from) => {
      endpoint.arrivals.push({ ...decode(datagram), at: performance.now(), from: { address: from.address, port: from.port } });
      if (options.echo) socket.send(datagram, from.port, from.address);
    });
    return endpoint;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends datagram `seq` (stamped with the send time and `tag`) to `port`. */
  send(port: number, seq: number, tag = ''): void {
    this.socket.send(encode(seq, tag), port, '127.0.0.1');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function encode(seq: number, tag: string): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(seq, 0);
  head.writeDoubleBE(performance.now(), 4);
  return Buffer.concat([head, Buffer.from(tag)]);
}

function decode(datagram: Buffer): { seq: number; sentAt: number; tag: string } {
  return { seq: datagram.readUInt32BE(0), sentAt: datagram.readDoubleBE(4), tag: datagram.subarray(12).toString() };
}

/** Holds for `ms` that `condition` stays true (a bounded observation that nothing happens). */
async function staysTrue(condition: () => boolean, ms: number, what: string): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    assert.ok(condition(), what);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(condition(), what);
}

/** Sends `count` datagrams in batches, each batch only once the previous one has left the proxy (no kernel buffer overflow, no sleeps). */
async function sendPaced(client: Endpoint, proxy: UdpImpairProxy, sink: Endpoint, count: number, batch = 100): Promise<void> {
  const start = proxy.counters().up;
  for (let seq = 0; seq < count; seq += batch) {
    const n = Math.min(batch, count - seq);
    for (let i = 0; i < n; i++) client.send(proxy.port, seq + i);
    await waitFor(() => {
      const up = proxy.counters().up;
      return up.in - start.in === seq + n && up.out + up.dropped === up.in && sink.arrivals.length >= up.out - start.out;
    }, 5000, `batch ending at ${seq + n} to pass the proxy`);
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
test.after.each(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function proxyTo(target: Endpoint, options: Partial<Parameters<typeof UdpImpairProxy.start>[0]> = {}): Promise<UdpImpairProxy> {
  const proxy = await UdpImpairProxy.start({ ...options, target: { address: '127.0.0.1', port: target.port } });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function endpoint(options: { echo?: boolean } = {}): Promise<Endpoint> {
  const e = await Endpoint.open(options);
  cleanups.push(() => e.close());
  return e;
}

test('loss 0.3 drops about 30% of 2000 datagrams, and the same seed drops the same ones', async () => {
  const received: number[][] = [];
  for (let run = 0; run < 2; run++) {
    const sink = await endpoint();
    const client = await endpoint();
    const proxy = await proxyTo(sink, { seed: 1234, impairment: { loss: 0.3 } });
    await sendPaced(client, proxy, sink, 2000);
    const { up, down } = proxy.counters();
    // Binomial(2000, 0.3): mean 600, sd 20.5; ±4 sd.
    assert.ok(up.dropped >= 518 && up.dropped <= 682, `dropped ${up.dropped} of 2000, expected about 600 (seed ${proxy.seed})`);
    assert.is(up.in, 2000);
    assert.is(up.out + up.dropped, 2000);
    await waitFor(() => sink.arrivals.length === up.out, 2000, 'every forwarded datagram to arrive');
    assert.equal(down, { in: 0, out: 0, dropped: 0, queueDropped: 0, bytesOut: 0, maxQueueMs: 0 });
    received.push(sink.arrivals.map((a) => a.seq).sort((a, b) => a - b));
  }
  assert.equal(received[0], received[1], 'the same seed and traffic drop the same datagrams');
});

test('delay 50 ± 20 ms: every datagram waits between 30 and 70 ms, spread over that range, and jitter reorders', async () => {
  const sink = await endpoint();
  const client = await endpoint();
  const proxy = await proxyTo(sink, { seed: 7, impairment: { delayMs: 50, jitterMs: 20 }, recordDelays: true });
  for (let burst = 0; burst < 10; burst++) {
    for (let i = 0; i < 20; i++) client.send(proxy.port, burst * 20 + i);
    await waitFor(() => sink.arrivals.length === (burst + 1) * 20, 3000, `burst ${burst} to arrive`);
  }
  // What the proxy drew is exact; when the timers then fire depends on this machine's load
  // (a timing assertion on a shared 2-core machine would flake), so arrivals are only
  // checked for what load cannot change: never earlier than drawn, and in due order.
  const drawn = [...proxy.drawnDelays()].sort((a, b) => a - b);
  const q = (x: number) => drawn[Math.min(drawn.length - 1, Math.floor(drawn.length * x))]!;
  const summary = `drawn min ${q(0).toFixed(1)}, median ${q(0.5).toFixed(1)}, max ${q(1).toFixed(1)} ms`;
  assert.is(drawn.length, 200);
  assert.ok(q(0) >= 30 && q(1) <= 70, `every delay within 50 ± 20 ms (${summary})`);
  assert.ok(q(0) < 34 && q(1) > 66, `the jitter spans its range (${summary})`);
  assert.ok(q(0.5) > 45 && q(0.5) < 55, `the median is about 50 ms (${summary})`);
  const waited = sink.arrivals.map((a) => a.at - a.sentAt);
  assert.ok(Math.min(...waited) >= 29, `no datagram arrived before its delay (min ${Math.min(...waited).toFixed(1)} ms)`);
  const order = sink.arrivals.map((a) => a.seq);
  assert.ok(order.some((seq, i) => i > 0 && seq < order[i - 1]!), 'jitter reorders datagrams');
});

test('with reorder off, jitter still delays but a flow never overtakes itself', async () => {
  const sink = await endpoint();
  const client = await endpoint();
  const proxy = await proxyTo(sink, { seed: 7, impairment: { delayMs: 50, jitterMs: 20, reorder: false } });
  for (let i = 0; i < 100; i++) client.send(proxy.port, i);
  await waitFor(() => sink.arrivals.length === 100, 3000, 'all 100 datagrams');
  assert.equal(sink.arrivals.map((a) => a.seq), [...Array(100).keys()]);
  assert.ok(sink.arrivals.every((a) => a.at - a.sentAt >= 30), 'each waited at least delay - jitter');
});

test('a blackout drops everything, both ways or one way, and traffic resumes after it', async () => {
  const echo = await endpoint({ echo: true });
  const client = await endpoint();
  const proxy = await proxyTo(echo);
  client.send(proxy.port, 0);
  await waitFor(() => client.arrivals.length === 1, 2000, 'the first echo');

  proxy.blackout(true);
  for (let seq = 1; seq <= 20; seq++) client.send(proxy.port, seq);
  await waitFor(() => proxy.counters().up.in === 21, 2000, 'the blacked-out datagrams to reach the proxy');
  assert.is(proxy.counters().up.dropped, 20);
  assert.is(echo.arrivals.length, 1, 'nothing crossed the blackout');
  proxy.blackout(false);
  client.send(proxy.port, 21);
  await waitFor(() => client.arrivals.some((a) => a.seq === 21), 2000, 'the echo after the blackout');

  // Downstream only: the target still hears the client, the client hears nothing back.
  proxy.blackout(true, 'down');
  client.send(proxy.port, 22);
  await waitFor(() => echo.arrivals.some((a) => a.seq === 22), 2000, 'the target to receive during a downstream blackout');
  await waitFor(() => proxy.counters().down.dropped === 1, 2000, 'the echo to be dropped on its way back');
  assert.not.ok(client.arrivals.some((a) => a.seq === 22));
  proxy.blackout(false, 'down');

  // A timed blackout ends by itself.
  const over = proxy.blackoutFor(300);
  assert.ok(proxy.isBlackedOut('up') && proxy.isBlackedOut('down'));
  client.send(proxy.port, 23);
  await waitFor(() => proxy.counters().up.dropped === 21, 2000, 'the datagram sent during blackoutFor to be dropped');
  await over;
  assert.not.ok(proxy.isBlackedOut('up') || proxy.isBlackedOut('down'));
  client.send(proxy.port, 24);
  await waitFor(() => client.arrivals.some((a) => a.seq === 24), 2000, 'the echo after blackoutFor');
  assert.not.ok(client.arrivals.some((a) => a.seq === 23));
});

test('replies route back to the right one of two clients, each through its own 5-tuple', async () => {
  const echo = await endpoint({ echo: true });
  const alice = await endpoint();
  const bob = await endpoint();
  const proxy = await proxyTo(echo);
  for (let seq = 0; seq < 10; seq++) {
    alice.send(proxy.port, seq, 'alice');
    bob.send(proxy.port, seq, 'bob');
  }
  await waitFor(() => alice.arrivals.length === 10 && bob.arrivals.length === 10, 2000, 'ten echoes each');
  assert.ok(alice.arrivals.every((a) => a.tag === 'alice'), 'Alice gets only her own echoes');
  assert.ok(bob.arrivals.every((a) => a.tag === 'bob'), 'Bob gets only his own echoes');
  const sourceOf = (tag: string) => new Set(echo.arrivals.filter((a) => a.tag === tag).map((a) => a.from.port));
  const [alicePorts, bobPorts] = [sourceOf('alice'), sourceOf('bob')];
  assert.is(alicePorts.size, 1);
  assert.is(bobPorts.size, 1);
  assert.is.not([...alicePorts][0], [...bobPorts][0], 'the target sees two distinct sources');
  assert.not.ok(alicePorts.has(alice.port) || alicePorts.has(proxy.port), 'the target sees the proxy\'s upstream socket, not the client');
  assert.is(proxy.flowCount, 2);

  // Impairing one direction leaves the other alone.
  proxy.set({ loss: 1 }, 'down');
  alice.send(proxy.port, 99, 'alice');
  await waitFor(() => echo.arrivals.some((a) => a.seq === 99), 2000, 'the target to receive with downstream loss 1');
  await waitFor(() => proxy.counters().down.dropped === 1, 2000, 'the reply to be lost');
  assert.is(proxy.impairment('up').loss, 0);
});

test('an idle flow is closed, and the client\'s next datagram comes from a new 5-tuple', async () => {
  const echo = await endpoint({ echo: true });
  const client = await endpoint();
  const proxy = await proxyTo(echo, { idleTimeoutMs: 200 });
  client.send(proxy.port, 0);
  await waitFor(() => client.arrivals.length === 1, 2000, 'the first echo');
  assert.is(proxy.flowCount, 1);
  await waitFor(() => proxy.flowCount === 0, 3000, 'the idle flow to close');
  client.send(proxy.port, 1);
  await waitFor(() => client.arrivals.length === 2, 2000, 'the echo through a new flow');
  assert.is.not(echo.arrivals[1]!.from.port, echo.arrivals[0]!.from.port, 'a new upstream socket, as after a NAT mapping expired');
});

/** Payload bytes of the paced senders' datagrams (12 bytes of header from `encode`, the rest padding). */
const PAYLOAD = 1000;
const WIRE_BITS = (PAYLOAD + IP_UDP_OVERHEAD_BYTES) * 8;
const PADDING = 'x'.repeat(PAYLOAD - 12);

/**
 * Sends `bitsPerSecond` (counted as the bottleneck counts: payload plus 28 bytes) from
 * `client` to `port` until `stop()`: each 5 ms tick sends what is due by then, so the
 * average rate is exact whatever the timer does. Sequence numbers start at `firstSeq`.
 */
function pacedSender(client: Endpoint, port: number, bitsPerSecond: number, tag = '', firstSeq = 0): { stop: () => number; sent: () => number } {
  const startedAt = performance.now();
  let sent = 0;
  const send = () => {
    const due = Math.floor(((performance.now() - startedAt) * bitsPerSecond) / 1000 / WIRE_BITS);
    for (; sent < due; sent++) client.send(port, firstSeq + sent, tag + PADDING.slice(tag.length));
  };
  const timer = setInterval(send, 5);
  cleanups.push(() => clearInterval(timer));
  return {
    stop: () => {
      clearInterval(timer);
      return sent;
    },
    sent: () => sent,
  };
}

/** Received bit rate (payload plus 28 bytes each) of `arrivals` that arrived within [from, to). */
function receivedBps(arrivals: readonly Arrival[], from: number, to: number): number {
  const n = arrivals.filter((a) => a.at >= from && a.at < to).length;
  return (n * WIRE_BITS * 1000) / (to - from);
}

/** Waits (observably: the proxy's clock, not a sleep used as synchronisation) until `ms` after `since`. */
async function until(since: number, ms: number): Promise<number> {
  await waitFor(() => performance.now() >= since + ms, ms + 5000, `${ms} ms of traffic`, 10);
  return performance.now();
}

const kbps = (bps: number) => `${(bps / 1000).toFixed(0)} kbit/s`;

/**
 * Times this process could not run (event-loop gaps over 15 ms, seen by a 5 ms heartbeat).
 * A user-space link sends nothing while its process is descheduled, and that link time is
 * lost for good (a real link keeps sending its queue); on a loaded machine the rate a test
 * may demand is the cap over the time the process actually ran.
 */
function stallMeter(): { stalledMs: (from: number, to: number) => number } {
  const gaps: [number, number][] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > 15) gaps.push([last + 5, now]);
    last = now;
  }, 5);
  cleanups.push(() => clearInterval(timer));
  return {
    stalledMs: (from, to) => gaps.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0),
  };
}

/** Asserts a received rate is the cap ± 10%, the lower bound taken over the time the process ran. */
function assertRate(measured: number, cap: number, stalledMs: number, windowMs: number, what: string): void {
  const ran = Math.max(0, 1 - stalledMs / windowMs);
  assert.ok(measured <= 1.1 * cap, `${what}: ${kbps(measured)}, over ${kbps(cap)} + 10%`);
  assert.ok(measured >= 0.9 * cap * ran, `${what}: ${kbps(measured)}, under ${kbps(cap)} - 10% (the process was stalled ${stalledMs.toFixed(0)} of ${windowMs.toFixed(0)} ms)`);
}

test('a 500 kbit/s bottleneck with a 150 ms drop-tail queue: 2 Mbit/s in, about 500 kbit/s out, delay bounded, drops counted; lifted, the full rate passes', async () => {
  const sink = await endpoint();
  const client = await endpoint();
  const proxy = await proxyTo(sink, { impairment: { rate: { bitsPerSecond: 500_000, queueMs: 150 } } });
  const stalls = stallMeter();
  const start = performance.now();
  const sender = pacedSender(client, proxy.port, 2_000_000);
  const capEnd = await until(start, 3000);
  // Steady state: after the queue filled (150 ms), before anything changes.
  const capped = receivedBps(sink.arrivals, start + 500, capEnd);
  const cappedArrivals = sink.arrivals.filter((a) => a.at >= start + 500 && a.at < capEnd);
  const cappedDelays = cappedArrivals.map((a) => a.at - a.sentAt).sort((a, b) => a - b);
  const atCapEnd = proxy.counters().up;

  proxy.set({ rate: null });
  assert.is(proxy.queuedBytes('up'), 0, 'lifting the cap lets the queue go');
  const liftedEnd = await until(capEnd, 1500);
  const sent = sender.stop();
  await waitFor(() => {
    const up = proxy.counters().up;
    return up.in === sent && up.out + up.dropped === up.in && sink.arrivals.length === up.out;
  }, 5000, 'every datagram sent to be forwarded or dropped, and to arrive');
  const lifted = receivedBps(sink.arrivals, capEnd + 200, liftedEnd);
  const liftedDelays = sink.arrivals.filter((a) => a.at >= capEnd + 200).map((a) => a.at - a.sentAt).sort((a, b) => a - b);
  const median = (list: number[]) => list[Math.floor(list.length / 2)] ?? NaN;
  const up = proxy.counters().up;
  const p95 = cappedDelays[Math.floor(cappedDelays.length * 0.95)] ?? NaN;
  const cappedStall = stalls.stalledMs(start + 500, capEnd);
  // A datagram whose trip overlapped a stall of this process waited for the process, not the queue.
  const unstalledMax = Math.max(...cappedArrivals.filter((a) => stalls.stalledMs(a.sentAt - 5, a.at) === 0).map((a) => a.at - a.sentAt));
  const report = `capped ${kbps(capped)}, lifted ${kbps(lifted)}; queue delay median ${median(cappedDelays).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...cappedDelays).toFixed(1)} ms, max with no stall ${unstalledMax.toFixed(1)} ms (scheduled max ${atCapEnd.maxQueueMs.toFixed(1)} ms); ${atCapEnd.queueDropped} of ${atCapEnd.in} dropped at the queue; process stalled ${cappedStall.toFixed(0)} ms of ${(capEnd - start - 500).toFixed(0)}`;
  console.log(`  bottleneck: ${report}`);

  assertRate(capped, 500_000, cappedStall, capEnd - start - 500, `capped rate (${report})`);
  assert.ok(atCapEnd.maxQueueMs <= 150 + 1e-9, `no datagram was given more than 150 ms in the queue (${report})`);
  // Measured arrivals carry the timers' lateness on top (the sink runs in this process too).
  assert.ok(unstalledMax <= 150 + 15, `no datagram arrived more than 150 ms (+ timer slack) after it was sent, stalls aside (${report})`);
  assert.ok(median(cappedDelays) >= 120, `a full queue: the typical datagram waited most of 150 ms (${report})`);
  // 2 Mbit/s into 500 kbit/s: about three quarters refused, less what the queue took in.
  const refused = atCapEnd.queueDropped / atCapEnd.in;
  assert.ok(refused >= 0.68 && refused <= 0.8, `about 74% dropped at the queue (${report})`);
  assert.is(up.dropped, up.queueDropped, 'nothing but the queue dropped anything');
  assert.is(up.bytesOut, up.out * PAYLOAD);
  assertRate(lifted, 2_000_000, stalls.stalledMs(capEnd + 200, liftedEnd), liftedEnd - capEnd - 200, `after lifting, the full rate (${report})`);
  assert.ok(median(liftedDelays) < 20, `after lifting, no queueing delay (${report})`);
  const order = sink.arrivals.map((a) => a.seq);
  assert.ok(order.every((seq, i) => i === 0 || seq > order[i - 1]!), 'the queue is FIFO: arrivals in sending order');
});

test('a burst leaves the bottleneck at the rate, in order, and the propagation delay comes on top', async () => {
  const sink = await endpoint();
  const client = await endpoint();
  // 1028 bytes at 800 kbit/s: 10.28 ms each.
  const proxy = await proxyTo(sink, { impairment: { delayMs: 30, rate: { bitsPerSecond: 800_000, queueBytes: 100_000 } }, recordDelays: true });
  const serializationMs = WIRE_BITS / 800;
  const stalls = stallMeter();
  for (let seq = 0; seq < 20; seq++) client.send(proxy.port, seq, PADDING);
  await waitFor(() => sink.arrivals.length === 20, 3000, 'the 20 datagrams of the burst');
  assert.equal(sink.arrivals.map((a) => a.seq), [...Array(20).keys()], 'in order');
  // (departedAt + 30) − departedAt is 30 up to a rounding of the last bit: performance.now()
  // just under a power of two (8192 ms, 16384 ms, …) loses one when 30 is added. It failed so once.
  assert.ok(proxy.drawnDelays().every((d) => Math.abs(d - 30) < 1e-9), `each got exactly the propagation delay after the queue: ${proxy.drawnDelays().join(', ')}`);
  const first = sink.arrivals[0]!;
  const last = sink.arrivals[19]!;
  const stalled = stalls.stalledMs(first.sentAt, last.at);
  for (const [i, a] of sink.arrivals.entries()) {
    const expected = first.sentAt + 30 + serializationMs * (i + 1);
    assert.ok(a.at >= expected - 1.5, `datagram ${i} arrived ${(expected - a.at).toFixed(1)} ms early`);
    assert.ok(a.at <= expected + 25 + stalled, `datagram ${i} arrived ${(a.at - expected).toFixed(1)} ms late (process stalled ${stalled.toFixed(0)} ms)`);
  }
  const span = last.at - first.at;
  const spanWanted = 19 * serializationMs;
  assert.ok(span >= 0.95 * spanWanted && span <= 1.05 * spanWanted + stalled, `19 gaps of ${serializationMs.toFixed(2)} ms: ${span.toFixed(1)} ms (process stalled ${stalled.toFixed(0)} ms)`);
  assert.is(proxy.counters().up.queueDropped, 0);
  // The last waits for them all and itself, less however long the twenty took to reach the
  // proxy (moments, unless this process stalled between them).
  const maxQueueMs = proxy.counters().up.maxQueueMs;
  assert.ok(maxQueueMs <= 20 * serializationMs + 1e-6 && maxQueueMs >= 16 * serializationMs, `the last waited for all twenty (${maxQueueMs.toFixed(2)} ms)`);
});

test('the bottleneck is shared by every flow of a direction, loss comes before it, and its rate changes live', async () => {
  const sink = await endpoint();
  const alice = await endpoint();
  const bob = await endpoint();
  const proxy = await proxyTo(sink, { seed: 5 });
  proxy.set({ rate: { bitsPerSecond: 600_000, queueMs: 100 } }, 'up');
  assert.is(proxy.impairment('down').rate, null, 'only the direction asked for is capped');
  const stalls = stallMeter();
  const start = performance.now();
  const a = pacedSender(alice, proxy.port, 1_000_000, 'alice', 0);
  const b = pacedSender(bob, proxy.port, 1_000_000, 'bob', 0);
  const sharedEnd = await until(start, 2500);
  const shared = receivedBps(sink.arrivals, start + 400, sharedEnd);
  const byTag = (tag: string) => receivedBps(sink.arrivals.filter((x) => x.tag.startsWith(tag)), start + 400, sharedEnd);
  const [aliceBps, bobBps] = [byTag('alice'), byTag('bob')];

  // Slower, live: what is queued follows the new rate at once.
  proxy.set({ rate: { bitsPerSecond: 250_000, queueMs: 100 } }, 'up');
  const slowEnd = await until(sharedEnd, 2000);
  const slow = receivedBps(sink.arrivals, sharedEnd + 300, slowEnd);

  // 50% loss before the queue: 1 Mbit/s survives it, under the 1.2 Mbit/s link, so the queue
  // drops nearly nothing (a long one, so that what piles up while this process stalls fits).
  proxy.set({ loss: 0.5, rate: { bitsPerSecond: 1_200_000, queueMs: 1000 } }, 'up');
  const lossStart = proxy.counters().up;
  await until(slowEnd, 2000);
  const lossy = proxy.counters().up;
  a.stop();
  b.stop();
  const inLossy = lossy.in - lossStart.in;
  const queueDroppedLossy = lossy.queueDropped - lossStart.queueDropped;
  const lostLossy = lossy.dropped - lossStart.dropped - queueDroppedLossy;
  const [sharedStall, slowStall] = [stalls.stalledMs(start + 400, sharedEnd), stalls.stalledMs(sharedEnd + 300, slowEnd)];
  const report = `two flows ${kbps(shared)} (Alice ${kbps(aliceBps)}, Bob ${kbps(bobBps)}); at 250 kbit/s ${kbps(slow)}; with 50% loss ${lostLossy} lost and ${queueDroppedLossy} dropped at the queue of ${inLossy} (seed ${proxy.seed}); process stalled ${sharedStall.toFixed(0)} and ${slowStall.toFixed(0)} ms`;
  console.log(`  bottleneck: ${report}`);

  assertRate(shared, 600_000, sharedStall, sharedEnd - start - 400, `two flows share 600 kbit/s (${report})`);
  // Shared: each flow alone would pass 600 kbit/s, together they pass 600, not 1200. How they
  // split it is not asserted: drop-tail promises no fair share, and two constant-rate senders
  // in phase split the slots the queue frees very unevenly (seen: 47/551 to 339/261 kbit/s),
  // the phase effects Floyd and Jacobson described.
  assertRate(slow, 250_000, slowStall, slowEnd - sharedEnd - 300, `250 kbit/s after the live change (${report})`);
  assert.ok(lostLossy / inLossy > 0.44 && lostLossy / inLossy < 0.56, `about half lost (${report})`);
  assert.ok(queueDroppedLossy <= 0.02 * inLossy, `lost datagrams take no room in the queue (${report})`);
  assert.is(proxy.counters().down.in, 0);
});

test('a rate needs exactly one queue limit, and a positive rate', async () => {
  const proxy = await proxyTo(await endpoint());
  const noLimit = { bitsPerSecond: 1000 } as unknown as NonNullable<Impairment['rate']>;
  assert.throws(() => proxy.set({ rate: noLimit }), /exactly one of queueBytes and queueMs/);
  assert.throws(() => proxy.set({ rate: { bitsPerSecond: 0, queueMs: 100 } }), /bitsPerSecond/);
  assert.throws(() => proxy.set({ rate: { bitsPerSecond: 1000, queueBytes: -1 } }), /queueBytes/);
  assert.is(proxy.impairment('up').rate, null, 'a refused setting changes nothing');
});


test('close() drops what is still delayed, clears every timer and socket, and is idempotent', async () => {
  const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
  const sink = await endpoint();
  const client = await endpoint();
  // Earlier tests closed theirs: a closed socket's handle goes once libuv has run its close callback.
  await waitFor(() => count('UDPWrap') === 2, 2000, 'only the two endpoints of this test to hold UDP sockets');
  const before = { sockets: count('UDPWrap'), timers: count('Timeout') };
  // 40 wire bytes each at 800 bit/s: 400 ms per datagram, so some wait in the bottleneck queue, the rest in the delay line.
  const proxy = await UdpImpairProxy.start({ target: { address: '127.0.0.1', port: sink.port }, impairment: { delayMs: 10_000, rate: { bitsPerSecond: 800, queueBytes: 1000 } } });
  cleanups.push(() => proxy.close());
  const blackout = proxy.blackoutFor(60_000, 'down');
  for (let seq = 0; seq < 5; seq++) client.send(proxy.port, seq);
  await waitFor(() => proxy.counters().up.in === 5, 2000, 'five datagrams held by the proxy');
  assert.is(count('UDPWrap'), before.sockets + 2, 'the proxy holds its own socket and one upstream socket');
  await proxy.close();
  await blackout; // a running blackoutFor settles on close
  await proxy.close();
  const { maxQueueMs, ...up } = proxy.counters().up;
  assert.equal(up, { in: 5, out: 0, dropped: 5, queueDropped: 0, bytesOut: 0 }, 'the queued and delayed datagrams were dropped');
  assert.ok(Math.abs(maxQueueMs - 2000) < 50, `the fifth datagram was due to wait 5 × 400 ms (${maxQueueMs.toFixed(1)} ms)`);
  assert.is(proxy.queuedBytes('up'), 0);
  // Other parts of the process may have timers of their own: none may be added by the proxy.
  await waitFor(() => count('UDPWrap') === before.sockets && count('Timeout') <= before.timers, 2000,
    'every socket and timer of the proxy to be gone').catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(before)} before, now ${process.getActiveResourcesInfo().join(', ')}`);
  });
  assert.is(sink.arrivals.length, 0);
});

let server: TestServer | undefined;
async function coordinator(): Promise<TestServer> {
  server ??= await startServer({}, {}, { turn: true });
  return server;
}
test.after(async () => {
  await server?.dispose();
});

test('impairedTurn: participants are handed the proxy, a real TURN allocation works through it, a blackout stops it', async () => {
  const s = await coordinator();
  const net = await impairedTurn(s, { seed: 1 });
  cleanups.push(() => net.close());
  const meeting = (await api<CreatedMeeting>(s.url, 'POST', '/api/meetings', { title: 'Impaired' })).body;
  const socket = await TestSocket.connect(s.wsUrl);
  cleanups.push(() => socket.close());
  const joined = await socket.join(meeting.id, 'Alice');
  const turnEntry = joined.iceServers.find((e) => String(e.urls).startsWith('turn:'));
  assert.ok(turnEntry?.username !== undefined && turnEntry.credential !== undefined, 'a TURN entry with a credential');
  assert.match(String(turnEntry.urls), `:${net.proxy.port}?`, 'the TURN URL points at the proxy');

  const client = await TurnClient.open({ address: '127.0.0.1', port: net.proxy.port });
  cleanups.push(() => client.close());
  const allocation = await client.allocate(turnEntry.username!, turnEntry.credential!);
  assert.ok(allocation.ok, `allocation through the proxy: ${JSON.stringify(allocation)}`);
  assert.is.not(allocation.mapped.port, client.localAddress.port, 'the TURN server sees the proxy\'s 5-tuple');
  assert.ok(net.proxy.counters().up.out >= 2 && net.proxy.counters().down.out >= 2);

  net.proxy.blackout(true);
  const failure = await client.binding().then(() => undefined, (err: Error) => err);
  assert.match(failure?.message ?? 'it succeeded', /no STUN response/, 'no STUN answer through a blackout');
  net.proxy.blackout(false);
  assert.ok((await client.binding()).port > 0, 'STUN works again after the blackout');

  await net.close();
  assert.is(s.turn!.advertisedPort, s.turn!.server.port, 'after close, joins get the TURN server itself again');
});

test('the TCP proxy carries a real WebSocket to the coordinator, and cut() closes it at once', async () => {
  const s = await coordinator();
  const signaling = await impairedSignaling(s);
  cleanups.push(() => signaling.close());
  const meeting = (await api<CreatedMeeting>(signaling.url, 'POST', '/api/meetings', { title: 'Through a proxy' })).body;
  const socket = await TestSocket.connect(signaling.url.replace(/^http/, 'ws') + '/ws');
  cleanups.push(() => socket.close());
  await socket.join(meeting.id, 'Alice');
  await waitFor(() => signaling.proxy.connectionCount >= 1, 2000, 'the proxy to count the connection');
  signaling.proxy.cut();
  const closed = await socket.waitClosed(2000);
  assert.is(closed.code, 1006, 'an abnormal closure, as when the network drops');
  await waitFor(() => signaling.proxy.connectionCount === 0, 2000, 'no connection left');
});

test('stall() freezes a WebSocket without closing it; thawed, everything sent meanwhile arrives', async () => {
  const s = await coordinator();
  const signaling = await impairedSignaling(s);
  cleanups.push(() => signaling.close());
  const meeting = (await api<CreatedMeeting>(signaling.url, 'POST', '/api/meetings', { title: 'Stalled' })).body;
  const socket = await TestSocket.connect(signaling.url.replace(/^http/, 'ws') + '/ws');
  cleanups.push(() => socket.close());
  await socket.join(meeting.id, 'Alice');

  signaling.proxy.stall(true);
  const id = socket.request({ type: 'chat', messageId: 'stalled-1', text: 'anyone there?' });
  await staysTrue(() => socket.closed === null && !socket.received.some((m) => 'id' in m && m.id === id), 600,
    'while stalled: no reply and no close');
  signaling.proxy.stall(false);
  const reply = await socket.reply(id, 3000);
  assert.is(reply.type, 'ack');
  assert.is(socket.closed, null);
});

test('while refusing, new connections fail and current ones carry on', async () => {
  const s = await coordinator();
  const signaling = await impairedSignaling(s);
  cleanups.push(() => signaling.close());
  const wsUrl = signaling.url.replace(/^http/, 'ws') + '/ws';
  const meeting = (await api<CreatedMeeting>(signaling.url, 'POST', '/api/meetings', { title: 'Refusing' })).body;
  const current = await TestSocket.connect(wsUrl);
  cleanups.push(() => current.close());
  await current.join(meeting.id, 'Alice');

  signaling.proxy.refusing = true;
  const refused = await TestSocket.connect(wsUrl).then((late) => late.close(), (err: Error) => err);
  assert.instance(refused, Error, 'a new WebSocket fails while refusing');
  assert.is(signaling.proxy.counters().refused, 1);
  const id = current.request({ type: 'chat', messageId: 'still-here', text: 'still here' });
  assert.is((await current.reply(id)).type, 'ack');

  signaling.proxy.refusing = false;
  const later = await TestSocket.connect(wsUrl);
  cleanups.push(() => later.close());
  await later.join(meeting.id, 'Bob');
});

test.run();
