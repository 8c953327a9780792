/**
 * Screen share over real sockets: `media-state` says whether a participant shares a screen,
 * the others learn it (`participant-media`, and `joined` for newcomers), the record keeps
 * when a share starts and stops, and the message stays a closed schema.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingEventRecord } from '../../protocol/rest';
import { api, startServer, type TestServer } from '../helpers/server';
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

async function connect(): Promise<TestSocket> {
  const s = await TestSocket.connect(server.wsUrl);
  sockets.push(s);
  return s;
}

async function meeting(): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Sharing' })).body;
}

async function shareEvents(id: string): Promise<string[]> {
  const events = (await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${id}/events`)).body;
  return events.filter((e) => e.type.startsWith('screen-share')).map((e) => `${e.type} ${e.participant}`);
}

test('a share is told to the others and to newcomers, and recorded when it starts and stops', async () => {
  const m = await meeting();
  const [ann, ben] = [await connect(), await connect()];
  const annJoined = await ann.join(m.id, 'Ann');
  await ben.join(m.id, 'Ben');
  const annId = annJoined.self.id;
  assert.is(annJoined.self.screen, false);

  ann.send({ type: 'media-state', audio: true, video: true, screen: true });
  await ben.next('participant-media', (p) => p.participantId === annId && p.screen);
  const cat = await connect();
  const catJoined = await cat.join(m.id, 'Cat');
  assert.is(catJoined.participants.find((p) => p.id === annId)?.screen, true, 'a newcomer learns the share from its join reply');

  // An older client's media-state without the field: no screen.
  ann.send({ type: 'media-state', audio: true, video: true });
  await cat.next('participant-media', (p) => p.participantId === annId && !p.screen);
  assert.equal(await shareEvents(m.id), ['screen-share-started Ann', 'screen-share-stopped Ann']);
});

test('a sharer who leaves ends the share in the record', async () => {
  const m = await meeting();
  const [ann, ben] = [await connect(), await connect()];
  await ann.join(m.id, 'Ann');
  await ben.join(m.id, 'Ben');
  ann.send({ type: 'media-state', audio: true, video: true, screen: true });
  await ben.next('participant-media', (p) => p.screen);
  ann.send({ type: 'leave' });
  await ben.next('participant-left');
  assert.equal(await shareEvents(m.id), ['screen-share-started Ann', 'screen-share-stopped Ann']);
});

test('media-state is a closed schema: a wrong type or an unknown field is refused', async () => {
  const m = await meeting();
  const ann = await connect();
  await ann.join(m.id, 'Ann');
  ann.sendRaw(JSON.stringify({ type: 'media-state', audio: true, video: true, screen: 'yes' }));
  await ann.next('error', (e) => e.code === 'BAD_MESSAGE');
  ann.sendRaw(JSON.stringify({ type: 'media-state', audio: true, video: true, screen: true, screenMid: '2' }));
  await ann.next('error', (e) => e.code === 'BAD_MESSAGE' && ann.all('error').length === 2);
  assert.equal(await shareEvents(m.id), []);
});

test.run();
