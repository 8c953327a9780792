import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { browserSuite } from '../helpers/browserSuite';
import { framesOf } from '../helpers/media';
import { assertChatShownOnce, assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, meetingEvents, sendChat } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const HOLD_MS = 1500;
const suite = browserSuite(test, () => startServer({ p2pHoldMs: HOLD_MS }));

const detail = (id: string) => meetingDetail(suite.server.url, id);
const switches = async (id: string) => (await meetingEvents(suite.server.url, id)).filter((e) => e.type === 'mode-switched');

test('two → P2P; a third joins → everyone on the relay; back to two → P2P after the hold time', async () => {
  const meeting = await createMeeting(suite.server.url, 'Switching');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  suite.people.push(ann, ben);
  await badgeSays(ann, 'p2p');
  await badgeSays(ben, 'p2p');
  await assertEveryoneHearsTheOthers([ann, ben]);
  assert.is((await detail(meeting.id)).relay.packets, 0, 'nothing relayed while P2P');

  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  suite.people.push(cat);
  for (const p of [ann, ben, cat]) await badgeSays(p, 'relay');
  assert.is((await detail(meeting.id)).mode, 'relay');
  await assertEveryoneHearsTheOthers([ann, ben, cat]);
  await assertEveryoneSeesTheOthers([ann, ben, cat]);
  const [toRelay] = await switches(meeting.id);
  assert.equal({ from: toRelay?.detail?.from, to: toRelay?.detail?.to, completed: toRelay?.detail?.completed }, { from: 'p2p', to: 'relay', completed: true });
  assert.ok(typeof toRelay?.detail?.durationMs === 'number');

  await cat.page.getByTestId('leave-meeting').click();
  const leftAt = Date.now();
  await badgeSays(ann, 'p2p', HOLD_MS + 20_000);
  await badgeSays(ben, 'p2p');
  assert.ok(Date.now() - leftAt >= HOLD_MS - 100, 'not before the hold time');
  const list = await switches(meeting.id);
  assert.is(list.length, 2);
  assert.equal({ from: list[1]?.detail?.from, to: list[1]?.detail?.to }, { from: 'relay', to: 'p2p' });

  // Relay counters stop growing; the two still hear and see each other directly.
  const settled = (await detail(meeting.id)).relay;
  await assertEveryoneHearsTheOthers([ann, ben], 10_000);
  const frames = await framesOf(ann.page, 'Ben');
  await waitFor(async () => (await framesOf(ann.page, 'Ben')) > frames + 10, 10_000, "Ben's video to keep advancing for Ann");
  assert.equal((await detail(meeting.id)).relay, settled, 'the relay carries nothing once back on P2P');
  // The overlay samples once a second: wait for the sample taken on the new path.
  await waitFor(async () => (await ann.page.getByTestId('stats-overlay').innerText()).includes('peer-to-peer'), 5000, "Ann's stats overlay to say peer-to-peer");
});

test('chat sent by everyone during a switch arrives exactly once everywhere', async () => {
  const meeting = await createMeeting(suite.server.url, 'Chatty switch');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  suite.people.push(ann, ben);
  await badgeSays(ann, 'p2p');
  await badgeSays(ben, 'p2p');
  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  suite.people.push(cat);
  const group = [ann, ben, cat];
  // Send right away, while the switch to the relay is under way, and again after it.
  await Promise.all(group.map((p) => sendChat(p, `during from ${p.name}`)));
  for (const p of group) await badgeSays(p, 'relay');
  await Promise.all(group.map((p) => sendChat(p, `after from ${p.name}`)));
  for (const reader of group) {
    for (const sender of group) {
      for (const when of ['during', 'after']) await assertChatShownOnce(reader, `${when} from ${sender.name}`);
    }
  }
});

test('a tab closed in the middle of a switch: the others converge and keep talking', async () => {
  const meeting = await createMeeting(suite.server.url, 'Crash');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  suite.people.push(ann, ben);
  await badgeSays(ann, 'p2p');
  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  // Cat's tab dies as soon as the switch starts.
  await waitFor(async () => (await detail(meeting.id)).mode !== 'p2p', 5000, 'the switch to start');
  await cat.context.close();
  // Two remain: the meeting settles on P2P again (after the hold), never split.
  await badgeSays(ann, 'p2p', 30_000);
  await badgeSays(ben, 'p2p', 10_000);
  await waitFor(async () => (await detail(meeting.id)).mode === 'p2p', 5000, 'the server to say p2p');
  assert.equal((await detail(meeting.id)).participants.map((p) => p.name).sort(), ['Ann', 'Ben']);
  await assertEveryoneHearsTheOthers([ann, ben]);
});

test('a rejoin within the hold time does not switch twice', async () => {
  const meeting = await createMeeting(suite.server.url, 'Reload');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  suite.people.push(ann, ben, cat);
  for (const p of [ann, ben, cat]) await badgeSays(p, 'relay');
  const before = (await switches(meeting.id)).length;
  await cat.page.reload();
  await cat.page.getByTestId('leave-meeting').waitFor();
  await badgeSays(cat, 'relay');
  await assertEveryoneHearsTheOthers([ann, ben, cat]);
  // Wait past the hold time: still relay, and no switch was recorded for the reload.
  const deadline = Date.now() + HOLD_MS + 500;
  await waitFor(() => Date.now() > deadline, HOLD_MS + 2000, 'the hold time to pass');
  assert.is((await detail(meeting.id)).mode, 'relay');
  assert.is((await switches(meeting.id)).length, before);
});

test('when two people cannot connect directly, the meeting moves to the relay and stays there', async () => {
  // No STUN/TURN from this server and `ice=relay-p2p` (TURN only, on the P2P path): no direct route exists.
  const meeting = await createMeeting(suite.server.url, 'Blocked');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600, '&ice=relay-p2p');
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100, '&ice=relay-p2p');
  suite.people.push(ann, ben);
  await badgeSays(ann, 'relay', 40_000);
  await badgeSays(ben, 'relay');
  await assertEveryoneHearsTheOthers([ann, ben]);
  await assertEveryoneSeesTheOthers([ann, ben]);
  const [record] = await switches(meeting.id);
  assert.match(String(record?.detail?.reason), 'direct connection failed');
  assert.is((await detail(meeting.id)).mode, 'relay');
});

test.run();
