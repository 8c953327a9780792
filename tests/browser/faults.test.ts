/**
 * Ordinary faults do not end anyone's meeting: a reload (alone or in a pair), a relay
 * connection that fails, and a server killed with SIGKILL and started again on the same
 * port and record. Everyone comes back by themselves and hears the others again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newParticipant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { ABSENT_DB, toneInitScript, toneLevels } from '../helpers/media';
import { assertChatShownOnce, assertEveryoneHearsTheOthers, waitUntilEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, meetingEvents, sendChat, type Person } from '../helpers/room';
import { impairedSignaling } from '../helpers/impair';
import { api, freeTcpPort, spawnServerProcess, startServer, tempDbPath } from '../helpers/server';
import { waitFor } from '../helpers/wait';

// Media in two worker threads, as a multi-core deployment runs it (and so a worker can die).
const suite = browserSuite(test, () => startServer({ departureGraceMs: 20_000, mediaWorkers: 2 }));

const detail = meetingDetail;
const events = meetingEvents;

/** Two people in a new P2P meeting who hear each other; Ann's page may be opened from another base URL (a proxy). */
async function pairInP2P(title: string, annBase = suite.server.url): Promise<{ meetingId: string; ann: Person; ben: Person }> {
  const meeting = await createMeeting(suite.server.url, title);
  const ann = await joinAs(suite.browser, annBase, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  suite.people.push(ann, ben);
  await badgeSays(ann, 'p2p');
  await assertEveryoneHearsTheOthers([ann, ben]);
  return { meetingId: meeting.id, ann, ben };
}

test('the only person reloads: the meeting goes on, with the same participant and the creator rights', async () => {
  // Created in the lobby, so this browser holds the creator credential.
  const ann: Person = { ...(await newParticipant(suite.browser, { initScript: toneInitScript(600) })), name: 'Ann', hz: 600 };
  suite.people.push(ann);
  await ann.page.goto(suite.server.url + '/');
  await ann.page.getByTestId('display-name').fill('Ann');
  await ann.page.getByTestId('meeting-title').fill('Alone');
  await ann.page.getByTestId('create-meeting').click();
  await ann.page.getByTestId('cancel-meeting').waitFor({ timeout: 15_000 });
  const meeting = { id: ann.page.url().split('/m/')[1]!.split('?')[0]! };
  await ann.page.reload();
  await ann.page.getByTestId('leave-meeting').waitFor();
  await ann.page.getByTestId('cancel-meeting').waitFor({ timeout: 10_000 });
  const d = await detail(suite.server.url, meeting.id);
  assert.is(d.state, 'open');
  assert.equal(d.participants.map((p) => p.name), ['Ann']);
  const types = (await events(suite.server.url, meeting.id)).map((e) => e.type);
  assert.ok(types.includes('dropped') && types.includes('resumed'), types.join());
  assert.not.ok(types.includes('left'), 'a reload is not a leave');
  assert.not.ok(types.includes('ended'));
});

test('one of two reloads: no leave for the other, chat history kept, and they talk again', async () => {
  const { meetingId, ann, ben } = await pairInP2P('Pair reload');
  const meeting = { id: meetingId };
  await sendChat(ann, 'before the reload');
  await assertChatShownOnce(ben, 'before the reload');
  const benId = (await detail(suite.server.url, meeting.id)).participants.find((p) => p.name === 'Ben')!.id;

  await ben.page.reload();
  await ben.page.getByTestId('leave-meeting').waitFor();
  await badgeSays(ben, 'p2p');
  await assertEveryoneHearsTheOthers([ann, ben]);
  await assertEveryoneSeesTheOthers([ann, ben]);
  assert.is((await detail(suite.server.url, meeting.id)).participants.find((p) => p.name === 'Ben')?.id, benId, 'the same participant');
  await assertChatShownOnce(ben, 'before the reload'); // the reloaded page kept its chat, once
  const types = (await events(suite.server.url, meeting.id)).map((e) => e.type);
  assert.not.ok(types.includes('left'), types.join());
  // The leave button is still an explicit leave: the other is told at once.
  await ben.page.getByTestId('leave-meeting').click();
  await ann.page.locator('[data-testid="participant-item"][data-participant="Ben"]').waitFor({ state: 'detached', timeout: 5000 });
});

test('the relay drops a connection: the client is told, connects again, and the record says so', async () => {
  const meeting = await createMeeting(suite.server.url, 'Relay heal', 'relay');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  const group = [ann, ben, cat];
  suite.people.push(...group);
  await assertEveryoneHearsTheOthers(group);
  const benId = (await detail(suite.server.url, meeting.id)).participants.find((p) => p.name === 'Ben')!.id;
  assert.ok(suite.server.coordinator.media.dropRelayConnection(meeting.id, benId));
  await waitFor(async () => (await ben.page.getByTestId('stats-overlay').innerText()).includes('recovered'), 20_000, "Ben's overlay to show the recovery");
  await assertEveryoneHearsTheOthers(group);
  await assertEveryoneSeesTheOthers(group);
  const recoveries = (await events(suite.server.url, meeting.id)).filter((e) => e.type === 'media-recovery').map((e) => e.detail?.phase);
  assert.ok(recoveries.includes('relay-closed') && recoveries.includes('recovered'), recoveries.join());
});

test('a media worker dies: its meeting is placed on a live worker and everyone hears and sees everyone again', async () => {
  const meeting = await createMeeting(suite.server.url, 'Worker crash', 'relay');
  const group = [
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900),
  ];
  suite.people.push(...group);
  await assertEveryoneHearsTheOthers(group);
  const failuresBefore = suite.server.coordinator.media.workers.failures;
  assert.ok(await suite.server.coordinator.media.workers.crashWorkerOf(meeting.id), 'the meeting was on a worker thread');
  assert.is(suite.server.coordinator.media.workers.failures, failuresBefore + 1);
  await waitFor(async () => (await group[0]!.page.getByTestId('stats-overlay').innerText()).includes('recovered'), 20_000, "Ann's overlay to show the recovery");
  await assertEveryoneHearsTheOthers(group);
  await assertEveryoneSeesTheOthers(group);
  const metrics = await (await fetch(`${suite.server.url}/metrics`)).text();
  assert.match(metrics, /meetmesh_media_worker_failures_total [1-9]/);
  const recoveries = (await events(suite.server.url, meeting.id)).filter((e) => e.type === 'media-recovery');
  assert.ok(recoveries.some((e) => e.detail?.reason === 'media worker failed'), JSON.stringify(recoveries));
});

test('a 4 s signaling blackout: "Reconnecting…", back by itself, media never stopped, chat sent meanwhile arrives once', async () => {
  const net = await impairedSignaling(suite.server);
  try {
    const { meetingId, ann, ben } = await pairInP2P('Wifi hiccup', net.url);
    const meeting = { id: meetingId };
    net.proxy.blackout(true);
    net.proxy.cut();
    await waitFor(async () => (await ann.page.getByTestId('room-notice').innerText().catch(() => '')).includes('Reconnecting'), 10_000, 'Ann to see Reconnecting…');
    // Meanwhile the direct path carries on: Ben still hears Ann, and Ann's chat waits.
    await assertEveryoneHearsTheOthers([ann, ben], 5000);
    await sendChat(ben, 'sent while Ann was away');
    await sendChat(ann, 'typed during the blackout');
    const blackoutStart = Date.now();
    await waitFor(() => Date.now() - blackoutStart > 4000, 6000, 'four seconds of blackout');
    net.proxy.blackout(false);
    await ann.page.getByTestId('room-notice').waitFor({ state: 'detached', timeout: 15_000 });
    await assertChatShownOnce(ben, 'typed during the blackout');
    await assertChatShownOnce(ann, 'sent while Ann was away');
    const types = (await events(suite.server.url, meeting.id)).map((e) => e.type);
    assert.ok(types.includes('resumed'), types.join());
    assert.not.ok(types.includes('left'), 'nobody left');
    await assertEveryoneHearsTheOthers([ann, ben]);
  } finally {
    await net.close();
  }
});

test('a server killed with SIGKILL and started again: everyone is back in media by themselves', async () => {
  const port = await freeTcpPort();
  const db = tempDbPath();
  const base = `http://127.0.0.1:${port}`;
  let child = spawnServerProcess(port, db.dbPath);
  try {
    await waitFor(async () => (await api(base, 'GET', '/api/health')).status === 200, 30_000, 'the server to start');
    const meeting = await createMeeting(base, 'Restart');
    const group = [
      await joinAs(suite.browser, base, meeting.id, 'Ann', 600),
      await joinAs(suite.browser, base, meeting.id, 'Ben', 1100),
      await joinAs(suite.browser, base, meeting.id, 'Cat', 1900),
    ];
    suite.people.push(...group);
    for (const p of group) await badgeSays(p, 'relay');
    await assertEveryoneHearsTheOthers(group);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor(async () => (await group[0]!.page.getByTestId('room-notice').innerText().catch(() => '')).includes('Reconnecting'), 10_000, 'the page to say Reconnecting');
    // The media died with the server: silence first, so hearing again below proves the return.
    await waitFor(async () => (await toneLevels(group[0]!.page, [group[1]!.hz, group[2]!.hz])).every((l) => l < ABSENT_DB), 15_000, 'Ann to hear silence while the server is down');
    child = spawnServerProcess(port, db.dbPath);
    await waitFor(async () => (await api(base, 'GET', '/api/health').catch(() => ({ status: 0 }))).status === 200, 30_000, 'the server to start again');
    const upAt = Date.now();
    for (const p of group) await badgeSays(p, 'relay', 30_000);
    await waitUntilEveryoneHearsTheOthers(group, 30_000);
    const seconds = (Date.now() - upAt) / 1000;
    console.log(`  everyone heard everyone again ${seconds.toFixed(1)} s after the server was up`);
    assert.ok(seconds < 30, `back within 30 s (took ${seconds} s)`);
    await assertEveryoneHearsTheOthers(group);
    const names = await waitFor(async () => {
      const listed = (await detail(base, meeting.id)).participants.map((p) => p.name ?? '?').sort();
      return listed.length === 3 ? listed : undefined;
    }, 10_000, 'the three to be listed in the restored meeting');
    assert.equal(names, ['Ann', 'Ben', 'Cat'], 'the same three, once each');
  } finally {
    child.kill('SIGKILL');
    db.remove();
  }
});

test.run();
