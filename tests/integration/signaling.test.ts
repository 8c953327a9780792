import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingDetail, MeetingEventRecord } from '../../protocol/rest';
import { LIMITS } from '../../protocol/limits';
import { api, startServer, tempDbPath, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';
import { waitFor } from '../helpers/wait';

let server: TestServer;
const sockets: TestSocket[] = [];
test.before(async () => {
  server = await startServer({ heartbeatMs: 200, departureGraceMs: 400 });
});
test.after.each(() => {
  for (const s of sockets.splice(0)) s.close();
});
test.after(async () => {
  await server.dispose();
});

async function meeting(title = 'Test'): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title })).body;
}
async function connect(): Promise<TestSocket> {
  const s = await TestSocket.connect(server.wsUrl);
  sockets.push(s);
  return s;
}
async function errorFor(s: TestSocket, id: number): Promise<string> {
  const reply = await s.reply(id);
  return reply.type === 'error' ? reply.code : `no error (${reply.type})`;
}

test('joining tells the newcomer who is there and tells the others who came', async () => {
  const m = await meeting();
  const alice = await connect();
  const aliceJoined = await alice.join(m.id, 'Alice', m.creatorToken);
  assert.equal(aliceJoined.participants, []);
  assert.ok(aliceJoined.self.isCreator);
  assert.is(aliceJoined.meeting.title, 'Test');
  const bob = await connect();
  const bobJoined = await bob.join(m.id, 'Bob');
  assert.equal(bobJoined.participants.map((p) => p.name), ['Alice']);
  assert.not.ok(bobJoined.self.isCreator);
  const seen = await alice.next('participant-joined');
  assert.is(seen.participant.name, 'Bob');
});

test('chat reaches every other member exactly once, with name and time, and never another meeting', async () => {
  const one = await meeting('One');
  const two = await meeting('Two');
  const [a, b, c, x, y] = await Promise.all([connect(), connect(), connect(), connect(), connect()]);
  await a.join(one.id, 'Ann');
  await b.join(one.id, 'Ben');
  await c.join(one.id, 'Cat');
  await x.join(two.id, 'Xav');
  await y.join(two.id, 'Yan');
  const before = Date.now();
  const sent = [a, b, c].map((s, i) => ({ s, id: s.request({ type: 'chat', messageId: `one-${i}`, text: `hello from ${i}` }) }));
  const xid = x.request({ type: 'chat', messageId: 'two-0', text: 'secret of meeting two' });
  for (const { s, id } of sent) assert.is((await s.reply(id)).type, 'ack');
  assert.is((await x.reply(xid)).type, 'ack');
  for (const [s, own] of [[a, 0], [b, 1], [c, 2]] as const) {
    await waitFor(() => s.all('chat').length >= 2, 3000, 'two chat lines');
    const lines = s.all('chat').map((m) => m.message);
    assert.equal(lines.map((l) => l.text).sort(), [0, 1, 2].filter((i) => i !== own).map((i) => `hello from ${i}`));
    for (const l of lines) {
      assert.ok(['Ann', 'Ben', 'Cat'].includes(l.name));
      assert.ok(Date.parse(l.at) >= before - 1000 && Date.parse(l.at) <= Date.now());
    }
  }
  await y.next('chat');
  assert.equal(y.all('chat').map((m) => m.message.text), ['secret of meeting two']);
  // Meeting one never saw meeting two's line, and no line arrived twice.
  for (const s of [a, b, c]) {
    assert.not.ok(s.all('chat').some((m) => m.message.text.includes('secret')));
    assert.is(s.all('chat').length, 2);
  }
  assert.is(x.all('chat').length, 0, 'a sender does not get their own line back');
});

test('a re-sent chat message (same id) is delivered once', async () => {
  const m = await meeting();
  const [a, b] = [await connect(), await connect()];
  await a.join(m.id, 'A');
  await b.join(m.id, 'B');
  const first = a.request({ type: 'chat', messageId: 'same', text: 'once' });
  const second = a.request({ type: 'chat', messageId: 'same', text: 'once' });
  assert.is((await a.reply(first)).type, 'ack');
  assert.is((await a.reply(second)).type, 'ack');
  const probe = a.request({ type: 'chat', messageId: 'after', text: 'after' });
  await a.reply(probe);
  await b.next('chat', (m) => m.message.text === 'after');
  assert.equal(b.all('chat').map((m) => m.message.text), ['once', 'after']);
});

test('leaving and auto-end: the others are told, the last one out ends the meeting', async () => {
  const m = await meeting();
  const [a, b] = [await connect(), await connect()];
  const aJoined = await a.join(m.id, 'A');
  await b.join(m.id, 'B');
  a.send({ type: 'leave' });
  const left = await b.next('participant-left');
  assert.is(left.participantId, aJoined.self.id);
  b.send({ type: 'leave' });
  await waitFor(async () => (await api<MeetingDetail>(server.url, 'GET', `/api/meetings/${m.id}`)).body.state === 'ended', 3000, 'the meeting to end');
  const late = await connect();
  const id = late.request({ type: 'join', meetingId: m.id, name: 'Late' });
  assert.is(await errorFor(late, id), 'MEETING_NOT_FOUND');
});

test('cancel removes everyone with a reason and refuses new joins', async () => {
  const m = await meeting();
  const [a, b] = [await connect(), await connect()];
  await a.join(m.id, 'Host', m.creatorToken);
  await b.join(m.id, 'Guest');
  const res = await api(server.url, 'DELETE', `/api/meetings/${m.id}`, undefined, { authorization: `Bearer ${m.creatorToken}` });
  assert.is(res.status, 204);
  for (const s of [a, b]) {
    const closed = await s.next('meeting-closed');
    assert.is(closed.reason, 'cancelled');
    assert.match(closed.message, 'cancelled');
    await s.waitClosed();
  }
  const late = await connect();
  const id = late.request({ type: 'join', meetingId: m.id, name: 'Late' });
  assert.is(await errorFor(late, id), 'MEETING_NOT_FOUND');
  const detail = await api<MeetingDetail>(server.url, 'GET', `/api/meetings/${m.id}`);
  assert.is(detail.body.state, 'cancelled');
});

test('a dropped socket is kept for the departure grace, then leaves; a silent one is dropped by the heartbeat', async () => {
  const m = await meeting();
  const [a, b, c] = [await connect(), await connect(), await connect()];
  const bJoined = await b.join(m.id, 'Dropped');
  const cJoined = await c.join(m.id, 'Frozen');
  await a.join(m.id, 'Stays');
  b.ws.terminate();
  await a.next('participant-left', (msg) => msg.participantId === bJoined.self.id);
  // Simulate a frozen tab: the socket stays open at TCP level but never answers pings.
  c.ws.pong = () => {};
  (c.ws as unknown as { _receiver: { removeAllListeners(e: string): void } })._receiver.removeAllListeners('ping');
  await a.next('participant-left', (msg) => msg.participantId === cJoined.self.id, 3000);
  const events = await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${m.id}/events`);
  assert.equal(events.body.filter((e) => e.type === 'dropped').length, 2);
  const reasons = events.body.filter((e) => e.type === 'left').map((e) => e.detail?.reason);
  assert.equal(reasons, ['timed-out', 'timed-out']);
});

test('a dropped participant resumes with its token: same id, no leave seen, missed chat replayed', async () => {
  const m = await meeting();
  const [a, b] = [await connect(), await connect()];
  const aJoined = await a.join(m.id, 'Wobbly');
  await b.join(m.id, 'Steady');
  a.ws.terminate();
  await waitFor(async () => (await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${m.id}/events`)).body.some((e) => e.type === 'dropped'), 3000, 'the drop to be seen');
  const bId = b.request({ type: 'chat', messageId: 'while-away', text: 'you missed this' });
  await b.next('ack', (msg) => msg.id === bId);
  const again = await connect();
  const id = again.request({ type: 'join', meetingId: m.id, name: 'Wobbly', resumeToken: aJoined.resumeToken });
  const resumed = await again.next('joined', (msg) => msg.id === id);
  assert.ok(resumed.resumed);
  assert.is(resumed.self.id, aJoined.self.id, 'the same participant');
  assert.equal(resumed.chat.map((c) => c.text), ['you missed this']);
  assert.equal(b.all('participant-left'), [], 'the other saw no leave');
  assert.equal(b.all('participant-joined'), [], 'and no rejoin');
  // A token that is not known joins afresh (e.g. after the grace): a new participant.
  const stranger = await connect();
  const sid = stranger.request({ type: 'join', meetingId: m.id, name: 'Other', resumeToken: 'forged-token' });
  const fresh = await stranger.next('joined', (msg) => msg.id === sid);
  assert.not.ok(fresh.resumed);
  assert.is.not(fresh.self.id, aJoined.self.id);
  for (const s of [again, b, stranger]) s.close();
});

test('bad input gets its error code and the server keeps serving everyone', async () => {
  const m = await meeting();
  const [bad, good, other] = [await connect(), await connect(), await connect()];
  await good.join(m.id, 'Good');
  await other.join(m.id, 'Other');

  const codes: string[] = [];
  const collect = async (send: () => void) => {
    const before = bad.all('error').length;
    send();
    await waitFor(() => bad.all('error').length > before, 2000, 'an error reply');
    codes.push(bad.all('error').at(-1)!.code);
  };
  await collect(() => bad.sendRaw('{not json'));
  await collect(() => bad.sendRaw(JSON.stringify({ type: 'explode' })));
  await collect(() => bad.sendRaw(JSON.stringify({ type: 'join', id: 901, meetingId: m.id, name: 7 })));
  await collect(() => bad.sendRaw(JSON.stringify({ type: 'chat', id: 902, messageId: 'x', text: 'before join' })));
  await collect(() => bad.sendRaw('x'.repeat(LIMITS.messageBytesMax + 10)));
  await collect(() => bad.sendRaw(JSON.stringify({ type: 'join', id: 903, meetingId: 'no-such', name: 'B' })));
  assert.equal(codes, ['MALFORMED_JSON', 'UNKNOWN_MESSAGE_TYPE', 'BAD_MESSAGE', 'NOT_JOINED', 'MESSAGE_TOO_LARGE', 'MEETING_NOT_FOUND']);

  await bad.join(m.id, 'Bad');
  const tooLong = bad.request({ type: 'chat', messageId: 'long', text: 'x'.repeat(LIMITS.chatTextMax + 1) });
  assert.is(await errorFor(bad, tooLong), 'CHAT_TOO_LONG');
  const again = bad.request({ type: 'join', meetingId: m.id, name: 'Twice' });
  assert.is(await errorFor(bad, again), 'ALREADY_JOINED');
  const other2 = await meeting('Elsewhere');
  const stranger = await connect();
  const strangerJoined = await stranger.join(other2.id, 'Stranger');
  bad.send({ type: 'signal', conn: 'c1', to: strangerJoined.self.id, data: { type: 'renegotiate', renegotiate: true } });
  await waitFor(() => bad.all('error').some((e) => e.code === 'NOT_IN_MEETING'), 2000, 'NOT_IN_MEETING');
  assert.is(stranger.all('signal').length, 0, 'nothing crossed into the other meeting');

  // Flooding chat is rate-limited, and the others still chat normally.
  const flood = Array.from({ length: LIMITS.chatBurst + 5 }, (_, i) => bad.request({ type: 'chat', messageId: `f${i}`, text: 'spam' }));
  const floodCodes = await Promise.all(flood.map(async (id) => (await bad.reply(id)).type === 'ack' ? 'ack' : await errorFor(bad, id)));
  assert.ok(floodCodes.includes('RATE_LIMITED'));
  assert.ok(floodCodes.filter((c) => c === 'ack').length <= LIMITS.chatBurst + 1);

  const id = good.request({ type: 'chat', messageId: 'still-fine', text: 'still works' });
  assert.is((await good.reply(id)).type, 'ack');
  await other.next('chat', (msg) => msg.message.text === 'still works');
  assert.is(bad.closed, null, 'bad input does not cost the connection');
});

test('a server that stops tells its clients it is restarting; started again on its record, the meeting is open', async () => {
  const db = tempDbPath();
  const first = await startServer({ dbPath: db.dbPath });
  try {
    const m = (await api<CreatedMeeting>(first.url, 'POST', '/api/meetings', { title: 'Deploy' })).body;
    const s = await TestSocket.connect(first.wsUrl);
    await s.join(m.id, 'Ops');
    const stopping = first.close();
    await s.next('server-restarting');
    assert.is((await s.waitClosed()).code, 4004);
    await stopping;
    const second = await startServer({ dbPath: db.dbPath });
    try {
      assert.is((await api<MeetingDetail>(second.url, 'GET', `/api/meetings/${m.id}`)).body.state, 'open');
      const back = await TestSocket.connect(second.wsUrl);
      assert.is((await back.join(m.id, 'Ops')).type, 'joined');
      back.close();
    } finally {
      await second.close();
    }
  } finally {
    await first.close();
    db.remove();
  }
});

test.run();
