/**
 * Media workers for real (the relay on node-datachannel, in worker
 * processes): two relay meetings land on two workers; killing one worker fails only its
 * meeting — its participants are told `relay-closed`, the other meeting's people keep hearing
 * each other without a gap — it is counted in /metrics, and the meeting's people hear each
 * other again on a live worker (mixes decoded, the talkers' tones measured).
 * Participants are light clients (bench/harness/LightClient.ts: our /ws protocol, a native
 * DTLS-SRTP peer replaying Opus).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LightClient } from '../../bench/harness/LightClient';
import { releaseNativePeers } from '../../bench/harness/LightPeer';
import { joinLight } from '../helpers/lightJoin';
import { toneAmplitude } from '../../relay/audio/tones';
import { nextMix } from '../helpers/lightMix';
import { createMeeting } from '../helpers/room';
import { startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

let server: TestServer;
const clients: LightClient[] = [];

test.before(async () => {
  server = await startServer({ mediaWorkers: 2 });
});
test.after(async () => {
  for (const c of clients) c.close();
  releaseNativePeers();
  await server.dispose();
});

/** Each participant's tone, by name (distinct, so a mix shows whose voices it holds). */
const TONES: Record<string, number> = { Ann: 300, Ben: 450, Cat: 600, Dan: 750, Eve: 900, Fay: 1050, Gil: 1200, Hal: 1350 };

async function fill(meetingId: string, names: string[]): Promise<LightClient[]> {
  const joined: LightClient[] = [];
  for (const name of names) {
    const client = await joinLight(server, meetingId, name, TONES[name]!, null);
    clients.push(client);
    joined.push(client);
  }
  return joined;
}

/** Mix packets each client receives per second, over one second. */
async function mixRates(group: LightClient[]): Promise<number[]> {
  const before = group.map((c) => c.counters.audioIn);
  const since = performance.now();
  await waitFor(() => performance.now() - since >= 1000, 2000, 'one second of mix');
  const seconds = (performance.now() - since) / 1000;
  return group.map((c, i) => (c.counters.audioIn - before[i]!) / seconds);
}

async function workerFailures(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^meetmesh_media_worker_failures_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

test('a killed media worker fails only its own meeting, which then works again on a live worker', async () => {
  const a = await createMeeting(server.url, 'On the worker that dies', 'relay');
  const b = await createMeeting(server.url, 'On the other worker', 'relay');
  const inA = await fill(a.id, ['Ann', 'Ben', 'Cat']);
  const inB = await fill(b.id, ['Dan', 'Eve', 'Fay']);
  const workers = server.coordinator.media.workers;
  // One meeting per worker (placement spreads them).
  await waitFor(() => workers.loads().filter((w) => w.meetings === 1).length === 2, 5000, 'one meeting on each worker');
  for (const rate of await mixRates([...inA, ...inB])) assert.ok(rate > 40, `mix at ${rate.toFixed(1)} packets/s before the kill`);
  const failuresBefore = await workerFailures();

  for (const c of inB) c.resetGap();
  assert.ok(await workers.crashWorkerOf(a.id), 'meeting A was on a worker');

  // A's participants hear it from the coordinator; B's mixes go on as if nothing happened.
  await waitFor(() => inA.every((c) => /relay closed the connection/.test(c.failure ?? '')), 5000, "A's participants told relay-closed");
  for (const rate of await mixRates(inB)) assert.ok(rate > 40, `B's mix at ${rate.toFixed(1)} packets/s after the kill`);
  for (const c of inB) {
    assert.ok(c.connected, `${c.failure ?? 'B participant not connected'}`);
    assert.ok(c.counters.longestAudioGapMs < 200, `B's longest audio gap across the kill: ${c.counters.longestAudioGapMs.toFixed(0)} ms`);
  }
  // What Dan hears is still Eve and Fay.
  const danHears = await nextMix(inB[0]!, 25);
  for (const other of ['Eve', 'Fay']) assert.ok(toneAmplitude(danHears, TONES[other]!) > 1000, `Dan hears ${other} after the kill`);
  assert.is(await workerFailures(), failuresBefore + 1);

  // Meeting A comes back: its next relay connections are placed on a live worker.
  const back = await fill(a.id, ['Gil', 'Hal']);
  for (const rate of await mixRates(back)) assert.ok(rate > 40, `A's mix at ${rate.toFixed(1)} packets/s after recovery`);
  assert.ok(back.every((c) => c.connected));
  const gilHears = await nextMix(back[0]!, 25);
  assert.ok(toneAmplitude(gilHears, TONES.Hal!) > 1000, `Gil hears Hal on the recovered relay: ${toneAmplitude(gilHears, TONES.Hal!).toFixed(0)}`);
  assert.ok(toneAmplitude(gilHears, TONES.Gil!) < 100, 'and not himself');
});

test.run();
