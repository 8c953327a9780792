/**
 * A meeting with more cameras than a page has relay slots (eight), seen from Chromium: the
 * cameras without a tile are named in a "+N" tile, not left out silently; whoever speaks
 * takes a tile; and a tile given to someone new never shows the picture its reused receiver
 * held of someone else: it is covered until the new person's first picture arrives. The
 * ten others are light participants (bench/harness/LightClient.ts: our signaling and a
 * native peer replaying pre-encoded 320×240 VP8 and Opus): ten Chromium do not run on two cores.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LightClient } from '../../bench/harness/LightClient';
import { releaseNativePeers } from '../../bench/harness/LightPeer';
import { recordVp8, type RecordedVideo } from '../../bench/harness/preEncoded';
import { browserSuite } from '../helpers/browserSuite';
import { joinLight } from '../helpers/lightJoin';
import { framesOf } from '../helpers/media';
import { badgeSays, createMeeting, joinAs } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const suite = browserSuite(test, () => startServer({ mediaWorkers: 1 }));
const clients: LightClient[] = [];
let video: RecordedVideo;

test.before(async () => {
  video = await recordVp8(320, 240, 15, 1);
});
test.after(() => {
  for (const c of clients) c.close();
  releaseNativePeers();
});

/** A light participant with a camera; closed after the file. */
async function joinCamera(meetingId: string, name: string, hz: number | null): Promise<LightClient> {
  const client = await joinLight(suite.server, meetingId, name, hz, video);
  clients.push(client);
  return client;
}

test('more cameras than slots: a "+N" tile names who is not shown, a talker takes a tile, covered until their first picture', async () => {
  const meeting = await createMeeting(suite.server.url, 'A crowd', 'relay');
  // Nine silent cameras: Vic's eight slots show eight of them, in join order.
  for (let i = 1; i <= 9; i++) await joinCamera(meeting.id, `Quiet ${i}`, null);
  const vic = await joinAs(suite.browser, suite.server.url, meeting.id, 'Vic', 600);
  suite.people.push(vic);
  await badgeSays(vic, 'relay');
  const remoteTiles = () => vic.page.locator('[data-testid="video-tile"]:not([data-participant="Vic"])').count();
  await waitFor(async () => (await remoteTiles()) === 8, 20_000, 'eight cameras on Vic\'s screen');
  const more = vic.page.getByTestId('more-tile');
  await more.waitFor({ timeout: 5000 });
  assert.is(await more.getAttribute('data-count'), '1');
  assert.match((await more.getAttribute('title')) ?? '', 'Quiet 9', 'the +1 tile names the camera without a tile');
  assert.is(await vic.page.locator('[data-testid="video-tile"][data-participant="Quiet 9"]').count(), 0);

  // From here, the first time each tile appears: was it covered (data-waiting)?
  await vic.page.evaluate(() => {
    const seen: Record<string, string | null> = {};
    (window as unknown as { firstSeen: Record<string, string | null> }).firstSeen = seen;
    new MutationObserver(() => {
      for (const tile of document.querySelectorAll('[data-testid="video-tile"]')) {
        const name = tile.getAttribute('data-participant') ?? '';
        if (!(name in seen)) seen[name] = tile.getAttribute('data-waiting');
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });

  // A tenth joins talking: after the shown cameras' first seconds, the talker takes a slot.
  await joinCamera(meeting.id, 'Talker', 700);
  await waitFor(async () => (await more.getAttribute('data-count')) === '2', 10_000, 'the +N tile to count the talker while there is no room');
  const talkerTile = vic.page.locator('[data-testid="video-tile"][data-participant="Talker"]');
  await talkerTile.waitFor({ timeout: 20_000 });
  const firstSeen = await vic.page.evaluate(() => (window as unknown as { firstSeen: Record<string, string | null> }).firstSeen['Talker']);
  assert.is(firstSeen, 'picture', "the talker's tile came covered (its receiver held someone else's picture)");
  await waitFor(async () => (await talkerTile.getAttribute('data-waiting')) === null, 10_000, "the talker's first picture to uncover the tile");
  const frames = await waitFor(() => framesOf(vic.page, 'Talker'), 10_000, "the talker's video");
  await waitFor(async () => (await framesOf(vic.page, 'Talker')) > frames + 5, 10_000, "the talker's picture to advance");
  assert.is(await remoteTiles(), 8, 'still eight tiles');
  assert.is(await more.getAttribute('data-count'), '2');
  assert.not.match((await more.getAttribute('title')) ?? '', 'Talker', 'the talker is no longer among those not shown');
});

test.run();
