import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import type { ErrorBody } from '../../protocol/errors';
import type { CreatedMeeting, MeetingDetail, MeetingEventRecord, MeetingSummary } from '../../protocol/rest';
import { api, startServer, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let behindProxy: TestServer;
const sockets: TestSocket[] = [];
test.before(async () => {
  server = await startServer();
  behindProxy = await startServer({ publicUrl: 'https://meet.example.org' });
});
test.after.each(() => {
  for (const s of sockets.splice(0)) s.close();
});
test.after(async () => {
  await server.dispose();
  await behindProxy.dispose();
});

async function connect(headers: Record<string, string> = {}): Promise<TestSocket> {
  const s = await TestSocket.connect(server.wsUrl, headers);
  sockets.push(s);
  return s;
}

/** The HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgradeStatus(wsUrl: string, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, origin === undefined ? {} : { origin });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

test('/ws accepts its own origin and clients without Origin, and refuses a foreign Origin with 403', async () => {
  assert.is(await upgradeStatus(server.wsUrl, server.url), 101, 'same origin');
  assert.is(await upgradeStatus(server.wsUrl), 101, 'no Origin (not a browser)');
  assert.is(await upgradeStatus(server.wsUrl, 'https://evil.example'), 403);
  assert.is(await upgradeStatus(server.wsUrl, server.url.replace(/:\d+$/, ':1')), 403, 'same host, other port');
  assert.is(await upgradeStatus(server.wsUrl, 'null'), 403, 'an opaque origin');
});

test('with PUBLIC_URL set, /ws accepts that origin only', async () => {
  assert.is(await upgradeStatus(behindProxy.wsUrl, 'https://meet.example.org'), 101);
  assert.is(await upgradeStatus(behindProxy.wsUrl, behindProxy.url), 403);
  assert.is(await upgradeStatus(behindProxy.wsUrl, 'http://meet.example.org'), 403, 'the scheme counts too');
});

test('unknown fields are refused in REST bodies and in every /ws message', async () => {
  const rest = await api<ErrorBody>(server.url, 'POST', '/api/meetings', { title: 'X', owner: 'me' });
  assert.is(rest.status, 400);
  assert.is(rest.body.error.code, 'BAD_REQUEST');
  const created = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Closed' });
  const [a, b] = [await connect(), await connect()];
  a.sendRaw(JSON.stringify({ type: 'join', id: 900, meetingId: created.body.id, name: 'A', role: 'admin' }));
  const refused = await a.reply(900);
  assert.is(refused.type === 'error' ? refused.code : refused.type, 'BAD_MESSAGE');
  await a.join(created.body.id, 'A');
  const bJoined = await b.join(created.body.id, 'B');
  a.sendRaw(JSON.stringify({ type: 'signal', to: bJoined.self.id, data: { type: 'offer', sdp: 'v=0', extra: true } }));
  a.sendRaw(JSON.stringify({ type: 'signal', to: bJoined.self.id, data: { type: 'transceiverRequest', transceiverRequest: { kind: 'video', init: { anything: 1 } } } }));
  await a.next('error', (e) => e.code === 'BAD_MESSAGE' && e.message.includes('signal'));
  const errors = await (async () => {
    await a.reply(a.request({ type: 'chat', messageId: 'probe', text: 'probe' }));
    return a.all('error').filter((e) => e.code === 'BAD_MESSAGE');
  })();
  assert.is(errors.length, 3);
  assert.is(b.all('signal').length, 0, 'nothing unchecked reached the peer');
});

test('an unlisted meeting is not listed, is joinable by link, and hides who is there from strangers', async () => {
  const created = (await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Secret', listed: false })).body;
  const listed = (await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Open' })).body;
  const list = (await api<MeetingSummary[]>(server.url, 'GET', '/api/meetings')).body;
  assert.not.ok(list.some((m) => m.id === created.id), 'not in the list');
  assert.ok(list.some((m) => m.id === listed.id));

  const [a, b, c] = [await connect(), await connect(), await connect()];
  await a.join(created.id, 'Alice', created.creatorToken);
  await b.join(created.id, 'Bob');
  await c.join(listed.id, 'Carol');

  const path = `/api/meetings/${created.id}`;
  const stranger = await api<MeetingDetail>(server.url, 'GET', path);
  assert.is(stranger.status, 200);
  assert.is(stranger.body.state, 'open');
  assert.is(stranger.body.listed, false);
  assert.equal(stranger.body.participants, [{ id: '', name: '' }, { id: '', name: '' }], 'one entry per person, nobody named');
  const wrongToken = await api<MeetingDetail>(server.url, 'GET', path, undefined, { authorization: 'Bearer guess' });
  assert.equal(wrongToken.body.participants.map((p) => p.name), ['', '']);
  const creator = await api<MeetingDetail>(server.url, 'GET', path, undefined, { authorization: `Bearer ${created.creatorToken}` });
  assert.equal(creator.body.participants.map((p) => p.name).sort(), ['Alice', 'Bob']);

  const events = (await api<MeetingEventRecord[]>(server.url, 'GET', `${path}/events`)).body;
  assert.ok(events.some((e) => e.type === 'joined'));
  assert.not.ok(JSON.stringify(events).includes('Alice') || JSON.stringify(events).includes('Bob'), 'the record names nobody either');

  const open = await api<MeetingDetail>(server.url, 'GET', `/api/meetings/${listed.id}`);
  assert.equal(open.body.participants.map((p) => p.name), ['Carol'], 'a listed meeting shows names as before');
  assert.is(open.body.listed, true);

  // Once it ended, the record still names nobody (the creator token lived in memory only).
  a.send({ type: 'leave' });
  b.send({ type: 'leave' });
  const ended = await waitFor(async () => {
    const detail = await api<MeetingDetail>(server.url, 'GET', path);
    return detail.body.state === 'ended' ? detail.body : undefined;
  }, 3000, 'the meeting to end');
  assert.is(ended.listed, false);
  assert.equal(ended.participants, []);
  const after = (await api<MeetingEventRecord[]>(server.url, 'GET', `${path}/events`, undefined, { authorization: `Bearer ${created.creatorToken}` })).body;
  assert.ok(after.some((e) => e.type === 'ended'));
  assert.not.ok(JSON.stringify(after).includes('Alice'));
});

test.run();
