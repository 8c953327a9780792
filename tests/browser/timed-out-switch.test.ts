/**
 * A switch to the relay that commits on its timeout leaves nobody in silence: Ann's relay
 * is held back (her page's `relay-offer`s are refused on her WebSocket, as a relay that
 * cannot take her would), so when Cat joins, the switch commits after SWITCH_TIMEOUT_MS
 * without her. Ann keeps playing P2P, Ben plays the relay and keeps Ann's P2P audio, and
 * when Ann's relay finally comes up both close P2P. The pair's longest audio gap, measured
 * on each page's audio clock over the whole switch, stays under MAX_GAP_MS.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { audioGapProbe, longestAudioGap, pageNow } from '../helpers/audioGaps';
import { newParticipant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { toneInitScript, toneLevels, HEARD_DB } from '../helpers/media';
import { assertEveryoneHearsTheOthers, badgeSays, createMeeting, joinAs, meetingEvents, type Person } from '../helpers/room';
import { PEER_CONNECTION_TAP } from '../helpers/selectedPair';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const SWITCH_TIMEOUT_MS = 3000;
/** How long Ann's relay stays held after the switch committed without her. */
const HELD_AFTER_COMMIT_MS = 4000;
const HZ = { Ann: 600, Ben: 1100, Cat: 1700 } as const;
/**
 * Issue 19's target is 100 ms (38 and 12 ms measured alone); a loaded CI machine adds tens
 * of milliseconds of its own (128 ms seen). The bug this guards against is seconds of
 * silence (5.3 s before the fix), so the test allows scheduling noise above the target.
 */
const MAX_GAP_MS = 250;

const suite = browserSuite(test, () => startServer({ switchTimeoutMs: SWITCH_TIMEOUT_MS }));

/** Joins as Ann with her relay held back until `release()`: each relay offer is answered RELAY_FAILED on her socket. */
async function annWithRelayHeld(meetingId: string): Promise<{ ann: Person; release: () => void; refused: () => number }> {
  const participant = await newParticipant(suite.browser, { initScript: `${toneInitScript(HZ.Ann)}\n${audioGapProbe([HZ.Ben])}\n${PEER_CONNECTION_TAP}` });
  let held = true;
  let refused = 0;
  await participant.context.routeWebSocket(/\/ws$/, (ws) => {
    const coordinator = ws.connectToServer();
    ws.onMessage((message) => {
      if (held && typeof message === 'string') {
        const m = JSON.parse(message) as { type?: string; id?: number };
        if (m.type === 'relay-offer') {
          refused += 1;
          ws.send(JSON.stringify({ type: 'error', id: m.id, code: 'RELAY_FAILED', message: 'held back by the test' }));
          return;
        }
        if (m.type === 'relay-candidate') return;
      }
      coordinator.send(message);
    });
  });
  await participant.page.goto(`${suite.server.url}/m/${meetingId}?name=Ann&video=320x240`);
  await participant.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
  return { ann: { ...participant, name: 'Ann', hz: HZ.Ann }, release: () => { held = false; }, refused: () => refused };
}

/** Peer connections of the page that are still open (P2P and relay). */
const openConnections = (p: Person) => p.page.evaluate(() => ((window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? []).filter((pc) => pc.connectionState !== 'closed').length);

test('a switch that commits on its timeout: the P2P pair keeps hearing each other until the relay carries them', async () => {
  const meeting = await createMeeting(suite.server.url, 'Timed-out switch');
  const { ann, release, refused } = await annWithRelayHeld(meeting.id);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', HZ.Ben, '', `${audioGapProbe([HZ.Ann])}\n${PEER_CONNECTION_TAP}`);
  suite.people.push(ann, ben);
  await badgeSays(ann, 'p2p');
  await assertEveryoneHearsTheOthers([ann, ben]);
  const from = { ann: await pageNow(ann.page), ben: await pageNow(ben.page) };

  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', HZ.Cat);
  suite.people.push(cat);
  // Committed without Ann, on the timeout.
  for (const p of [ann, ben, cat]) await badgeSays(p, 'relay', SWITCH_TIMEOUT_MS + 15_000);
  const [toRelay] = (await meetingEvents(suite.server.url, meeting.id)).filter((e) => e.type === 'mode-switched');
  assert.match(String(toRelay?.detail?.reason), /committed after/, 'the switch committed on its timeout');
  assert.ok(refused() > 0, "Ann's relay was refused");
  const heldUntil = Date.now() + HELD_AFTER_COMMIT_MS;
  await waitFor(() => Date.now() > heldUntil, HELD_AFTER_COMMIT_MS + 2000, "Ann's relay to stay held a while after the commit");
  // Meanwhile Ben is on the relay (he hears Cat) and Ann is not (she does not).
  await waitFor(async () => (await toneLevels(ben.page, [HZ.Cat]))[0]! > HEARD_DB, 10_000, 'Ben to hear Cat on the relay');
  assert.ok((await toneLevels(ann.page, [HZ.Cat]))[0]! < HEARD_DB, "Ann cannot hear Cat: her relay is held back");

  release();
  await assertEveryoneHearsTheOthers([ann, ben, cat], 20_000);
  // Both close P2P once both play the relay: one connection each is left.
  await waitFor(async () => (await openConnections(ann)) === 1 && (await openConnections(ben)) === 1, 10_000, 'Ann and Ben to close their P2P connection');

  const gaps = {
    'Ann hears Ben': await longestAudioGap(ann.page, HZ.Ben, from.ann, await pageNow(ann.page)),
    'Ben hears Ann': await longestAudioGap(ben.page, HZ.Ann, from.ben, await pageNow(ben.page)),
  };
  console.log(`longest audio gaps over the timed-out switch: ${JSON.stringify(gaps)}`);
  for (const [who, gap] of Object.entries(gaps)) assert.ok(gap <= MAX_GAP_MS, `${who}: longest gap ${Math.round(gap)} ms (at most ${MAX_GAP_MS})`);
});

test.run();
