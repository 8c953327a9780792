/**
 * Several nodes over a real Redis, in real Chromium: people whose pages come from different
 * nodes talk P2P and on the relay (the media from the node holding the meeting), and when
 * that node is killed they are back in media on another node by themselves.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { Redis } from 'ioredis';
import { launchBrowser } from '../helpers/browser';
import { ABSENT_DB, toneLevels } from '../helpers/media';
import { startRedis, type TestRedis } from '../helpers/redis';
import { assertChatShownOnce, assertEveryoneHearsTheOthers, waitUntilEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, joinGroup, meetingEvents, sendChat, type Person } from '../helpers/room';
import { api, freeTcpPort, spawnServerProcess, startServer, tempDbPath, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const HEARTBEAT_MS = 250;
const NODE_TTL_MS = 1500;

let redis: TestRedis;
let a: TestServer;
let b: TestServer;
let browser: Browser;
const people: Person[] = [];

function nodeConfig(nodeId: string) {
  return { cluster: { redisUrl: redis.url, nodeId, heartbeatMs: HEARTBEAT_MS, nodeTtlMs: NODE_TTL_MS }, mediaWorkers: 1 };
}

test.before(async () => {
  redis = await startRedis();
  a = await startServer(nodeConfig('node-a'));
  b = await startServer(nodeConfig('node-b'));
  // As `npm start` does (the third node below is one): the first media worker boots at once.
  for (const node of [a, b]) node.coordinator.media.workers.warmUp();
  browser = await launchBrowser();
});
test.after.each(async () => {
  for (const p of people.splice(0)) await p.context.close().catch(() => {});
});
test.after(async () => {
  try {
    await browser.close();
    await Promise.allSettled([a.dispose(), b.dispose()]);
  } finally {
    await redis.stop();
  }
});

/** Which in-process node holds the meeting. */
function holder(id: string): TestServer | undefined {
  return [a, b].find((n) => n.coordinator.registry.get(id));
}

test('two people whose pages come from different nodes talk P2P and chat once', async () => {
  const meeting = await createMeeting(a.url, 'Two nodes, P2P');
  const ann = await joinAs(browser, a.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(browser, b.url, meeting.id, 'Ben', 1100);
  people.push(ann, ben);
  for (const p of [ann, ben]) await badgeSays(p, 'p2p');
  await assertEveryoneSeesTheOthers([ann, ben]);
  await assertEveryoneHearsTheOthers([ann, ben]);
  await sendChat(ben, 'across the nodes');
  await assertChatShownOnce(ann, 'across the nodes');
});

test('three on the relay with members on both nodes hear and see each other, the media from the node holding the meeting', async () => {
  const meeting = await createMeeting(b.url, 'Two nodes, relay', 'relay');
  const home = holder(meeting.id);
  assert.ok(home, 'a node holds the meeting');
  const other = home === a ? b : a;
  const group = await joinGroup(browser, meeting.id, [
    { base: home.url, name: 'Ann', hz: 600 },
    { base: other.url, name: 'Ben', hz: 1100 },
    { base: other.url, name: 'Cat', hz: 1900 },
  ]);
  people.push(...group);
  for (const p of group) await badgeSays(p, 'relay');
  await assertEveryoneSeesTheOthers(group);
  await assertEveryoneHearsTheOthers(group);
  const counters = await waitFor(async () => {
    const relay = (await api<{ relay: { packets: number } }>(home.url, 'GET', `/api/meetings/${meeting.id}`)).body.relay;
    return relay.packets > 0 ? relay : undefined;
  }, 10_000, "the holding node's relay to carry the media");
  assert.ok(counters.packets > 0);
});

test('the node holding a relay meeting is killed: everyone is back in media on another node by themselves', async () => {
  const port = await freeTcpPort();
  const db = tempDbPath();
  const child = spawnServerProcess(port, db.dbPath, {
    REDIS_URL: redis.url,
    NODE_ID: 'node-doomed',
    CLUSTER_HEARTBEAT_MS: String(HEARTBEAT_MS),
    CLUSTER_NODE_TTL_MS: String(NODE_TTL_MS),
    MEDIA_WORKERS: '1',
  });
  const inspect = new Redis(redis.url);
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => undefined))?.ok, 30_000, 'the third node to be up');
    // The new node holds nothing, so the next meeting is placed there.
    const meeting = await waitFor(async () => {
      const m = await createMeeting(a.url, 'Doomed node', 'relay');
      return (await inspect.get(`meetmesh:owner:${m.id}`)) === 'node-doomed' ? m : undefined;
    }, 10_000, 'a meeting placed on the third node');
    const group = await joinGroup(browser, meeting.id, [
      { base: a.url, name: 'Ann', hz: 600 },
      { base: b.url, name: 'Ben', hz: 1100 },
      { base: a.url, name: 'Cat', hz: 1900 },
    ]);
    people.push(...group);
    for (const p of group) await badgeSays(p, 'relay');
    await assertEveryoneHearsTheOthers(group);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const killedAt = Date.now();
    // The media died with the node: silence first, so hearing again below proves the return.
    await waitFor(async () => (await toneLevels(group[0]!.page, [group[1]!.hz, group[2]!.hz])).every((l) => l < ABSENT_DB), 15_000, 'Ann to hear silence');
    for (const p of group) await badgeSays(p, 'relay', 30_000);
    await waitUntilEveryoneHearsTheOthers(group, 30_000);
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`  everyone heard everyone again ${seconds.toFixed(1)} s after the node was killed (node ttl ${NODE_TTL_MS} ms)`);
    assert.ok(seconds < 10 + (NODE_TTL_MS + HEARTBEAT_MS) / 1000, `back within 10 s of the death being noticed (took ${seconds} s)`);
    await assertEveryoneHearsTheOthers(group);
    const now = holder(meeting.id);
    assert.ok(now, 'a live node holds the meeting now');
    assert.ok((await meetingEvents(b.url, meeting.id)).some((e) => e.type === 'restored'), 'the move is in the shared record');
  } finally {
    child.kill('SIGKILL');
    inspect.disconnect();
    db.remove();
  }
});

test.run();
