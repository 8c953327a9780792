/**
 * `/metrics` is valid Prometheus text that counts the whole node and whose counters never go
 * down: a relay meeting with real media (headless libwebrtc clients signalled over the real
 * WebSocket) runs and ends, and every `_total` series read after the end is at least what
 * it was during the meeting; the media worker processes' CPU, memory and media are there
 * per worker, and their counters hold when a worker dies and is started again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingEventRecord } from '../../protocol/rest';
import { api, startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { joinRelay as joinRelayAs, type RelayMember } from '../helpers/relayJoin';

const MEDIA_MS = 15_000;

let server: TestServer;
/** One media worker process, so a worker that died is the one started again. */
let oneWorker: TestServer;
const members: RelayMember[] = [];

test.before(async () => {
  server = await startServer({ mediaWorkers: 2 });
  oneWorker = await startServer({ mediaWorkers: 1 });
});
test.after(async () => {
  for (const m of members) m.close();
  await Promise.all([server.dispose(), oneWorker.dispose()]);
});

interface Exposition {
  /** Series (name plus labels) → value. */
  samples: Map<string, number>;
  /** Metric name → its `# TYPE`. */
  types: Map<string, string>;
  helps: Set<string>;
}

/** Reads and parses `/metrics` (text format 0.0.4). */
async function scrape(from: TestServer = server): Promise<Exposition> {
  const text = await (await fetch(from.url + '/metrics')).text();
  const exposition: Exposition = { samples: new Map(), types: new Map(), helps: new Set() };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\w+) (counter|gauge)$/.exec(line);
    const help = /^# HELP (\w+) \S/.exec(line);
    const sample = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (type) exposition.types.set(type[1]!, type[2]!);
    else if (help) exposition.helps.add(help[1]!);
    else if (sample) exposition.samples.set(sample[1]! + (sample[2] ?? ''), Number(sample[3]));
    else assert.unreachable(`not exposition format: ${JSON.stringify(line)}`);
  }
  return exposition;
}

const nameOf = (series: string) => series.replace(/\{.*$/, '');
const sum = (e: Exposition, name: string) =>
  [...e.samples].filter(([series]) => nameOf(series) === name).reduce((total, [, value]) => total + value, 0);

async function joinRelay(meetingId: string, name: string, luma: number, on: TestServer = server): Promise<RelayMember> {
  const member = await joinRelayAs(on.wsUrl, meetingId, name, luma);
  members.push(member);
  return member;
}

test('every metric has HELP and TYPE; counters end in _total', async () => {
  const e = await scrape();
  const names = new Set([...e.samples.keys()].map(nameOf));
  for (const name of names) {
    assert.ok(e.types.has(name), `${name} has a TYPE`);
    assert.ok(e.helps.has(name), `${name} has a HELP`);
    assert.is(e.types.get(name) === 'counter', name.endsWith('_total'), `${name}: counter if and only if _total`);
  }
  assert.ok(names.has('meetmesh_relay_bytes_total') && names.has('meetmesh_mixer_ticks_total'));
  // The standard process figures, which load tests read the server's CPU from.
  assert.ok(e.samples.get('process_cpu_seconds_total')! > 0, 'process CPU is counted');
  assert.ok(e.samples.get('process_resident_memory_bytes')! > 10e6, 'resident memory is given in bytes');
  // The first worker process starts with the server (as `npm start` does); its own CPU and memory are counted.
  server.coordinator.media.workers.warmUp();
  const worker = await waitFor(async () => {
    const now = await scrape();
    return (now.samples.get('meetmesh_media_worker_resident_memory_bytes{worker="0"}') ?? 0) > 10e6 ? now : undefined;
  }, 10_000, 'the first media worker to report its memory');
  assert.ok(worker.samples.get('meetmesh_media_worker_cpu_seconds_total{worker="0"}')! > 0, "the worker process's CPU is counted");
  assert.is(worker.samples.get('meetmesh_media_workers'), 2);
  assert.ok(
    worker.samples.get('meetmesh_node_cpu_seconds_total')! >= worker.samples.get('process_cpu_seconds_total')! + worker.samples.get('meetmesh_media_worker_cpu_seconds_total{worker="0"}')! - 0.01,
    "the node's CPU is the coordinator's plus its workers'",
  );
  assert.ok(worker.samples.get('meetmesh_node_resident_memory_bytes')! > worker.samples.get('process_resident_memory_bytes')!);
  for (const series of worker.samples.keys()) {
    if (series.startsWith('meetmesh_media_worker_') && nameOf(series) !== 'meetmesh_media_worker_failures_total') assert.match(series, /\{worker="\d+"\}$/, `${series} is labelled by worker`);
  }
});

test('counters never decrease when a relay meeting with media ends; gauges fall back', async () => {
  const before = await scrape();
  const { body: meeting } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Metered', topology: 'relay' });
  const alice = await joinRelay(meeting.id, 'Alice', 60);
  const bob = await joinRelay(meeting.id, 'Bob', 180);
  // Media flows both ways through the relay and the mixer ticks.
  await waitFor(() => alice.client.audibleChunks > 10 && bob.client.audibleChunks > 10, MEDIA_MS, 'the mixes to be heard');
  const during = await waitFor(async () => {
    const e = await scrape();
    return sum(e, 'meetmesh_relay_bytes_total') > sum(before, 'meetmesh_relay_bytes_total') && e.samples.get('meetmesh_mixer_ticks_total')! > 0 ? e : undefined;
  }, MEDIA_MS, 'relayed bytes and mixer ticks in /metrics');
  assert.is(during.samples.get('meetmesh_meetings{mode="relay"}'), 1);
  assert.is(during.samples.get('meetmesh_relay_bytes_total{mode="p2p"}'), 0, 'nothing is relayed for a meeting in P2P');
  // The worker holding the meeting counts its media both ways and its mixer.
  const holder = [0, 1].find((i) => during.samples.get(`meetmesh_media_worker_meetings{worker="${i}"}`) === 1);
  assert.ok(holder !== undefined, 'one worker holds the meeting');
  await waitFor(async () => {
    const e = await scrape();
    const of = (name: string) => e.samples.get(`${name}{worker="${holder}"}`) ?? 0;
    return of('meetmesh_media_worker_relay_packets_in_total') > 0 && of('meetmesh_media_worker_relay_bytes_out_total') > 0 && of('meetmesh_media_worker_mixer_ticks_total') > 0;
  }, MEDIA_MS, "the holding worker's relay and mixer counters");

  alice.socket.send({ type: 'leave' });
  bob.socket.send({ type: 'leave' });
  await waitFor(async () => {
    const { body } = await api<MeetingEventRecord[]>(server.url, 'GET', `/api/meetings/${meeting.id}/events`);
    return body.some((event) => event.type === 'ended');
  }, MEDIA_MS, 'the meeting to end');
  const after = await scrape();

  for (const [series, value] of during.samples) {
    if (!nameOf(series).endsWith('_total')) continue;
    const later = after.samples.get(series);
    assert.ok(later !== undefined && later >= value, `${series}: ${value} during the meeting, ${later} after it ended`);
  }
  assert.ok(sum(after, 'meetmesh_relay_packets_total') > sum(before, 'meetmesh_relay_packets_total'), "the ended meeting's packets still count");
  assert.is(after.samples.get('meetmesh_meetings{mode="relay"}'), 0, 'the meetings gauge falls back');
  assert.is(after.samples.get('meetmesh_participants'), 0, 'the participants gauge falls back');
});

test("a media worker's counters hold when it dies and is started again", async () => {
  const { body: meeting } = await api<CreatedMeeting>(oneWorker.url, 'POST', '/api/meetings', { title: 'Crashed', topology: 'relay' });
  const alice = await joinRelay(meeting.id, 'Alice', 60, oneWorker);
  const bob = await joinRelay(meeting.id, 'Bob', 180, oneWorker);
  const before = await waitFor(async () => {
    const e = await scrape(oneWorker);
    return (e.samples.get('meetmesh_media_worker_relay_packets_in_total{worker="0"}') ?? 0) > 100 ? e : undefined;
  }, MEDIA_MS, 'the worker to count media');
  assert.is(before.samples.get('meetmesh_media_worker_starts_total{worker="0"}'), 1);

  assert.ok(await oneWorker.coordinator.media.workers.crashWorkerOf(meeting.id), 'the meeting was on a worker process');
  const checkMonotonic = (e: Exposition) => {
    for (const [series, value] of before.samples) {
      if (nameOf(series).endsWith('_total')) assert.ok((e.samples.get(series) ?? -1) >= value, `${series}: ${value} before the crash, ${e.samples.get(series)} after`);
    }
  };
  checkMonotonic(await scrape(oneWorker));
  // Their clients offer again (as a browser does on relay-closed): a new process holds the meeting.
  await Promise.all([alice.reconnect(), bob.reconnect()]);
  const after = await waitFor(async () => {
    const e = await scrape(oneWorker);
    checkMonotonic(e);
    const grown = e.samples.get('meetmesh_media_worker_relay_packets_in_total{worker="0"}')! > before.samples.get('meetmesh_media_worker_relay_packets_in_total{worker="0"}')! + 100;
    return e.samples.get('meetmesh_media_worker_starts_total{worker="0"}') === 2 && grown ? e : undefined;
  }, MEDIA_MS, 'the restarted worker to count on from where the dead one stopped');
  assert.ok(after.samples.get('meetmesh_media_worker_resident_memory_bytes{worker="0"}')! > 10e6, 'the new process reports its memory');
  assert.is(after.samples.get('meetmesh_media_worker_failures_total'), 1);
});

test.run();
