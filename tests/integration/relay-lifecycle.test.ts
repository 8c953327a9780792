/**
 * A relay meeting's connections over their life, through the real server (media worker
 * process, `/ws`, headless libwebrtc clients): a connection that fails by itself and comes
 * back leaves the relay's forwarding index exactly as large as the live viewers need, and
 * an offer the relay cannot use is the client's error, with its own code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerMessage } from '../../protocol/signaling';
import { joinRelay, type RelayMember } from '../helpers/relayJoin';
import type { CreatedMeeting, MeetingDetail } from '../../protocol/rest';
import { api, startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { TestSocket } from '../helpers/wsClient';

const MEDIA_MS = 15_000;
/** Decoded luma stays within a few levels of the sent one; the lumas here differ by 60. */
const LUMA_TOLERANCE = 12;

let server: TestServer;
const members: RelayMember[] = [];
const sockets: TestSocket[] = [];

test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  for (const m of members) m.close();
  for (const s of sockets) s.close();
  await server.dispose();
});

async function join(meetingId: string, name: string, luma: number): Promise<RelayMember> {
  const member = await joinRelay(server.wsUrl, meetingId, name, luma);
  members.push(member);
  return member;
}

async function createMeeting(title: string): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title, topology: 'relay' })).body;
}

/** The relay's forwarding index size as `GET /api/meetings/:id` reports it. */
async function forwardingEntries(meetingId: string): Promise<number | undefined> {
  return (await api<MeetingDetail>(server.url, 'GET', `/api/meetings/${meetingId}`)).body.relay.forwardingEntries;
}

test('a relay connection that fails by itself and comes back, three times, leaves the forwarding index as large as the live viewers need', async () => {
  const meeting = await createMeeting('Flaky Wi-Fi');
  const ann = await join(meeting.id, 'Ann', 60);
  const ben = await join(meeting.id, 'Ben', 120);
  const cat = await join(meeting.id, 'Cat', 180);
  // Three cameras, each shown to the two others.
  await waitFor(async () => (await forwardingEntries(meeting.id)) === 6, MEDIA_MS, 'six forwarding entries');

  for (let round = 1; round <= 3; round += 1) {
    const told = ben.socket.received.filter((m) => m.type === 'relay-closed').length;
    // Ben's network drops his connection (not a leave): the relay loses it by itself.
    ben.client.close();
    await waitFor(() => ben.socket.received.filter((m) => m.type === 'relay-closed').length > told, MEDIA_MS, `round ${round}: Ben told his relay connection closed`);
    // Nobody is left forwarding into Ben's dead slots, nor from his dead camera.
    await waitFor(async () => (await forwardingEntries(meeting.id)) === 2, MEDIA_MS, `round ${round}: two entries while Ben is away`);

    await ben.reconnect();
    await waitFor(async () => (await forwardingEntries(meeting.id)) === 6, MEDIA_MS, `round ${round}: six entries with Ben back`);
    // And media flows again both ways: Ben sees Ann and Cat, they see Ben.
    const seen = (member: RelayMember, luma: number) => member.client.framesWithLuma(luma, LUMA_TOLERANCE);
    const before = { ann: seen(ann, 120), cat: seen(cat, 120) };
    await waitFor(
      () => seen(ben, 60) > 5 && seen(ben, 180) > 5 && seen(ann, 120) > before.ann + 5 && seen(cat, 120) > before.cat + 5,
      MEDIA_MS,
      `round ${round}: video both ways with Ben back`,
    );
  }
  assert.is(await forwardingEntries(meeting.id), 6);
});

test('an offer the relay cannot use is refused as the client’s error, INVALID_OFFER, and the meeting goes on', async () => {
  const meeting = await createMeeting('Bad offers');
  const dan = await join(meeting.id, 'Dan', 60);
  const socket = await TestSocket.connect(server.wsUrl);
  sockets.push(socket);
  await socket.join(meeting.id, 'Eve');
  // Valid for the signaling schema, not for the relay: no microphone and no camera line.
  const sdps = ['v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', 'v=0\r\nthis is not SDP\r\n'];
  for (const sdp of sdps) {
    const id = socket.request({ type: 'relay-offer', sdp });
    const reply = (await socket.reply(id, MEDIA_MS)) as ServerMessage;
    assert.is(reply.type, 'error', JSON.stringify(reply));
    if (reply.type === 'error') assert.is(reply.code, 'INVALID_OFFER', reply.message);
  }
  // Dan's media is untouched, and Eve can still join the relay properly.
  const eve = await join(meeting.id, 'Eve2', 180);
  await waitFor(() => dan.client.framesWithLuma(180, LUMA_TOLERANCE) > 5 && eve.client.framesWithLuma(60, LUMA_TOLERANCE) > 5, MEDIA_MS, 'video between Dan and Eve');
});

test.run();
