import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingDetail, MeetingEventRecord } from '../../protocol/rest';
import { api, startServer, tempDbPath } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';

test('the record survives a restart of the server, and a meeting that was running is restored', async () => {
  const temp = tempDbPath();
  const first = await startServer({ dbPath: temp.dbPath });
  const finished = (await api<CreatedMeeting>(first.url, 'POST', '/api/meetings', { title: 'Finished' })).body;
  const cancelled = (await api<CreatedMeeting>(first.url, 'POST', '/api/meetings', { title: 'Cancelled' })).body;
  const running = (await api<CreatedMeeting>(first.url, 'POST', '/api/meetings', { title: 'Running' })).body;

  const a = await TestSocket.connect(first.wsUrl);
  await a.join(finished.id, 'Alice');
  a.send({ type: 'leave' });
  await api(first.url, 'DELETE', `/api/meetings/${cancelled.id}`, undefined, { authorization: `Bearer ${cancelled.creatorToken}` });
  const b = await TestSocket.connect(first.wsUrl);
  await b.join(running.id, 'Bob');
  const before = (await api<MeetingEventRecord[]>(first.url, 'GET', `/api/meetings/${finished.id}/events`)).body;
  assert.equal(before.map((e) => e.type), ['created', 'joined', 'left', 'ended']);
  await first.close();

  const second = await startServer({ dbPath: temp.dbPath });
  try {
    const after = (await api<MeetingEventRecord[]>(second.url, 'GET', `/api/meetings/${finished.id}/events`)).body;
    assert.equal(after, before);
    const c = (await api<MeetingDetail>(second.url, 'GET', `/api/meetings/${cancelled.id}`)).body;
    assert.is(c.state, 'cancelled');
    assert.is(c.title, 'Cancelled');
    const r = (await api<MeetingDetail>(second.url, 'GET', `/api/meetings/${running.id}`)).body;
    assert.is(r.state, 'open', 'a meeting running when the server stopped is restored');
    const rEvents = (await api<MeetingEventRecord[]>(second.url, 'GET', `/api/meetings/${running.id}/events`)).body;
    assert.equal(rEvents.map((e) => e.type), ['created', 'joined', 'restored']);
    const list = (await api<{ id: string }[]>(second.url, 'GET', '/api/meetings')).body;
    assert.equal(list.map((m) => m.id), [running.id], 'only the running one is joinable again');
    // Its creator still holds the right to cancel it.
    const refused = await api(second.url, 'DELETE', `/api/meetings/${running.id}`, undefined, { authorization: 'Bearer guess' });
    assert.is(refused.status, 403);
    const cancelledNow = await api(second.url, 'DELETE', `/api/meetings/${running.id}`, undefined, { authorization: `Bearer ${running.creatorToken}` });
    assert.is(cancelledNow.status, 204);
  } finally {
    await second.close();
    temp.remove();
  }
});

test.run();
