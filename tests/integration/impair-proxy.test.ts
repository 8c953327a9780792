/**
 * The impaired-network harness itself, with real sockets: the UDP impairment proxy (loss,
 * delay, jitter, blackout, routing, idle flows, TURN through it) and the TCP proxy (a real
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
import { UdpImpairProxy } from '../helpers/UdpImpairProxy';
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
    assert.equal(down, { in: 0, out: 0, dropped: 0 });
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

test('close() drops what is still delayed, clears every timer and socket, and is idempotent', async () => {
  const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
  const sink = await endpoint();
  const client = await endpoint();
  // Earlier tests closed theirs: a closed socket's handle goes once libuv has run its close callback.
  await waitFor(() => count('UDPWrap') === 2, 2000, 'only the two endpoints of this test to hold UDP sockets');
  const before = { sockets: count('UDPWrap'), timers: count('Timeout') };
  const proxy = await UdpImpairProxy.start({ target: { address: '127.0.0.1', port: sink.port }, impairment: { delayMs: 10_000 } });
  cleanups.push(() => proxy.close());
  const blackout = proxy.blackoutFor(60_000, 'down');
  for (let seq = 0; seq < 5; seq++) client.send(proxy.port, seq);
  await waitFor(() => proxy.counters().up.in === 5, 2000, 'five datagrams held by the proxy');
  assert.is(count('UDPWrap'), before.sockets + 2, 'the proxy holds its own socket and one upstream socket');
  await proxy.close();
  await blackout; // a running blackoutFor settles on close
  await proxy.close();
  assert.equal(proxy.counters().up, { in: 5, out: 0, dropped: 5 }, 'the delayed datagrams were dropped');
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
