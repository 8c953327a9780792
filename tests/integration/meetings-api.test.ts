import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ErrorBody } from '../../protocol/errors';
import type { CreatedMeeting, MeetingDetail, MeetingEventRecord, MeetingSummary } from '../../protocol/rest';
import { api, startServer, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';

let server: TestServer;
test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  await server.dispose();
});

test('health answers ok', async () => {
  const { status, body } = await api(server.url, 'GET', '/api/health');
  assert.is(status, 200);
  assert.equal(body, { ok: true });
});

test('creating a meeting returns a link and a secret creator token that is never listed', async () => {
  const { status, body } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Weekly sync' });
  assert.is(status, 201);
  assert.is(body.title, 'Weekly sync');
  assert.ok(body.link.endsWith(`/m/${body.id}`));
  assert.ok(Buffer.from(body.creatorToken, 'base64url').length >= 16, 'at least 128 bits');
  const list = await api<MeetingSummary[]>(server.url, 'GET', '/api/meetings');
  const listed = list.body.find((m) => m.id === body.id);
  assert.ok(listed);
  assert.equal(Object.keys(listed!).sort(), ['createdAt', 'id', 'mode', 'participants', 'title']);
  assert.not.ok(JSON.stringify(list.body).includes(body.creatorToken));
  const detail = await api<MeetingDetail>(server.url, 'GET', `/api/meetings/${body.id}`);
  assert.not.ok(JSON.stringify(detail.body).includes(body.creatorToken));
  assert.is(detail.body.state, 'open');
  assert.is(detail.body.mode, 'p2p');
  assert.is(detail.body.relay.packets, 0);
  assert.is(detail.body.relay.bytes, 0);
});

test('an always-relay meeting is listed in relay mode', async () => {
  const { body } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Private', topology: 'relay' });
  const list = await api<MeetingSummary[]>(server.url, 'GET', '/api/meetings');
  assert.is(list.body.find((m) => m.id === body.id)?.mode, 'relay');
});

test('bad create bodies get 400 BAD_REQUEST and a message', async () => {
  for (const bad of [{}, { title: '' }, { title: 42 }, { title: 'x', topology: 'mesh' }, 'not json']) {
    const { status, body } = await api<ErrorBody>(server.url, 'POST', '/api/meetings', bad);
    assert.is(status, 400, JSON.stringify(bad));
    assert.is(body.error.code, 'BAD_REQUEST');
    assert.ok(body.error.message.length > 0);
  }
});

test('unknown meetings are 404 MEETING_NOT_FOUND', async () => {
  for (const [method, path] of [['GET', '/api/meetings/nope'], ['DELETE', '/api/meetings/nope'], ['GET', '/api/meetings/nope/events']] as const) {
    const { status, body } = await api<ErrorBody>(server.url, method, path, undefined, { authorization: 'Bearer x' });
    assert.is(status, 404, `${method} ${path}`);
    assert.is(body.error.code, 'MEETING_NOT_FOUND');
  }
});

test('a non-creator cannot cancel: 403 NOT_CREATOR; the creator can: 204', async () => {
  const { body: created } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Retro' });
  const path = `/api/meetings/${created.id}`;
  const none = await api<ErrorBody>(server.url, 'DELETE', path);
  assert.is(none.status, 403);
  assert.is(none.body.error.code, 'NOT_CREATOR');
  const wrong = await api<ErrorBody>(server.url, 'DELETE', path, undefined, { authorization: 'Bearer wrong' });
  assert.is(wrong.status, 403);
  assert.is(wrong.body.error.code, 'NOT_CREATOR');
  const right = await api(server.url, 'DELETE', path, undefined, { authorization: `Bearer ${created.creatorToken}` });
  assert.is(right.status, 204);
  const detail = await api<MeetingDetail>(server.url, 'GET', path);
  assert.is(detail.body.state, 'cancelled');
  const list = await api<MeetingSummary[]>(server.url, 'GET', '/api/meetings');
  assert.not.ok(list.body.some((m) => m.id === created.id), 'a cancelled meeting is not joinable');
  const again = await api<ErrorBody>(server.url, 'DELETE', path, undefined, { authorization: `Bearer ${created.creatorToken}` });
  assert.is(again.body.error.code, 'MEETING_CANCELLED');
});

test('the events record tells the story of a meeting', async () => {
  const { body: created } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Story' });
  const alice = await TestSocket.connect(server.wsUrl);
  await alice.join(created.id, 'Alice', created.creatorToken);
  const bob = await TestSocket.connect(server.wsUrl);
  await bob.join(created.id, 'Bob');
  bob.send({ type: 'leave' });
  await alice.next('participant-left');
  alice.send({ type: 'leave' });
  const events = await waitForEvents(created.id, 'ended');
  assert.equal(events.map((e) => e.type), ['created', 'joined', 'joined', 'left', 'left', 'ended']);
  assert.equal(events.filter((e) => e.type === 'joined').map((e) => e.participant), ['Alice', 'Bob']);
  for (const e of events) assert.ok(!Number.isNaN(Date.parse(e.at)), 'every event has a time');
  bob.close();
  alice.close();
});

test('/metrics exposes meetings and participants in Prometheus text', async () => {
  const { body: created } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Metrics' });
  const s = await TestSocket.connect(server.wsUrl);
  await s.join(created.id, 'Mo');
  const response = await fetch(server.url + '/metrics');
  const text = await response.text();
  assert.match(response.headers.get('content-type') ?? '', 'text/plain');
  assert.match(text, /^meetmesh_participants [1-9]\d*$/m);
  assert.match(text, /^meetmesh_meetings\{mode="p2p"\} [1-9]\d*$/m);
  assert.match(text, /^meetmesh_relay_bytes_total\{mode="p2p"\} 0$/m);
  s.close();
});

async function waitForEvents(id: string, lastType: string): Promise<MeetingEventRecord[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { body } = await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${id}/events`);
    if (body.at(-1)?.type === lastType) return body;
    if (Date.now() > deadline) throw new Error(`no "${lastType}" event: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test.run();
