/**
 * Host controls over real sockets: the creator and whoever opens the host link may mute,
 * remove and lock; anyone else is refused with NOT_HOST; everything is recorded, and the
 * lock survives a restart.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingEventRecord } from '../../protocol/rest';
import { api, startServer, tempDbPath, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';

let server: TestServer;
const sockets: TestSocket[] = [];

test.before(async () => {
  server = await startServer();
});
test.after.each(() => {
  for (const s of sockets.splice(0)) s.close();
});
test.after(async () => {
  await server.dispose();
});

async function connect(base = server): Promise<TestSocket> {
  const s = await TestSocket.connect(base.wsUrl);
  sockets.push(s);
  return s;
}

async function meeting(base = server): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(base.url, 'POST', '/api/meetings', { title: 'Hosted' })).body;
}

async function errorCode(s: TestSocket, id: number): Promise<string> {
  const reply = await s.reply(id);
  return reply.type === 'error' ? reply.code : reply.type;
}

test('creating a meeting gives a host link carrying the credential in its fragment', async () => {
  const m = await meeting();
  assert.is(m.hostLink, `${m.link}#host=${encodeURIComponent(m.creatorToken)}`);
});

test('a host mutes someone: they are told, the others see the mic off, the record says who did it', async () => {
  const m = await meeting();
  const [host, ben, cat] = [await connect(), await connect(), await connect()];
  await host.join(m.id, 'Host', m.creatorToken);
  const benJoined = await ben.join(m.id, 'Ben');
  await cat.join(m.id, 'Cat');
  ben.send({ type: 'media-state', audio: true, video: true });
  await cat.next('participant-media', (p) => p.participantId === benJoined.self.id && p.audio);
  assert.is(await errorCode(host, host.request({ type: 'host-mute', participantId: benJoined.self.id })), 'ack');
  assert.is((await ben.next('muted-by-host')).by, 'Host');
  await cat.next('participant-media', (p) => p.participantId === benJoined.self.id && !p.audio);
  // They may turn it on again themselves.
  ben.send({ type: 'media-state', audio: true, video: true });
  await cat.next('participant-media', (p) => p.participantId === benJoined.self.id && p.audio);
  const events = (await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${m.id}/events`, undefined, { authorization: `Bearer ${m.creatorToken}` })).body;
  const muted = events.find((e) => e.type === 'host-muted');
  assert.equal({ participant: muted?.participant, by: muted?.detail?.by }, { participant: 'Ben', by: 'Host' });
});

test('someone who is not a host is refused every host action with NOT_HOST', async () => {
  const m = await meeting();
  const [host, ben] = [await connect(), await connect()];
  const hostJoined = await host.join(m.id, 'Host', m.creatorToken);
  await ben.join(m.id, 'Ben');
  assert.is(await errorCode(ben, ben.request({ type: 'host-mute', participantId: hostJoined.self.id })), 'NOT_HOST');
  assert.is(await errorCode(ben, ben.request({ type: 'host-remove', participantId: hostJoined.self.id })), 'NOT_HOST');
  assert.is(await errorCode(ben, ben.request({ type: 'host-lock', locked: true })), 'NOT_HOST');
  assert.equal(host.all('muted-by-host'), []);
  assert.equal(host.all('meeting-lock'), []);
});

test('a host removes someone: they are told and out, the others see them leave, and they may come back', async () => {
  const m = await meeting();
  const [host, ben] = [await connect(), await connect()];
  await host.join(m.id, 'Host', m.creatorToken);
  const benJoined = await ben.join(m.id, 'Ben');
  assert.is(await errorCode(host, host.request({ type: 'host-remove', participantId: benJoined.self.id })), 'ack');
  assert.match((await ben.next('removed-by-host')).message, 'Host removed you');
  assert.is((await ben.waitClosed()).code, 4001);
  assert.is((await host.next('participant-left')).participantId, benJoined.self.id);
  // Removal is not a ban: the resume token is gone with the participant, a fresh join works.
  const back = await connect();
  const again = back.request({ type: 'join', meetingId: m.id, name: 'Ben', resumeToken: benJoined.resumeToken });
  const reply = await back.reply(again);
  assert.ok(reply.type === 'joined' && !reply.resumed && reply.self.id !== benJoined.self.id, JSON.stringify(reply));
});

test('a locked meeting refuses newcomers with MEETING_LOCKED, lets hosts and people resuming in, and unlocks', async () => {
  const m = await meeting();
  const [host, ben] = [await connect(), await connect()];
  await host.join(m.id, 'Host', m.creatorToken);
  const benJoined = await ben.join(m.id, 'Ben');
  assert.is(await errorCode(host, host.request({ type: 'host-lock', locked: true })), 'ack');
  assert.equal(await ben.next('meeting-lock'), { type: 'meeting-lock', locked: true, by: 'Host' });
  const stranger = await connect();
  assert.is(await errorCode(stranger, stranger.request({ type: 'join', meetingId: m.id, name: 'Eve' })), 'MEETING_LOCKED');
  const secondHost = await connect();
  assert.ok((await secondHost.join(m.id, 'Host on a phone', m.creatorToken)).meeting.locked);
  ben.ws.terminate();
  const benBack = await connect();
  const rid = benBack.request({ type: 'join', meetingId: m.id, name: 'Ben', resumeToken: benJoined.resumeToken });
  const resumed = await benBack.reply(rid);
  assert.ok(resumed.type === 'joined' && resumed.resumed, 'a dropped participant resumes into a locked meeting');
  assert.is(await errorCode(host, host.request({ type: 'host-lock', locked: false })), 'ack');
  assert.is((await stranger.join(m.id, 'Eve')).type, 'joined');
});

test('the lock survives a restart of the server', async () => {
  const db = tempDbPath();
  const first = await startServer({ dbPath: db.dbPath });
  try {
    const m = await meeting(first);
    const host = await connect(first);
    await host.join(m.id, 'Host', m.creatorToken);
    assert.is(await errorCode(host, host.request({ type: 'host-lock', locked: true })), 'ack');
    await first.close();
    const second = await startServer({ dbPath: db.dbPath });
    try {
      const stranger = await connect(second);
      assert.is(await errorCode(stranger, stranger.request({ type: 'join', meetingId: m.id, name: 'Eve' })), 'MEETING_LOCKED');
    } finally {
      await second.close();
    }
  } finally {
    await first.close();
    db.remove();
  }
});

test.run();
