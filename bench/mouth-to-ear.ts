/**
 * Mouth-to-ear delay, P2P against the relay, the same two people in one run: Alice's
 * microphone plays tone bursts (200 ms on, 800 ms off) and Bob's page finds each burst's
 * onset in what it hears (the AudioWorklet probe of harness/browserProbe.ts, 5.3 ms blocks). The
 * delay is onset heard minus onset sent, both on the shared wall clock (one browser, so
 * `timeOrigin + now` agree). Sent onsets are the times the microphone's AudioContext
 * renders them (`getOutputTimestamp`), which carries a constant offset of the fake audio
 * path: the difference relay − P2P is exact, the absolute figures are within a few ms.
 *
 * The relay adds: the client's send to the server, the mixer's jitter buffer (holds a
 * talkspurt `depth` frames before playing), the wait for the next 20 ms tick, the decode
 * and re-encode, and the path back.
 *
 * Writes bench-results/mouth-to-ear.{json,md}. Run: npx tsx bench/mouth-to-ear.ts [--bursts 15]
 */
import type { Browser } from 'playwright-core';
import type { TopologyPreference } from '../protocol/rest';
import { launchBrowser, newParticipant, type Participant } from '../tests/helpers/browser';
import { toneInitScript } from '../tests/helpers/media';
import { badgeSays, createMeeting } from '../tests/helpers/room';
import { startServer } from '../tests/helpers/server';
import { waitFor } from '../tests/helpers/wait';
import { codeState, ensureClientBuilt, numberArg } from './harness/run';
import { fmt, round, summarize, type Summary } from './harness/figures';
import { runContext, writeResults } from './harness/results';
import { HEARD_DB, levelTrace, probeInitScript, readProbe } from './harness/browserProbe';

const ALICE_HZ = 900;
const BOB_HZ = 1400;
const PERIOD_MS = 1000;
const ON_MS = 200;
/** A heard onset belongs to a sent one when it comes within this long. */
const MATCH_MS = 600;

interface PathResult {
  path: 'p2p' | 'relay';
  delaysMs: number[];
  summary: Summary;
}

async function measurePath(browser: Browser, baseUrl: string, topology: TopologyPreference, bursts: number): Promise<PathResult> {
  const path = topology === 'relay' ? 'relay' : 'p2p';
  const meeting = await createMeeting(baseUrl, `Mouth to ear ${path}`, topology);
  const link = `${baseUrl}/m/${meeting.id}?video=320x240`;
  const people: Participant[] = [];
  try {
    const alice = await newParticipant(browser, { initScript: toneInitScript(ALICE_HZ, { periodMs: PERIOD_MS, onMs: ON_MS }) });
    people.push(alice);
    await alice.page.goto(`${link}&name=Alice`);
    const bob = await newParticipant(browser, { initScript: `${toneInitScript(BOB_HZ)}\n${probeInitScript({ frequencies: [ALICE_HZ], videoOf: [] })}` });
    people.push(bob);
    await bob.page.goto(`${link}&name=Bob`);
    await badgeSays({ name: 'Bob', page: bob.page, context: bob.context, hz: BOB_HZ }, path);
    // Settle (jitter buffers adapt), then listen to `bursts` bursts.
    const from = await bob.page.evaluate(() => performance.now() + 3000);
    await waitFor(async () => (await bob.page.evaluate(() => performance.now())) > from + bursts * PERIOD_MS + MATCH_MS, (bursts + 8) * PERIOD_MS, `${bursts} bursts`, 250);
    const data = await readProbe(bob.page);
    const aliceOrigin = await alice.page.evaluate(() => performance.timeOrigin);
    const sent = ((await alice.page.evaluate(() => (window as unknown as { __bursts: number[] }).__bursts)) ?? []).map((t) => aliceOrigin + t);
    const to = from + bursts * PERIOD_MS + MATCH_MS;
    const trace = levelTrace(data, ALICE_HZ, from, to);
    // Heard onsets: the first block at or above the threshold after one below it.
    const heard: number[] = [];
    for (let i = 1; i < trace.db.length; i++) {
      if (trace.db[i]! >= HEARD_DB && trace.db[i - 1]! < HEARD_DB) heard.push(data.timeOrigin + trace.t[i]!);
    }
    const start = data.timeOrigin + from;
    const end = data.timeOrigin + from + bursts * PERIOD_MS;
    const delaysMs: number[] = [];
    for (const s of sent.filter((t) => t >= start && t < end)) {
      const h = heard.find((t) => t >= s && t < s + MATCH_MS);
      if (h !== undefined) delaysMs.push(h - s);
    }
    if (delaysMs.length < bursts / 2) throw new Error(`${path}: only ${delaysMs.length} of ${bursts} bursts heard`);
    return { path, delaysMs: delaysMs.map((d) => round(d)), summary: summarize(delaysMs) };
  } finally {
    for (const p of people) await p.context.close().catch(() => {});
  }
}

ensureClientBuilt();
const bursts = numberArg(process.argv, 'bursts') ?? 15;
const server = await startServer();
const browser = await launchBrowser();
let results: PathResult[];
try {
  results = [await measurePath(browser, server.url, 'auto', bursts), await measurePath(browser, server.url, 'relay', bursts)];
} finally {
  await browser.close();
  await server.dispose();
}
const [p2p, relay] = results as [PathResult, PathResult];
const added = (relay.summary.median ?? 0) - (p2p.summary.median ?? 0);
const table = [
  '| path | median ms | min | max | bursts |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...results.map((r) => `| ${r.path} | ${fmt(r.summary.median)} | ${fmt(r.summary.min)} | ${fmt(r.summary.max)} | ${r.delaysMs.length} |`),
  '',
  `The relay adds ${fmt(added)} ms (median against median).`,
].join('\n');
console.log(`\n${table}`);
const result = { name: 'mouth-to-ear', ...runContext(), code: codeState(), bursts, periodMs: PERIOD_MS, onMs: ON_MS, thresholdDb: HEARD_DB, results, relayAddsMs: round(added) };
writeResults('mouth-to-ear', result, `# Mouth-to-ear delay, P2P and relay\n\nTone bursts from Alice's microphone to Bob's ears, onset sent to onset heard (≥ ${HEARD_DB} dB in 5.3 ms blocks).\n\n${table}\n`, false);
