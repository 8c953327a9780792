/**
 * `/metrics` is valid Prometheus text whose counters never go down: a relay meeting with real
 * media (headless libwebrtc clients signalled over the real WebSocket) runs and ends, and
 * every `_total` series read after the end is at least what it was during the meeting.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting, MeetingEventRecord } from '../../protocol/rest';
import { api, startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { joinRelay as joinRelayAs, type RelayMember } from '../helpers/relayJoin';

const MEDIA_MS = 15_000;

let server: TestServer;
const members: RelayMember[] = [];

test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  for (const m of members) m.close();
  await server.dispose();
});

interface Exposition {
  /** Series (name plus labels) → value. */
  samples: Map<string, number>;
  /** Metric name → its `# TYPE`. */
  types: Map<string, string>;
  helps: Set<string>;
}

/** Reads and parses `/metrics` (text format 0.0.4). */
async function scrape(): Promise<Exposition> {
  const text = await (await fetch(server.url + '/metrics')).text();
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

async function joinRelay(meetingId: string, name: string, luma: number): Promise<RelayMember> {
  const member = await joinRelayAs(server.wsUrl, meetingId, name, luma);
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

test.run();
