/**
 * The bundled TURN server is never a proxy into the server's networks, spoken to over real
 * UDP on loopback: a private service on the host gets nothing, while other allocations and
 * the media relay's own endpoints stay reachable; and an allocation outlives its
 * credential's expiry until its participant is revoked.
 */
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TurnServer } from '../../turn/TurnServer';
import { TurnClient, type TransportAddress } from '../helpers/turnClient';

const HOST = '127.0.0.1';
/** How long a refused datagram is given to (not) arrive. */
const SILENCE_MS = 300;

let server: TurnServer;
let lanServer: TurnServer;
const relayEndpoints = new Set<string>();
const clients: TurnClient[] = [];
const sockets: Socket[] = [];

async function allocated(on: TurnServer, userId: string): Promise<{ client: TurnClient; relayed: TransportAddress }> {
  const { username, credential } = on.issue(userId, 60);
  const client = await TurnClient.open({ address: HOST, port: on.port });
  clients.push(client);
  const result = await client.allocate(username, credential);
  if (!result.ok) throw new Error(`allocate refused: ${result.code} ${result.reason}`);
  return { client, relayed: result.relayed };
}

/** A UDP service on the host (what an attacker would aim at), recording what it receives. */
async function localService(): Promise<{ address: { address: string; port: number }; received: Buffer[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (data) => received.push(data));
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return { address: { address: HOST, port: socket.address().port }, received };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The bounded "nothing arrives" check: waits SILENCE_MS and reports what did arrive. */
async function afterSilence<T>(read: () => T): Promise<T> {
  await new Promise((resolve) => setTimeout(resolve, SILENCE_MS));
  return read();
}

test.before(async () => {
  server = new TurnServer({
    port: 0,
    listeningIps: [HOST],
    isPeerAllowed: (ip, port) => relayEndpoints.has(`${ip}:${port}`),
  });
  lanServer = new TurnServer({ port: 0, listeningIps: [HOST], allowedPeerIps: ['10.0.0.0/8'], deniedPeerIps: ['10.9.0.0/16'] });
  await Promise.all([server.start(), lanServer.start()]);
});

test.after(() => {
  for (const c of clients) c.close();
  for (const s of sockets) s.close();
  server.close();
  lanServer.close();
});

test('a permission for a UDP service on loopback is refused with 403 and the service receives nothing', async () => {
  const service = await localService();
  const { client } = await allocated(server, 'mallory');
  assert.equal(await client.createPermission(service.address), { ok: false, code: 403, reason: 'Forbidden' });
  assert.equal(await client.channelBind(0x4000, service.address), { ok: false, code: 403, reason: 'Forbidden' });
  client.sendIndication(service.address, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
  assert.equal(await afterSilence(() => service.received), []);
});

test('two allocations on loopback reach each other through their relayed addresses', async () => {
  const a = await allocated(server, 'alice');
  const b = await allocated(server, 'bob');
  assert.equal(await a.client.createPermission(b.relayed), { ok: true });
  assert.equal(await b.client.createPermission(a.relayed), { ok: true });

  a.client.sendIndication(b.relayed, Buffer.from('hello bob'));
  await waitFor('bob to receive alice’s datagram', () => b.client.received.length > 0);
  assert.equal(b.client.received[0], { from: a.relayed, data: Buffer.from('hello bob') });
});

test('a permission granted for another allocation opens that ip:port only, not the whole address', async () => {
  const service = await localService();
  const a = await allocated(server, 'carol');
  const b = await allocated(server, 'dave');
  // node-turn keys permissions by IP: 127.0.0.1 is now permitted for a's relay.
  assert.equal(await a.client.createPermission(b.relayed), { ok: true });
  a.client.sendIndication(service.address, Buffer.from('sneaky'));
  assert.equal(await afterSilence(() => service.received), []);
});

test("the media relay's own endpoints are reachable on loopback, its other ports are not", async () => {
  const relay = await localService();
  const other = await localService();
  relayEndpoints.add(`${relay.address.address}:${relay.address.port}`);
  const { client, relayed } = await allocated(server, 'erin');
  assert.equal(await client.createPermission(relay.address), { ok: true });
  client.sendIndication(relay.address, Buffer.from('stun from the browser'));
  await waitFor('the relay endpoint to receive the datagram', () => relay.received.length > 0);
  assert.equal(relay.received[0], Buffer.from('stun from the browser'));
  assert.ok(relayed.port > 0);

  client.sendIndication(other.address, Buffer.from('not for you'));
  assert.equal(await afterSilence(() => other.received), []);

  // Once the relay peer is gone, its endpoint is an ordinary loopback address again.
  relayEndpoints.clear();
  const late = await allocated(server, 'erin-late');
  assert.equal(await late.client.createPermission(relay.address), { ok: false, code: 403, reason: 'Forbidden' });
});

test('a private address is refused by default and allowed by TURN_ALLOWED_PEER_IPS', async () => {
  const lan = { address: '10.1.2.3', port: 40000 };
  const { client } = await allocated(server, 'frank');
  assert.equal(await client.createPermission(lan), { ok: false, code: 403, reason: 'Forbidden' });
  assert.equal(await client.createPermission({ address: '192.168.0.10', port: 40000 }), { ok: false, code: 403, reason: 'Forbidden' });
  assert.equal(await client.createPermission({ address: '169.254.169.254', port: 80 }), { ok: false, code: 403, reason: 'Forbidden' });
  // A public peer (TEST-NET-1) is what a TURN relay is for.
  assert.equal(await client.createPermission({ address: '192.0.2.10', port: 40000 }), { ok: true });

  const onLan = await allocated(lanServer, 'grace');
  assert.equal(await onLan.client.createPermission(lan), { ok: true });
  assert.equal(await onLan.client.createPermission({ address: '10.9.0.1', port: 40000 }), { ok: false, code: 403, reason: 'Forbidden' });
  assert.equal(await onLan.client.createPermission({ address: '127.0.0.1', port: 40000 }), { ok: false, code: 403, reason: 'Forbidden' });
});

test('an allocation outlives its credential until the participant is revoked; the expired credential cannot allocate again', async () => {
  const { username, credential } = server.issue('heidi', 1);
  const inCall = await TurnClient.open({ address: HOST, port: server.port });
  clients.push(inCall);
  assert.ok((await inCall.allocate(username, credential)).ok);
  await waitFor('the credential to expire', () => !server.hasCredential(username));

  assert.equal(await inCall.refresh(600), { ok: true, lifetime: 600 });
  const late = await TurnClient.open({ address: HOST, port: server.port });
  clients.push(late);
  const again = await late.allocate(username, credential);
  assert.is(again.ok, false);
  if (!again.ok) assert.is(again.code, 401);

  server.revoke('heidi');
  assert.equal(await inCall.refresh(600), { ok: false, code: 437, reason: 'Allocation Mismatch' });
});

test('an expired credential with no allocation is forgotten', async () => {
  const { username, credential } = server.issue('ivan', 1);
  await waitFor('the credential to expire', () => !server.hasCredential(username));
  const c = await TurnClient.open({ address: HOST, port: server.port });
  clients.push(c);
  const result = await c.allocate(username, credential);
  assert.is(result.ok, false);
  if (!result.ok) assert.is(result.code, 401);
});

test.run();
