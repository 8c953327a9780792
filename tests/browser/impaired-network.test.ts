/**
 * Impaired networks, for real: browsers forced through the bundled TURN server
 * (`?ice=relay`, on the P2P path and on the relay path alike) behind the user-space UDP
 * impairment proxy (this kernel has no netem). Media crosses the proxy twice on its way
 * from one browser to the other (the sender's leg and the receiver's leg), so each leg
 * gets half the delay and the loss that compounds to the end-to-end figure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { audioGapProbe, longestAudioGap, pageNow } from '../helpers/audioGaps';
import { browserSuite } from '../helpers/browserSuite';
import { impairedSignaling, impairedTurn, type ImpairedSignaling, type ImpairedTurn } from '../helpers/impair';
import { assertChatShownOnce, assertEveryoneHearsTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, meetingEvents, sendChat, type Person } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import type { TopologyPreference } from '../../protocol/rest';

/** End to end: 5% loss, 50 ± 20 ms delay. */
const END_TO_END = { loss: 0.05, delayMs: 50, jitterMs: 20 };
const PER_LEG = { loss: 1 - Math.sqrt(1 - END_TO_END.loss), delayMs: END_TO_END.delayMs / 2, jitterMs: END_TO_END.jitterMs / 2 };
const MEASURED_MS = 10_000;
const ADAPT_MS = 3000;
const MAX_GAP_MS = 100;
const HZ = { Alice: 700, Bob: 1500 } as const;

const suite = browserSuite(test, () => startServer({}, {}, { turn: true }));
// Set once the server is up (in front of its TURN and its signaling), closed after it
// (`?.` in the cleanup: a start that failed half way left them unset).
let net!: ImpairedTurn;
let signaling!: ImpairedSignaling;
test.before(async () => {
  net = await impairedTurn(suite.server);
  signaling = await impairedSignaling(suite.server);
});
test.after.each(() => {
  net?.proxy.heal();
});
test.after(async () => {
  await Promise.allSettled([signaling?.close(), net?.close()]);
});

/** Alice and Bob in a new meeting, every connection through TURN, each page probing the other's tone. */
async function pair(title: string, topology: TopologyPreference): Promise<[Person, Person]> {
  const meeting = await createMeeting(suite.server.url, title, topology);
  const probe = audioGapProbe([HZ.Alice, HZ.Bob]);
  const alice = await joinAs(suite.browser, signaling.url, meeting.id, 'Alice', HZ.Alice, '&ice=relay', probe);
  const bob = await joinAs(suite.browser, signaling.url, meeting.id, 'Bob', HZ.Bob, '&ice=relay', probe);
  suite.people.push(alice, bob);
  await badgeSays(alice, topology === 'relay' ? 'relay' : 'p2p');
  await assertEveryoneHearsTheOthers([alice, bob]);
  return [alice, bob];
}

/** Under the end-to-end impairment, the longest silence each one hears of the other stays short. */
async function assertNoLongGaps(title: string, topology: TopologyPreference): Promise<void> {
  const [alice, bob] = await pair(title, topology);
  net.proxy.set(PER_LEG);
  await waitFor(async () => net.proxy.counters().up.dropped > 20, 10_000, 'the impairment to bite');
  // The call is judged on the impaired network, not on the moment it changed: the jitter
  // buffers (the browsers' and the relay mixer's) get a few seconds to adapt first, as in
  // bench/faults.ts. A gap during that change was seen once at 180 ms on the relay path.
  const adapted = Date.now() + ADAPT_MS;
  await waitFor(() => Date.now() > adapted, ADAPT_MS + 2000, 'the jitter buffers to adapt');
  const from = await Promise.all([pageNow(alice.page), pageNow(bob.page)]);
  const until = Date.now() + MEASURED_MS;
  await waitFor(() => Date.now() > until, MEASURED_MS + 2000, `${MEASURED_MS} ms of impaired call`);
  const gaps = {
    'Alice hears Bob': await longestAudioGap(alice.page, HZ.Bob, from[0]!, await pageNow(alice.page)),
    'Bob hears Alice': await longestAudioGap(bob.page, HZ.Alice, from[1]!, await pageNow(bob.page)),
  };
  const { up, down } = net.proxy.counters();
  const meetingId = alice.page.url().split('/m/')[1]!.split('?')[0]!;
  const { relay } = await meetingDetail(suite.server.url, meetingId);
  const uplinkRepair = { askedAgain: relay.packetsAskedAgain ?? 0, recovered: relay.packetsRecovered ?? 0 };
  const mixer = topology === 'relay' ? `; mixer: ${JSON.stringify({ lateTicks: relay.lateTicks, concealedFrames: relay.concealedFrames, latePackets: relay.latePackets })}; uplink video ${JSON.stringify(uplinkRepair)}` : '';
  console.log(`  ${title}: longest audio gap ${JSON.stringify(gaps)} ms; datagrams dropped up ${up.dropped}/${up.in}, down ${down.dropped}/${down.in} (seed ${net.proxy.seed})${mixer}`);
  for (const [who, gap] of Object.entries(gaps)) assert.ok(gap <= MAX_GAP_MS, `${who}: longest gap ${gap} ms > ${MAX_GAP_MS} ms`);
  assert.ok(up.dropped > 0 && down.dropped > 0, 'the path really was lossy');
  // Video lost on the way to the relay is asked for again, and the browsers send it.
  if (topology === 'relay') assert.ok(uplinkRepair.recovered > 0, `the relay recovered packets lost on the publishers' uplinks: ${JSON.stringify(uplinkRepair)}`);
}

test('P2P through TURN, 5% loss and 50±20 ms jitter: no audio gap over 100 ms', async () => {
  await assertNoLongGaps('P2P', 'auto');
});

// The relay path too (once a known defect: 180-250 ms gaps now and then while the relay and
// mixer shared the main thread with TURN and signaling; since they run in media workers,
// 7 of 7 runs stayed at or under 40 ms).
test('relay through TURN, 5% loss and 50±20 ms jitter: no audio gap over 100 ms', async () => {
  await assertNoLongGaps('relay', 'relay');
});

test('a 10 s blackout of the media path: the call recovers by itself, chat sent meanwhile arrives once', async () => {
  const [alice, bob] = await pair('Blackout', 'auto');
  const meetingId = alice.page.url().split('/m/')[1]!.split('?')[0]!;
  net.proxy.blackout(true);
  const start = Date.now();
  await sendChat(alice, 'sent in the dark');
  // Nobody is left silent without a word: during the blackout (ICE notices the loss after a
  // few seconds) the page says its media is reconnecting. The blackout lasts until then, and
  // at least ten seconds.
  await alice.page.getByTestId('media-notice').waitFor({ timeout: 30_000 }).catch(async (err: Error) => {
    // Seen once on a starved CI machine: say what the page showed, for the next one.
    const overlay = await alice.page.getByTestId('stats-overlay').innerText().catch(() => '(no overlay)');
    throw new Error(`${err.message}\n  Alice's overlay: ${JSON.stringify(overlay)}`);
  });
  console.log(`  the page said it was reconnecting ${((Date.now() - start) / 1000).toFixed(1)} s into the blackout`);
  assert.match(await alice.page.getByTestId('media-notice').innerText(), 'Reconnecting');
  await waitFor(() => Date.now() - start >= 10_000, 12_000, 'ten seconds of blackout');
  net.proxy.blackout(false);
  const back = Date.now();
  await assertEveryoneHearsTheOthers([alice, bob], 40_000);
  console.log(`  heard each other again ${((Date.now() - back) / 1000).toFixed(1)} s after the blackout`);
  await assertChatShownOnce(bob, 'sent in the dark');
  await alice.page.getByTestId('media-notice').waitFor({ state: 'detached', timeout: 20_000 });
  const recoveries = (await meetingEvents(suite.server.url, meetingId)).filter((e) => e.type === 'media-recovery' || e.type === 'mode-switched');
  assert.ok(recoveries.length > 0, 'the recovery is in the record');
});

test.run();
