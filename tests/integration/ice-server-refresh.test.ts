/**
 * Participants get fresh ICE servers (TURN credentials) over signaling before theirs
 * expire, for as long as they stay, and no longer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting } from '../../protocol/rest';
import type { IceServer } from '../../protocol/signaling';
import { api, startServer, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';
import { waitFor } from '../helpers/wait';

const REFRESH_MS = 150;
let server: TestServer;
const issued: string[] = [];
const sockets: TestSocket[] = [];

/** Stands in for the TURN credentials: each list carries a new username. */
function iceServersFor(participantId: string): IceServer[] {
  issued.push(participantId);
  return [{ urls: 'turn:turn.example.org:3478', username: `${issued.length}:${participantId}`, credential: 'c' }];
}

test.before(async () => {
  server = await startServer({}, { iceServersFor, iceServerRefreshMs: REFRESH_MS });
});
test.after(async () => {
  for (const s of sockets) s.close();
  await server.dispose();
});

test('a participant keeps receiving fresh ICE servers while in the meeting, and none after leaving', async () => {
  const { body: meeting } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Long call' });
  const alice = await TestSocket.connect(server.wsUrl);
  sockets.push(alice);
  const joined = await alice.join(meeting.id, 'Alice');
  const first = joined.iceServers[0]!.username;

  await waitFor(() => alice.all('ice-servers').length >= 2 || undefined, 5000, 'two ice-servers pushes');
  const usernames = alice.all('ice-servers').map((m) => m.iceServers[0]!.username);
  assert.ok(usernames.every((u) => u !== first && u?.endsWith(`:${joined.self.id}`)), JSON.stringify(usernames));
  assert.is(new Set(usernames).size, usernames.length, 'each push is a new credential');

  alice.send({ type: 'leave' });
  await waitFor(() => server.coordinator.registry.get(meeting.id)?.participants.length !== 1 || undefined, 5000, 'alice to be gone');
  const after = issued.length;
  // The bounded "nothing more" check: several refresh periods without a new credential.
  await new Promise((resolve) => setTimeout(resolve, REFRESH_MS * 4));
  assert.is(issued.length, after);
});

test.run();
