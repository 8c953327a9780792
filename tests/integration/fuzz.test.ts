/**
 * Tens of thousands of mutated signaling messages over several real sockets, from a seeded
 * PRNG (`FUZZ_SEED` reproduces a run; `FUZZ_MESSAGES` changes its size). Afterwards the
 * server must be alive, a meeting in progress between two well-behaved clients must still
 * work, nothing may have crossed into it, and nothing may have thrown unhandled.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingDetail } from '../../protocol/rest';
import { MessageFuzzer } from '../helpers/fuzz';
import { api, startServer, type TestServer } from '../helpers/server';
import { TestSocket } from '../helpers/wsClient';
import { waitFor } from '../helpers/wait';

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 20_000);
/** Share of relay offers sent intact (each starts a real ICE agent at the relay). */
const VALID_OFFERS = Number(process.env.FUZZ_VALID_SDP ?? 0.2);
const FUZZERS = 6;
const BATCH = 200;
/** Request ids of the barrier after each batch: above any id the fuzzer makes. */
const BARRIER_BASE = 1_000_000_000;

const crashes: unknown[] = [];
const onCrash = (err: unknown) => crashes.push(err);
process.on('unhandledRejection', onCrash);
process.on('uncaughtException', onCrash);

let server: TestServer;
const sockets: TestSocket[] = [];
test.before(async () => {
  // The fuzz must reach the handlers, not just the rate limits (tests/integration/limits.test.ts proves those).
  server = await startServer({
    limits: { createsPerMin: 1000, socketsPerAddress: 1000, joinsPerMin: 1_000_000, messagesPerSec: 1_000_000, maxParticipants: 1000 },
    logLevel: 'silent',
  });
});
test.after(async () => {
  for (const s of sockets.splice(0)) s.close();
  await server.dispose();
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
});

async function connect(): Promise<TestSocket> {
  const s = await TestSocket.connect(server.wsUrl);
  sockets.push(s);
  return s;
}
async function create(title: string, topology: 'auto' | 'relay' = 'auto'): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title, topology })).body;
}

test(`the server survives ${MESSAGES} mutated messages (seed ${SEED}) and a meeting in progress carries on`, async () => {
  // The meeting in progress: two well-behaved clients.
  const calm = await create('In progress');
  const [alice, bob] = [await connect(), await connect()];
  const aliceId = (await alice.join(calm.id, 'Alice', calm.creatorToken)).self.id;
  const bobId = (await bob.join(calm.id, 'Bob')).self.id;
  // Another meeting the fuzzers may join; and the fuzzers' own, always-relay meeting
  // (so relay offers and candidates reach the media relay), held open by its anchor.
  const other = await create('Other');
  const vic = await connect();
  const vicId = (await vic.join(other.id, 'Vic')).self.id;
  const arena = await create('Arena', 'relay');
  const anchor = await connect();
  const anchorId = (await anchor.join(arena.id, 'Anchor')).self.id;

  const fuzzers: { socket: TestSocket; fuzzer: MessageFuzzer }[] = [];
  for (let i = 0; i < FUZZERS; i++) {
    const socket = await connect();
    if (i % 2 === 0) await socket.join(arena.id, `Fuzzer ${i}`);
    fuzzers.push({
      socket,
      fuzzer: new MessageFuzzer(SEED + i, {
        ownMeetingId: arena.id,
        foreignMeetingIds: [other.id, 'no-such-meeting'],
        peerIds: [anchorId],
        foreignParticipantIds: [aliceId, bobId, vicId],
      }, VALID_OFFERS),
    });
  }

  const started = Date.now();
  let sent = 0;
  let reconnects = 0;
  const closeCodes = new Map<number, number>();
  for (let round = 0; sent < MESSAGES; round++) {
    const barrierId = BARRIER_BASE + round;
    await Promise.all(fuzzers.map(async (f) => {
      if (f.socket.closed) {
        // e.g. a frame beyond the socket's size limit: the server closed it; carry on with a new one.
        reconnects++;
        closeCodes.set(f.socket.closed.code, (closeCodes.get(f.socket.closed.code) ?? 0) + 1);
        f.socket = await connect();
      }
      for (let i = 0; i < BATCH; i++) f.socket.sendRaw(f.fuzzer.next());
      // Every frame before the barrier has been handled once the barrier is answered.
      f.socket.sendRaw(JSON.stringify({ type: 'join', id: barrierId, meetingId: 'barrier', name: 'barrier' }));
      await waitFor(() => f.socket.closed || f.socket.received.some((m) => 'id' in m && m.id === barrierId), 20_000, `the barrier of round ${round}`);
      f.socket.received.length = 0; // keep memory flat
    }));
    sent += BATCH * FUZZERS;
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`fuzz: ${sent} messages in ${seconds.toFixed(1)} s over ${FUZZERS} sockets (${reconnects} reconnects: close codes ${JSON.stringify([...closeCodes])}), seed ${SEED}`);

  assert.equal(crashes, [], 'nothing was thrown unhandled');
  const health = await api(server.url, 'GET', '/api/health');
  assert.is(health.status, 200);

  // The meeting in progress still works: chat both ways, and signals between its members.
  const fromAlice = alice.request({ type: 'chat', messageId: 'after-fuzz-a', text: 'still here?' });
  assert.is((await alice.reply(fromAlice)).type, 'ack');
  await bob.next('chat', (m) => m.message.text === 'still here?' && m.message.name === 'Alice');
  const fromBob = bob.request({ type: 'chat', messageId: 'after-fuzz-b', text: 'yes' });
  assert.is((await bob.reply(fromBob)).type, 'ack');
  await alice.next('chat', (m) => m.message.text === 'yes' && m.message.name === 'Bob');
  bob.send({ type: 'signal', to: aliceId, conn: 'c1', data: { type: 'renegotiate', renegotiate: true } });
  await alice.next('signal', (m) => m.from === bobId);

  // Nothing crossed into it: only its two members, and only their messages.
  const detail = await api<MeetingDetail>(server.url, 'GET', `/api/meetings/${calm.id}`);
  assert.equal(detail.body.participants.map((p) => p.name).sort(), ['Alice', 'Bob']);
  assert.ok(alice.all('signal').every((m) => m.from === bobId));
  assert.ok(bob.all('signal').every((m) => m.from === aliceId));
  assert.equal(alice.all('chat').map((m) => m.message.name), ['Bob']);
  assert.is(alice.all('participant-joined').length, 1, 'only Bob ever joined');
  for (const s of [alice, bob, vic, anchor]) assert.is(s.closed, null, 'well-behaved sockets were never closed');
  assert.not.ok([alice, bob].some((s) => s.all('error').length > 0), 'and never saw an error');
  assert.equal(crashes, []);
});

test.run();
