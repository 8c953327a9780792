/**
 * The light load client (bench/harness/LightClient.ts, used by `npm run load`) against the
 * real server: it joins over `/ws`, its native peer connects to the relay, its replayed Opus
 * is mixed (the others' mixes hold its tone, decoded here) and its replayed VP8 is forwarded
 * into the others' slots; a keyframe request restarts its loop at the keyframe. The relay runs
 * in a media worker process, as it does in production.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LightClient } from '../../bench/harness/LightClient';
import { releaseNativePeers } from '../../bench/harness/LightPeer';
import { recordVp8, type RecordedVideo } from '../../bench/harness/preEncoded';
import { joinLight } from '../helpers/lightJoin';
import { toneAmplitude } from '../../relay/audio/tones';
import { nextMix } from '../helpers/lightMix';
import { createMeeting, meetingDetail } from '../helpers/room';
import { startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const ANN_HZ = 500;
const BEN_HZ = 800;
let server: TestServer;
let video: RecordedVideo;
const clients: LightClient[] = [];

test.before(async () => {
  server = await startServer({ mediaWorkers: 1 });
  video = await recordVp8(320, 240, 15, 1);
});
test.after(async () => {
  for (const c of clients) c.close();
  releaseNativePeers();
  await server.dispose();
});

async function join(meetingId: string, name: string, hz: number | null, camera: boolean): Promise<LightClient> {
  const client = await joinLight(server, meetingId, name, hz, camera ? video : null);
  clients.push(client);
  return client;
}

test("three light clients in a relay meeting: mixes hold the others' tones, cameras reach the others' slots", async () => {
  const meeting = await createMeeting(server.url, 'Light', 'relay');
  const ann = await join(meeting.id, 'Ann', ANN_HZ, true);
  const ben = await join(meeting.id, 'Ben', BEN_HZ, true);
  const cat = await join(meeting.id, 'Cat', null, false);

  // Slots: Ann and Ben see each other's camera, Cat sees both; nobody sees Cat (camera off).
  await waitFor(() => ann.filledSlots === 1 && ben.filledSlots === 1 && cat.filledSlots === 2, 10_000, 'the slot tables');
  const videoBefore = cat.counters.videoIn;
  await waitFor(() => cat.counters.videoIn > videoBefore + 40 && ann.counters.videoIn > 20 && ben.counters.videoIn > 20, 10_000, 'forwarded video');

  // Audio: Cat's mix holds both tones; Ann's holds Ben's and not her own.
  const catHears = await nextMix(cat, 25);
  assert.ok(toneAmplitude(catHears, ANN_HZ) > 1000 && toneAmplitude(catHears, BEN_HZ) > 1000, `Cat hears both: ${toneAmplitude(catHears, ANN_HZ).toFixed(0)}, ${toneAmplitude(catHears, BEN_HZ).toFixed(0)}`);
  const annHears = await nextMix(ann, 25);
  assert.ok(toneAmplitude(annHears, BEN_HZ) > 1000, `Ann hears Ben: ${toneAmplitude(annHears, BEN_HZ).toFixed(0)}`);
  assert.ok(toneAmplitude(annHears, ANN_HZ) < 100, `Ann does not hear herself: ${toneAmplitude(annHears, ANN_HZ).toFixed(0)}`);

  // A mix frame every 20 ms once everyone is in.
  ann.resetGap();
  const audioBefore = ann.counters.audioIn;
  const since = performance.now();
  await waitFor(() => performance.now() - since > 2000, 3000, 'two seconds of mix');
  const perSecond = (ann.counters.audioIn - audioBefore) / ((performance.now() - since) / 1000);
  assert.ok(perSecond > 40 && perSecond < 60, `${perSecond.toFixed(1)} mix packets per second`);
  assert.ok(ann.counters.longestAudioGapMs < 200, `longest gap ${ann.counters.longestAudioGapMs.toFixed(0)} ms`);

  // The relay asked the cameras for keyframes (each viewer's first), and the clients answered.
  assert.ok(ann.counters.keyframeRequests > 0, 'a keyframe request reached the light camera');
  const { relay } = await meetingDetail(server.url, meeting.id);
  assert.ok((relay.packetsReceived ?? 0) > 200 && relay.packets > 200, JSON.stringify(relay));
  assert.ok([ann, ben, cat].every((c) => c.connected && c.failure === undefined));
  for (const c of [ann, ben, cat]) c.close();
});

test('a camera no viewer has a slot for is turned off at its sender, and back on when a slot frees', async () => {
  // Ten cameras, eight slots per viewer, filled in join order: nobody has a slot for the tenth.
  const meeting = await createMeeting(server.url, 'More cameras than slots', 'relay');
  const people: LightClient[] = [];
  for (let i = 1; i <= 10; i++) people.push(await join(meeting.id, `C${i}`, null, true));
  const tenth = people[9]!;
  await waitFor(() => people.every((c) => c.filledSlots === 8), 15_000, 'every slot table full');
  await waitFor(() => tenth.cameraLayers?.[0] === false, 15_000, 'the relay to turn the tenth camera off');
  assert.ok(people.slice(0, 9).every((c) => c.cameraLayers === undefined), 'the cameras someone shows were left alone');
  // The worker's figures reach the coordinator a few times a second.
  await waitFor(async () => (await meetingDetail(server.url, meeting.id)).relay.unwatchedLayers === 1, 5000, 'the meeting to count one camera nobody watches');
  const stopped = tenth.counters.videoOut;

  // The first leaves: everyone but the tenth gets a slot for the tenth's camera, which comes back on.
  people.shift()!.close();
  await waitFor(() => tenth.cameraLayers?.[0] === true, 10_000, 'the relay to turn the tenth camera back on');
  await waitFor(() => tenth.counters.videoOut > stopped + 10, 10_000, 'the tenth camera to send again');
  await waitFor(async () => (await meetingDetail(server.url, meeting.id)).relay.unwatchedLayers === 0, 5000, 'no camera left unwatched');
  for (const c of people) c.close();
});

test('with more cameras than slots, whoever speaks is shown: their camera takes the slot of someone who has not spoken', async () => {
  // Nine silent cameras fill everyone's eight slots; the tenth person talks from the start.
  const meeting = await createMeeting(server.url, 'A speaker beyond the slots', 'relay');
  const people: LightClient[] = [];
  for (let i = 1; i <= 9; i++) people.push(await join(meeting.id, `S${i}`, null, true));
  const talker = await join(meeting.id, 'Talker', 700, true);
  people.push(talker);
  await waitFor(() => people.slice(0, 9).every((c) => c.shows.includes(talker.participantId)), 15_000, "everyone's slots to show the talker").catch((err: Error) => {
    throw new Error(`${err.message}: shown to ${people.filter((c) => c.shows.includes(talker.participantId)).length} of 9`);
  });
  for (const c of people.slice(0, 9)) assert.is(c.filledSlots, 8, 'still eight slots each');
  assert.not.ok(talker.cameraLayers?.[0] === false, "the talker's camera is on");
  // Each viewer gave up a silent camera for the talker (its own choice: the latest joiner shown long enough).
  for (const c of people.slice(0, 9)) assert.is(people.slice(0, 9).filter((o) => o !== c && c.shows.includes(o.participantId)).length, 7, "each shows seven of the eight silent others");
  for (const c of people) c.close();
});

test('a light client refuses a meeting that is not on the relay, with a clear code', async () => {
  const meeting = await createMeeting(server.url, 'Not relay', 'auto');
  const err = await join(meeting.id, 'Dan', 300, false).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, Error);
  assert.is((err as { code?: string }).code, 'NOT_RELAY');
});

test.run();
