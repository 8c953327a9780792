import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import type { ConfigOverrides } from '../../coordinator/config';
import { TOO_MANY_SOCKETS_CLOSE_CODE } from '../../coordinator/limits/AddressLimits';
import type { ErrorBody } from '../../protocol/errors';
import type { CreatedMeeting } from '../../protocol/rest';
import type { ServerMessage } from '../../protocol/signaling';
import { api, startServer, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';
import { waitFor } from '../helpers/wait';

const servers: TestServer[] = [];
const sockets: TestSocket[] = [];
test.after.each(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const s of servers.splice(0)) await s.dispose();
});

async function server(limits: ConfigOverrides['limits'], extra: ConfigOverrides = {}): Promise<TestServer> {
  const s = await startServer({ limits, ...extra });
  servers.push(s);
  return s;
}
async function connect(s: TestServer, headers: Record<string, string> = {}): Promise<TestSocket> {
  const socket = await TestSocket.connect(s.wsUrl, headers);
  sockets.push(socket);
  return socket;
}
async function create(s: TestServer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.url}/api/meetings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ title: 'Flood' }),
  });
}
async function codeOf(s: TestSocket, id: number): Promise<string> {
  const reply = await s.reply(id);
  return reply.type === 'error' ? reply.code : reply.type;
}

test('creating meetings past the per-address limit is 429 RATE_LIMITED with Retry-After', async () => {
  const s = await server({ createsPerMin: 3 });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await create(s)).status);
  assert.equal(statuses, [201, 201, 201]);
  const refused = await create(s);
  assert.is(refused.status, 429);
  assert.is(((await refused.json()) as ErrorBody).error.code, 'RATE_LIMITED');
  const retryAfter = Number(refused.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  // Loopback is an address like any other, and a bad body counts as well.
  const bad = await api<ErrorBody>(s.url, 'POST', '/api/meetings', { title: 42 });
  assert.is(bad.status, 429);
});

test('behind a trusted proxy each X-Forwarded-For address has its own creation budget; untrusted, the header is ignored', async () => {
  const proxied = await server({ createsPerMin: 1 }, { trustProxy: true });
  assert.is((await create(proxied, { 'x-forwarded-for': '203.0.113.1' })).status, 201);
  assert.is((await create(proxied, { 'x-forwarded-for': '203.0.113.1' })).status, 429);
  assert.is((await create(proxied, { 'x-forwarded-for': '203.0.113.2' })).status, 201);
  const direct = await server({ createsPerMin: 1 });
  assert.is((await create(direct, { 'x-forwarded-for': '203.0.113.1' })).status, 201);
  assert.is((await create(direct, { 'x-forwarded-for': '203.0.113.2' })).status, 429);
});

test('a socket over the per-address limit is told RATE_LIMITED and closed with 4029; a freed slot can be used again', async () => {
  const s = await server({ socketsPerAddress: 3 });
  const open = [await connect(s), await connect(s), await connect(s)];
  // A raw socket records from its very first frame.
  const extra = new WebSocket(s.wsUrl);
  const received: ServerMessage[] = [];
  extra.on('message', (data: Buffer) => received.push(JSON.parse(data.toString('utf8')) as ServerMessage));
  const closed = await new Promise<{ code: number; reason: string }>((resolve) => extra.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  assert.is(closed.code, TOO_MANY_SOCKETS_CLOSE_CODE);
  assert.match(closed.reason, 'too many connections');
  assert.is(received[0]?.type, 'error');
  assert.is(received[0]?.type === 'error' ? received[0].code : '', 'RATE_LIMITED');
  for (const o of open) assert.is(o.closed, null, 'the sockets already open carry on');
  const m = (await api<CreatedMeeting>(s.url, 'POST', '/api/meetings', { title: 'Sockets' })).body;
  open[0]!.close();
  await open[0]!.waitClosed();
  // The server counts the socket out when its side has closed too: retry until it has.
  const joined = await waitFor(async () => {
    const candidate = await connect(s);
    const id = candidate.request({ type: 'join', meetingId: m.id, name: 'Back' });
    const outcome = await waitFor(() => (candidate.closed ? 'refused' : candidate.received.find((r) => 'id' in r && r.id === id)?.type), 2000, 'accepted or refused');
    return outcome === 'joined' ? candidate : undefined;
  }, 3000, 'a socket accepted again once one closed');
  assert.is(joined.closed, null);
});

test('joins past the per-address limit get RATE_LIMITED; the socket survives and other addresses still join', async () => {
  const s = await server({ joinsPerMin: 3 }, { trustProxy: true });
  const m = (await api<CreatedMeeting>(s.url, 'POST', '/api/meetings', { title: 'Joins' })).body;
  const flooder = await connect(s, { 'x-forwarded-for': '198.51.100.7' });
  const codes: string[] = [];
  for (const meetingId of ['nope-1', 'nope-2', 'nope-3', m.id]) {
    codes.push(await codeOf(flooder, flooder.request({ type: 'join', meetingId, name: 'Flood' })));
  }
  assert.equal(codes, ['MEETING_NOT_FOUND', 'MEETING_NOT_FOUND', 'MEETING_NOT_FOUND', 'RATE_LIMITED']);
  assert.is(flooder.closed, null);
  const other = await connect(s, { 'x-forwarded-for': '198.51.100.8' });
  assert.is((await other.join(m.id, 'Other')).type, 'joined');
});

test('a message flood gets RATE_LIMITED errors (with request ids); connection and meeting carry on', async () => {
  const s = await server({ messagesPerSec: 10 });
  const m = (await api<CreatedMeeting>(s.url, 'POST', '/api/meetings', { title: 'Flood' })).body;
  const [flooder, peer] = [await connect(s), await connect(s)];
  await flooder.join(m.id, 'Flooder');
  await peer.join(m.id, 'Peer');
  for (let i = 0; i < 100; i++) flooder.send({ type: 'media-state', audio: i % 2 === 0, video: true });
  const ids = Array.from({ length: 5 }, (_, i) => flooder.request({ type: 'chat', messageId: `f${i}`, text: 'spam' }));
  for (const id of ids) assert.is(await codeOf(flooder, id), 'RATE_LIMITED');
  const limited = flooder.all('error').filter((e) => e.code === 'RATE_LIMITED');
  assert.ok(limited.length >= 100 - 20, `every refused frame is answered (${limited.length})`);
  assert.match(limited[0]!.message, '10 a second');
  // The bucket refills: a chat goes through again and reaches the other member.
  await waitFor(async () => (await flooder.reply(flooder.request({ type: 'chat', messageId: `again-${Date.now()}`, text: 'calm again' }))).type === 'ack', 5000, 'a chat accepted again');
  await peer.next('chat', (c) => c.message.text === 'calm again');
  assert.is(flooder.closed, null);
  assert.is(peer.closed, null);
});

test('MAX_PARTICIPANTS: one more is refused with MEETING_FULL and a sentence; a freed seat can be taken', async () => {
  const s = await server({ maxParticipants: 2 });
  const m = (await api<CreatedMeeting>(s.url, 'POST', '/api/meetings', { title: 'Small' })).body;
  const [a, b, c] = [await connect(s), await connect(s), await connect(s)];
  const aJoined = await a.join(m.id, 'A');
  await b.join(m.id, 'B');
  const id = c.request({ type: 'join', meetingId: m.id, name: 'C' });
  const reply = await c.reply(id);
  assert.is(reply.type === 'error' ? reply.code : reply.type, 'MEETING_FULL');
  assert.match(reply.type === 'error' ? reply.message : '', 'at most 2 people');
  // Someone already counted may come back after a dropped connection: a full meeting keeps their seat.
  a.ws.terminate();
  const again = await connect(s);
  const rid = again.request({ type: 'join', meetingId: m.id, name: 'A', resumeToken: aJoined.resumeToken });
  const resumed = await again.reply(rid);
  assert.ok(resumed.type === 'joined' && resumed.resumed, JSON.stringify(resumed));
  b.send({ type: 'leave' });
  await again.next('participant-left');
  assert.is((await c.join(m.id, 'C')).type, 'joined');
});

test.run();
