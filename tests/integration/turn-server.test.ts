/**
 * The bundled TURN server, spoken to over real UDP on loopback: who may allocate a relay,
 * when a credential stops working, and that closing it leaves nothing behind.
 */
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issueTurnCredential } from '../../turn/credentials';
import { iceServersFor, type BundledTurnConfig } from '../../turn/iceServers';
import { TurnServer } from '../../turn/TurnServer';
import { TurnClient } from '../helpers/turnClient';

const HOST = '127.0.0.1';
let server: TurnServer;
const clients: TurnClient[] = [];

async function client(): Promise<TurnClient> {
  const c = await TurnClient.open({ address: HOST, port: server.port });
  clients.push(c);
  return c;
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function tryBind(address: string, port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.bind({ address, port, exclusive: true }, () => resolve(socket));
  });
}

test.before(async () => {
  server = new TurnServer({ port: 0, listeningIps: [HOST], realm: 'test.realm' });
  await server.start();
});

test.after(() => {
  for (const c of clients) c.close();
  server.close();
});

test('port 0 starts the server on a free port and reports it', () => {
  assert.is(server.state, 'listening');
  assert.ok(server.port > 0 && server.port !== 3478, `bound port ${server.port}`);
  assert.equal(server.addresses, [HOST]);
});

test('a STUN Binding request learns its own address as 127.0.0.1', async () => {
  const c = await client();
  const mapped = await c.binding();
  assert.is(mapped.address, '127.0.0.1');
  assert.is(mapped.port, c.localAddress.port);
});

test('an issued credential allocates a relay on the listening address', async () => {
  const { username, credential } = server.issue('alice', 60);
  const c = await client();
  const result = await c.allocate(username, credential);
  if (!result.ok) throw new Error(`allocate refused: ${result.code} ${result.reason}`);
  assert.is(result.relayed.address, HOST);
  assert.ok(result.relayed.port >= 49152, `relay port ${result.relayed.port}`);
  assert.equal(result.mapped, c.localAddress);
  assert.ok(result.lifetime > 0);
});

test('a wrong password is refused with 401', async () => {
  const { username, credential } = server.issue('bob', 60);
  const c = await client();
  const result = await c.allocate(username, `${credential}x`);
  assert.equal(result, { ok: false, code: 401, reason: 'Unauthorized' });
});

test('a well-formed credential the server never issued is refused with 401', async () => {
  // Signed with some other secret: the server only trusts credentials it handed out.
  const forged = issueTurnCredential('not-the-server-secret', 'mallory', 60);
  const c = await client();
  const result = await c.allocate(forged.username, forged.credential);
  assert.is(result.ok, false);
  if (!result.ok) assert.is(result.code, 401);
});

test('an expired credential is refused after the server drops it', async () => {
  const { username, credential } = server.issue('carol', 2);
  const before = await client();
  assert.ok((await before.allocate(username, credential)).ok, 'accepted while fresh');

  await waitFor('the credential to expire', () => !server.hasCredential(username));
  const after = await client();
  const result = await after.allocate(username, credential);
  assert.is(result.ok, false);
  if (!result.ok) assert.is(result.code, 401);
});

test('revoking a participant refuses its credential and ends its relays', async () => {
  const { username, credential } = server.issue('dave', 60);
  const inCall = await client();
  assert.ok((await inCall.allocate(username, credential)).ok);

  server.revoke('dave');
  assert.is(server.hasCredential(username), false);
  const refresh = await inCall.refresh(600);
  assert.equal(refresh, { ok: false, code: 437, reason: 'Allocation Mismatch' });
  const late = await client();
  const result = await late.allocate(username, credential);
  assert.is(result.ok, false);
  if (!result.ok) assert.is(result.code, 401);
});

test('an allocation survives repeated Refresh requests', async () => {
  const { username, credential } = server.issue('erin', 60);
  const c = await client();
  assert.ok((await c.allocate(username, credential)).ok);
  assert.equal(await c.refresh(600), { ok: true, lifetime: 600 });
  // node-turn 0.0.6 unpatched expires the allocation right after the first Refresh.
  assert.equal(await c.refresh(600), { ok: true, lifetime: 600 });
});

test('deleting an allocation frees its relay port', async () => {
  const { username, credential } = server.issue('frank', 60);
  const c = await client();
  const result = await c.allocate(username, credential);
  if (!result.ok) throw new Error(`allocate refused: ${result.code}`);
  assert.equal(await c.refresh(0), { ok: true, lifetime: 0 });

  let reclaimed: Socket | undefined;
  await waitFor('the relay port to be released', async () => {
    reclaimed = await tryBind(result.relayed.address, result.relayed.port);
    return reclaimed !== undefined;
  });
  reclaimed?.close();
});

test('the ICE servers handed to a participant allocate on the bundled server', async () => {
  const config: BundledTurnConfig = {
    mode: 'bundled',
    port: 0,
    listeningIps: [HOST],
    relayIps: [],
    advertisedHost: HOST,
    realm: 'test.realm',
    secret: 'unused: the server mints with its own',
    ttlSeconds: 60,
  };
  const [stun, turn] = iceServersFor(config, 'grace', server);
  assert.equal(stun, { urls: `stun:${HOST}:${server.port}` });
  assert.is(turn?.urls, `turn:${HOST}:${server.port}?transport=udp`);

  const c = await client();
  const result = await c.allocate(turn!.username!, turn!.credential!);
  assert.ok(result.ok);
});

test('a fixed port that is taken makes start() fail and the server closed', async () => {
  const squatter = await tryBind(HOST, 0);
  const port = squatter!.address().port;
  const second = new TurnServer({ port, listeningIps: [HOST] });
  try {
    await second.start();
    assert.unreachable('start() should have failed');
  } catch (err) {
    assert.is((err as NodeJS.ErrnoException).code, 'EADDRINUSE');
  } finally {
    squatter!.close();
  }
  assert.is(second.state, 'closed');
});

test('close() is idempotent and a closed server issues nothing', async () => {
  const other = new TurnServer({ port: 0, listeningIps: [HOST] });
  await other.start();
  other.issue('heidi', 60);
  other.close();
  other.close();
  assert.is(other.state, 'closed');
  assert.throws(() => other.issue('heidi', 60), /closed/);
});

test.run();
