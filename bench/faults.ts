/**
 * Faults, measured: how the call sounds through impaired networks, and how long it takes
 * to be back after each fault. Browsers are forced through the bundled TURN server behind
 * the user-space UDP impairment proxy (tests/helpers/UdpImpairProxy.ts), so every media
 * datagram crosses it twice; the conditions below are end to end.
 * - longest audio gap each listener hears over 10 s (page audio clock, see harness/browserProbe.ts),
 *   P2P and relay, per condition;
 * - time to hear each other again after a media blackout of 5 s and 10 s (P2P through TURN);
 * - time from the network coming back to the resumed signaling after a 4 s signaling blackout;
 * - time to hear each other again after the relay drops one connection;
 * - time from a server restarted after SIGKILL being up to three people hearing each other.
 * "Back" times are polled from Node (25 ms steps plus a page round trip: ±50 ms).
 * Writes bench-results/faults.{json,md}.
 *
 * Run: npx tsx bench/faults.ts
 */
import { cpus, loadavg } from 'node:os';
import type { Browser } from 'playwright-core';
import type { TopologyPreference } from '../protocol/rest';
import { audioGapProbe, longestAudioGap, pageNow } from '../tests/helpers/audioGaps';
import { launchBrowser } from '../tests/helpers/browser';
import { impairedSignaling, impairedTurn, type ImpairedSignaling, type ImpairedTurn } from '../tests/helpers/impair';
import { toneLevels, HEARD_DB } from '../tests/helpers/media';
import { assertEveryoneHearsTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, type Person } from '../tests/helpers/room';
import { api, freeTcpPort, spawnServerProcess, startServer, tempDbPath, type TestServer } from '../tests/helpers/server';
import { waitFor } from '../tests/helpers/wait';
import { codeState, ensureClientBuilt } from './harness/run';
import { fmt } from './harness/figures';
import { writeResult } from './harness/results';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

// Its traffic stays on loopback, in a network namespace of its own (scripts/privateNetwork.ts).
await runInPrivateNetwork('bench/faults');

const CONDITIONS = [
  { name: 'clean', loss: 0, delayMs: 0, jitterMs: 0 },
  { name: '2% loss, 20±10 ms', loss: 0.02, delayMs: 20, jitterMs: 10 },
  { name: '5% loss, 50±20 ms', loss: 0.05, delayMs: 50, jitterMs: 20 },
  { name: '10% loss, 100±40 ms', loss: 0.1, delayMs: 100, jitterMs: 40 },
];
const MEASURED_MS = 10_000;
const HZ = { Alice: 700, Bob: 1500, Cat: 1900 } as const;

interface GapRow { condition: string; path: 'p2p' | 'relay'; aliceHearsBobMs: number | null; bobHearsAliceMs: number | null; error?: string }
interface BackRow { fault: string; backMs: number | null; error?: string }

let server: TestServer;
let net: ImpairedTurn;
let signaling: ImpairedSignaling;
let browser: Browser;

/** Waits until everyone in `group` hears every other; returns how long that took. */
async function timeToHear(group: Person[], timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  for (const listener of group) {
    const others = group.filter((p) => p !== listener).map((p) => p.hz);
    await waitFor(async () => (await toneLevels(listener.page, others)).every((l) => l > HEARD_DB), timeoutMs, `${listener.name} to hear the others`);
  }
  return Date.now() - start;
}

async function pair(title: string, topology: TopologyPreference, probe = ''): Promise<[Person, Person]> {
  const meeting = await createMeeting(server.url, title, topology);
  const alice = await joinAs(browser, signaling.url, meeting.id, 'Alice', HZ.Alice, '&ice=relay', probe);
  const bob = await joinAs(browser, signaling.url, meeting.id, 'Bob', HZ.Bob, '&ice=relay', probe);
  await badgeSays(alice, topology === 'relay' ? 'relay' : 'p2p');
  await assertEveryoneHearsTheOthers([alice, bob]);
  return [alice, bob];
}

async function gaps(condition: (typeof CONDITIONS)[number], path: 'p2p' | 'relay'): Promise<GapRow> {
  const row: GapRow = { condition: condition.name, path, aliceHearsBobMs: null, bobHearsAliceMs: null };
  let people: Person[] = [];
  try {
    people = await pair(`${path} ${condition.name}`, path === 'relay' ? 'relay' : 'auto', audioGapProbe([HZ.Alice, HZ.Bob]));
    const [alice, bob] = people as [Person, Person];
    net.proxy.set({ loss: 1 - Math.sqrt(1 - condition.loss), delayMs: condition.delayMs / 2, jitterMs: condition.jitterMs / 2 });
    const settle = Date.now() + 2000;
    await waitFor(() => Date.now() > settle, 3000, 'the jitter buffers to adapt');
    const from = [await pageNow(alice.page), await pageNow(bob.page)];
    const until = Date.now() + MEASURED_MS;
    await waitFor(() => Date.now() > until, MEASURED_MS + 2000, 'the measured window');
    row.aliceHearsBobMs = await longestAudioGap(alice.page, HZ.Bob, from[0]!, await pageNow(alice.page));
    row.bobHearsAliceMs = await longestAudioGap(bob.page, HZ.Alice, from[1]!, await pageNow(bob.page));
  } catch (err) {
    row.error = (err as Error).message;
  } finally {
    net.proxy.heal();
    for (const p of people) await p.context.close().catch(() => {});
  }
  console.log(`  ${path} ${condition.name}: longest gap Alice←Bob ${fmt(row.aliceHearsBobMs)} ms, Bob←Alice ${fmt(row.bobHearsAliceMs)} ms${row.error ? ` (${row.error})` : ''}`);
  return row;
}

async function measure(fault: string, run: () => Promise<number>): Promise<BackRow> {
  const row: BackRow = { fault, backMs: null };
  try {
    row.backMs = await run();
  } catch (err) {
    row.error = (err as Error).message;
  }
  console.log(`  ${fault}: back after ${fmt(row.backMs)} ms${row.error ? ` (${row.error})` : ''}`);
  return row;
}

async function mediaBlackout(ms: number): Promise<number> {
  const people = await pair(`blackout ${ms}`, 'auto');
  try {
    await net.proxy.blackoutFor(ms);
    return await timeToHear(people);
  } finally {
    for (const p of people) await p.context.close().catch(() => {});
  }
}

async function signalingBlackout(): Promise<number> {
  const people = await pair('signaling blackout', 'auto');
  const [alice] = people;
  try {
    signaling.proxy.blackout(true);
    signaling.proxy.cut();
    await waitFor(async () => (await alice.page.getByTestId('room-notice').innerText().catch(() => '')).includes('Reconnecting'), 10_000, 'Reconnecting…');
    const dark = Date.now() + 4000;
    await waitFor(() => Date.now() > dark, 5000, 'four seconds of blackout');
    signaling.proxy.blackout(false);
    const back = Date.now();
    await alice.page.getByTestId('room-notice').waitFor({ state: 'detached', timeout: 30_000 });
    return Date.now() - back;
  } finally {
    signaling.proxy.blackout(false);
    for (const p of people) await p.context.close().catch(() => {});
  }
}

async function relayDrop(): Promise<number> {
  const meeting = await createMeeting(server.url, 'relay drop', 'relay');
  const people = [
    await joinAs(browser, server.url, meeting.id, 'Alice', HZ.Alice),
    await joinAs(browser, server.url, meeting.id, 'Bob', HZ.Bob),
    await joinAs(browser, server.url, meeting.id, 'Cat', HZ.Cat),
  ];
  try {
    await timeToHear(people);
    const bobId = (await meetingDetail(server.url, meeting.id)).participants.find((p) => p.name === 'Bob')!.id;
    server.coordinator.media.dropRelayConnection(meeting.id, bobId);
    return await timeToHear(people);
  } finally {
    for (const p of people) await p.context.close().catch(() => {});
  }
}

async function serverRestart(): Promise<number> {
  const port = await freeTcpPort();
  const db = tempDbPath();
  const base = `http://127.0.0.1:${port}`;
  let child = spawnServerProcess(port, db.dbPath);
  const people: Person[] = [];
  try {
    await waitFor(async () => (await api(base, 'GET', '/api/health').catch(() => ({ status: 0 }))).status === 200, 30_000, 'the server');
    const meeting = await createMeeting(base, 'restart');
    for (const [name, hz] of Object.entries(HZ)) people.push(await joinAs(browser, base, meeting.id, name, hz));
    for (const p of people) await badgeSays(p, 'relay');
    await timeToHear(people);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    child = spawnServerProcess(port, db.dbPath);
    await waitFor(async () => (await api(base, 'GET', '/api/health').catch(() => ({ status: 0 }))).status === 200, 30_000, 'the server again');
    return await timeToHear(people);
  } finally {
    child.kill('SIGKILL');
    for (const p of people) await p.context.close().catch(() => {});
    db.remove();
  }
}

ensureClientBuilt();
const loadStart = loadavg();
server = await startServer({}, {}, { turn: true });
net = await impairedTurn(server, { seed: 1 });
signaling = await impairedSignaling(server);
browser = await launchBrowser();
const gapRows: GapRow[] = [];
const backRows: BackRow[] = [];
try {
  console.log('longest audio gap over 10 s, through TURN behind the impairment proxy:');
  for (const condition of CONDITIONS) for (const path of ['p2p', 'relay'] as const) gapRows.push(await gaps(condition, path));
  console.log('time until everyone hears everyone again:');
  backRows.push(await measure('media blackout 5 s (P2P via TURN), from its end', () => mediaBlackout(5000)));
  backRows.push(await measure('media blackout 10 s (P2P via TURN), from its end', () => mediaBlackout(10_000)));
  backRows.push(await measure('signaling blackout 4 s, from its end to resumed', signalingBlackout));
  backRows.push(await measure('relay drops one connection (3 on the relay)', relayDrop));
  backRows.push(await measure('server SIGKILL + restart (3 on the relay), from up', serverRestart));
} finally {
  await browser.close();
  await Promise.allSettled([signaling.close(), net.close()]);
  await server.dispose();
}

const result = {
  benchmark: 'faults',
  at: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage: { start: loadStart, end: loadavg() } },
  code: codeState(),
  measuredMs: MEASURED_MS,
  gaps: gapRows,
  recovery: backRows,
};
const md = [
  '# Faults', '',
  `Longest audio gap a listener hears over ${MEASURED_MS / 1000} s, every connection through TURN behind the impairment proxy (end-to-end figures):`, '',
  '| condition | path | Alice hears Bob | Bob hears Alice |', '| --- | --- | --- | --- |',
  ...gapRows.map((r) => `| ${r.condition} | ${r.path} | ${fmt(r.aliceHearsBobMs)} ms | ${fmt(r.bobHearsAliceMs)} ms${r.error ? ` (${r.error})` : ''} |`),
  '', 'Time until everyone hears everyone again:', '',
  '| fault | back after |', '| --- | --- |',
  ...backRows.map((r) => `| ${r.fault} | ${r.backMs === null ? `failed: ${r.error}` : `${fmt(r.backMs)} ms`} |`),
  '',
].join('\n');
console.log(`\nwrote ${writeResult('faults.json', JSON.stringify(result, null, 2))} and ${writeResult('faults.md', md)}`);
