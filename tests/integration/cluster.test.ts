/**
 * Several nodes over a real Redis (Debian's redis-server on a free port): meetings created
 * on one node are listed, read, joined and cancelled through another; signaling crosses
 * nodes exactly once; meetings are placed by load; a node killed with SIGKILL has its
 * meetings placed again on a live node and their people back there by themselves.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type { CreatedMeeting, MeetingDetail, MeetingEventRecord, MeetingSummary } from '../../protocol/rest';
import { startRedis, type TestRedis } from '../helpers/redis';
import { api, freeTcpPort, spawnServerProcess, startServer, tempDbPath, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';
import { waitFor } from '../helpers/wait';

const HEARTBEAT_MS = 200;
const NODE_TTL_MS = 800;

let redis: TestRedis;
let a: TestServer;
let b: TestServer;
const sockets: TestSocket[] = [];

function clusterOf(nodeId: string) {
  return { cluster: { redisUrl: redis.url, nodeId, heartbeatMs: HEARTBEAT_MS, nodeTtlMs: NODE_TTL_MS } };
}

test.before(async () => {
  redis = await startRedis();
  a = await startServer({ ...clusterOf('node-a'), mediaWorkers: 0 });
  b = await startServer({ ...clusterOf('node-b'), mediaWorkers: 0 });
});
test.after.each(() => {
  for (const s of sockets.splice(0)) s.close();
});
test.after(async () => {
  try {
    await Promise.allSettled([a.dispose(), b.dispose()]);
  } finally {
    await redis.stop();
  }
});

async function connect(server: TestServer): Promise<TestSocket> {
  const socket = await TestSocket.connect(server.wsUrl);
  sockets.push(socket);
  return socket;
}

async function create(server: TestServer, title: string, listed = true): Promise<CreatedMeeting> {
  const { status, body } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title, listed });
  assert.is(status, 201);
  return body;
}

/** Which node holds the meeting (by the meetings each one holds). */
function holderOf(id: string): 'a' | 'b' | undefined {
  if (a.coordinator.registry.get(id)) return 'a';
  if (b.coordinator.registry.get(id)) return 'b';
  return undefined;
}

test('a meeting created through one node is listed, read and joined through the other; signaling and chat cross exactly once', async () => {
  const meeting = await create(a, 'Across nodes');
  const holder = holderOf(meeting.id);
  assert.ok(holder, 'some node holds the meeting');
  const [near, far] = holder === 'a' ? [a, b] : [b, a];

  const listed = await api<MeetingSummary[]>(far.url, 'GET', '/api/meetings');
  assert.ok(listed.body.some((m) => m.id === meeting.id && m.title === 'Across nodes'), 'listed by the node that does not hold it');

  const alice = await connect(near);
  await alice.join(meeting.id, 'Alice', meeting.creatorToken);
  const bob = await connect(far);
  const bobJoined = await bob.join(meeting.id, 'Bob');
  assert.equal(bobJoined.participants.map((p) => p.name), ['Alice']);
  assert.is((await alice.next('participant-joined')).participant.name, 'Bob');
  assert.equal(far.coordinator.cluster?.sessions.forwarded, 1, "Bob's socket is carried to the holding node");

  const detail = await api<MeetingDetail>(far.url, 'GET', `/api/meetings/${meeting.id}`);
  await waitFor(async () => (await api<MeetingDetail>(far.url, 'GET', `/api/meetings/${meeting.id}`)).body.participants.length === 2, 5000, 'both listed by the far node');
  assert.is(detail.body.title, 'Across nodes');

  // A P2P signal from the far node to the near one, and back.
  bob.send({ type: 'signal', to: bobJoined.participants[0]!.id, conn: 'c1', data: { type: 'offer', sdp: 'v=0 test' } });
  const signal = await alice.next('signal');
  assert.is(signal.from, bobJoined.self.id);
  alice.send({ type: 'signal', to: bobJoined.self.id, conn: 'c1', data: { type: 'answer', sdp: 'v=0 test' } });
  await bob.next('signal');

  // Chat both ways, each line exactly once, with name and time.
  const bobChat = bob.request({ type: 'chat', messageId: 'from-bob', text: 'hello from the far node' });
  assert.is((await bob.reply(bobChat)).type, 'ack');
  const aliceChat = alice.request({ type: 'chat', messageId: 'from-alice', text: 'hello from the near node' });
  assert.is((await alice.reply(aliceChat)).type, 'ack');
  const atAlice = await alice.next('chat', (m) => m.message.id === 'from-bob');
  assert.is(atAlice.message.name, 'Bob');
  assert.ok(Date.parse(atAlice.message.at) > 0);
  await bob.next('chat', (m) => m.message.id === 'from-alice');
  await waitFor(() => bob.all('chat').length === 1 && alice.all('chat').length === 1, 2000, 'one line each');
  assert.is(bob.all('chat').length, 1);
  assert.is(alice.all('chat').length, 1);

  // The shared record, read through either node, holds the same story.
  const events = await waitFor(async () => {
    const e = (await api<MeetingEventRecord[]>(far.url, 'GET', `/api/meetings/${meeting.id}/events`)).body;
    return e.filter((x) => x.type === 'joined').length === 2 ? e : undefined;
  }, 5000, 'both joins in the shared record');
  assert.is(events[0]!.type, 'created');
  assert.equal(events.filter((x) => x.type === 'joined').map((x) => x.participant), ['Alice', 'Bob']);
});

test('cancelled through the node that does not hold it: everyone on both nodes is told', async () => {
  const meeting = await create(b, 'Cancel me');
  const holder = holderOf(meeting.id);
  const [near, far] = holder === 'a' ? [a, b] : [b, a];
  const alice = await connect(near);
  await alice.join(meeting.id, 'Alice', meeting.creatorToken);
  const bob = await connect(far);
  await bob.join(meeting.id, 'Bob');

  const refused = await api(far.url, 'DELETE', `/api/meetings/${meeting.id}`, undefined, { authorization: 'Bearer wrong' });
  assert.is(refused.status, 403);
  const cancelled = await api(far.url, 'DELETE', `/api/meetings/${meeting.id}`, undefined, { authorization: `Bearer ${meeting.creatorToken}` });
  assert.is(cancelled.status, 204);
  for (const s of [alice, bob]) assert.is((await s.next('meeting-closed')).reason, 'cancelled');
  await bob.waitClosed();
  const detail = await waitFor(async () => {
    const d = (await api<MeetingDetail>(far.url, 'GET', `/api/meetings/${meeting.id}`)).body;
    return d.state === 'cancelled' ? d : undefined;
  }, 5000, 'the far node to see it cancelled');
  assert.equal(detail.participants, []);
  const list = await api<MeetingSummary[]>(near.url, 'GET', '/api/meetings');
  assert.not.ok(list.body.some((m) => m.id === meeting.id));
});

test('meetings are placed on the least-loaded node', async () => {
  const created: string[] = [];
  for (let i = 0; i < 6; i++) created.push((await create(a, `Load ${i}`)).id);
  const onA = created.filter((id) => holderOf(id) === 'a').length;
  const onB = created.filter((id) => holderOf(id) === 'b').length;
  assert.is(onA + onB, 6, 'every meeting is held by one node');
  assert.ok(Math.abs(onA - onB) <= 2, `spread over both nodes (a ${onA}, b ${onB})`);
});

test('a node stopped with SIGTERM drains: people it carried elsewhere are told at once and its meeting moves', async () => {
  const c = await startServer({ ...clusterOf('node-c'), mediaWorkers: 0 });
  try {
    // The new node holds nothing, so the next meeting is placed there.
    const meeting = await waitFor(async () => {
      const m = await create(a, 'Draining node');
      return c.coordinator.registry.get(m.id) ? m : undefined;
    }, 10_000, 'a meeting placed on the new node');
    const alice = await connect(a);
    await alice.join(meeting.id, 'Alice', meeting.creatorToken);
    const stoppedAt = Date.now();
    await c.close(); // what SIGTERM does
    await alice.next('server-restarting', () => true, 5000);
    assert.is((await alice.waitClosed()).code, 4004);
    const toldMs = Date.now() - stoppedAt;
    assert.ok(toldMs < NODE_TTL_MS, `told before the node's heartbeat could even expire (${toldMs} ms)`);
    const again = await connect(a);
    const rejoined = await again.join(meeting.id, 'Alice', meeting.creatorToken);
    assert.ok(rejoined.self.isCreator);
    assert.ok(holderOf(meeting.id), 'a live node holds the meeting now');
  } finally {
    await c.dispose();
  }
});

test('a node killed with SIGKILL: its meeting is placed again on a live node and its people are back there by themselves', async () => {
  const port = await freeTcpPort();
  const db = tempDbPath();
  const child: ChildProcess = spawnServerProcess(port, db.dbPath, {
    REDIS_URL: redis.url,
    NODE_ID: 'node-doomed',
    CLUSTER_HEARTBEAT_MS: String(HEARTBEAT_MS),
    CLUSTER_NODE_TTL_MS: String(NODE_TTL_MS),
    MEDIA_WORKERS: '0',
  });
  const doomedUrl = `http://127.0.0.1:${port}`;
  const inspect = new Redis(redis.url);
  try {
    await waitFor(async () => (await fetch(`${doomedUrl}/api/health`).catch(() => undefined))?.ok, 20_000, 'the third node to be up');
    // The new node holds nothing, so the meeting is placed there (the others hold the
    // meetings of the tests before).
    const meeting = await waitFor(async () => {
      const m = await create(a, 'Doomed node');
      return (await inspect.get(`meetmesh:owner:${m.id}`)) === 'node-doomed' ? m : undefined;
    }, 10_000, 'a meeting placed on the third node');
    const alice = await connect(a);
    const aliceJoined = await alice.join(meeting.id, 'Alice', meeting.creatorToken);
    assert.ok(aliceJoined.self.isCreator);
    const bob = await connect(b);
    await bob.join(meeting.id, 'Bob');
    await alice.next('participant-joined');

    child.kill('SIGKILL');
    const killedAt = Date.now();
    // Both nodes notice the death by its heartbeat and tell the people they carry to reconnect.
    for (const s of [alice, bob]) {
      await s.next('server-restarting', () => true, 10_000);
      assert.is((await s.waitClosed(10_000)).code, 4004);
    }
    // They come back (as the client does by itself: same name, same credential) and the
    // meeting is placed again on a live node, with the creator's rights.
    const alice2 = await connect(a);
    const again = await alice2.join(meeting.id, 'Alice', meeting.creatorToken);
    assert.ok(again.self.isCreator, 'the creator is still the host');
    const bob2 = await connect(b);
    const bobAgain = await bob2.join(meeting.id, 'Bob');
    assert.equal(bobAgain.participants.map((p) => p.name), ['Alice']);
    const backMs = Date.now() - killedAt;
    console.log(`  back on a live node ${(backMs / 1000).toFixed(1)} s after the SIGKILL`);
    assert.ok(backMs < 10_000 + NODE_TTL_MS, `back within 10 s of the death being noticed (${backMs} ms)`);
    assert.ok(holderOf(meeting.id), 'a live node holds the meeting now');
    const events = (await api<MeetingEventRecord[]>(b.url, 'GET', `/api/meetings/${meeting.id}/events`)).body;
    assert.ok(events.some((e) => e.type === 'restored'), 'the move is in the record');
  } finally {
    child.kill('SIGKILL');
    inspect.disconnect();
    db.remove();
  }
});

test.run();
