/**
 * Screen share as people see it, in real Chromium (which captures a fake "Entire screen"):
 * the shared screen is its own tile at the others, beside the sharer's camera and shown
 * large, with frames decoded, on P2P, on the relay, and across a live switch; the
 * browser's own "Stop sharing" (the track ends) takes it away everywhere.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { browserSuite } from '../helpers/browserSuite';
import { framesOf } from '../helpers/media';
import { badgeSays, createMeeting, joinAs, meetingDetail, meetingEvents, type Person } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const HOLD_MS = 1500;
/** Keeps the fake screen small: three pages encode and decode on two cores. */
const SMALL_SCREEN = '&screen=640x360';
const suite = browserSuite(test, () => startServer({ p2pHoldMs: HOLD_MS }));

async function join(meetingId: string, name: string, hz: number): Promise<Person> {
  const p = await joinAs(suite.browser, suite.server.url, meetingId, name, hz, SMALL_SCREEN);
  suite.people.push(p);
  return p;
}

const screenTile = (viewer: Person, sharer: Person) =>
  viewer.page.locator(`[data-testid="video-tile"][data-participant="${sharer.name}"][data-source="screen"]`);

async function startSharing(sharer: Person): Promise<void> {
  const button = sharer.page.getByTestId('toggle-screen');
  assert.is(await button.getAttribute('aria-pressed'), 'false');
  await button.click();
  await waitFor(async () => (await button.getAttribute('aria-pressed')) === 'true', 10_000, `${sharer.name}'s share button to show sharing`);
}

/** `viewer` sees `sharer`'s screen as its own, large tile, decoding new frames, and still their camera beside it. */
async function assertSeesScreen(viewer: Person, sharer: Person, timeoutMs = 20_000): Promise<void> {
  const first = await waitFor(() => framesOf(viewer.page, sharer.name, 'screen'), timeoutMs, `${viewer.name} to decode ${sharer.name}'s screen`).catch(async (err: unknown) => {
    // What the viewer had instead: its tiles and its overlay (slots, codecs, bitrates).
    const tiles = await viewer.page.locator('[data-testid="video-tile"]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-participant')}/${e.getAttribute('data-source')}`));
    const overlay = await viewer.page.getByTestId('stats-overlay').innerText().catch(() => 'no overlay');
    const sharerOverlay = await sharer.page.getByTestId('stats-overlay').innerText().catch(() => 'no overlay');
    const detail = await meetingDetail(suite.server.url, (await viewer.page.url()).split('/m/')[1]?.split(/[?#]/)[0] ?? '');
    throw new Error(`${String(err)}\n  tiles: ${tiles.join(', ')}\n  overlay: ${JSON.stringify(overlay)}\n  sharer's overlay: ${JSON.stringify(sharerOverlay)}\n  meeting: ${JSON.stringify(detail)}`);
  });
  await waitFor(async () => (await framesOf(viewer.page, sharer.name, 'screen')) > first + 3, 10_000, `${sharer.name}'s screen on ${viewer.name}'s page to advance`);
  assert.is(await screenTile(viewer, sharer).count(), 1, `${viewer.name} has one screen tile of ${sharer.name}`);
  assert.is(await screenTile(viewer, sharer).getAttribute('data-featured'), 'true', `the screen is the large tile for ${viewer.name}`);
  const camera = await waitFor(() => framesOf(viewer.page, sharer.name, 'camera'), 10_000, `${viewer.name} to still see ${sharer.name}'s camera`);
  await waitFor(async () => (await framesOf(viewer.page, sharer.name, 'camera')) > camera, 10_000, `${sharer.name}'s camera on ${viewer.name}'s page to advance`);
}

/** Ends the capture as the browser's own "Stop sharing" bar does: the track stops and fires `ended`. */
async function stopFromBrowserBar(sharer: Person): Promise<void> {
  await sharer.page.evaluate(() => {
    const video = document.querySelector<HTMLVideoElement>('[data-testid="video-tile"][data-source="screen"].self video');
    const track = video?.srcObject instanceof MediaStream ? video.srcObject.getVideoTracks()[0] : undefined;
    if (!track) throw new Error('no own screen track on the page');
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
  await waitFor(async () => (await sharer.page.getByTestId('toggle-screen').getAttribute('aria-pressed')) === 'false', 10_000, `${sharer.name}'s share button to show stopped`);
}

async function shareEvents(meetingId: string): Promise<string[]> {
  return (await meetingEvents(suite.server.url, meetingId)).filter((e) => e.type.startsWith('screen-share')).map((e) => `${e.type} ${e.participant}`);
}

test('P2P: a shared screen is its own large tile at the other, beside the camera; the browser\'s Stop sharing removes it', async () => {
  const meeting = await createMeeting(suite.server.url, 'Screen P2P');
  const ann = await join(meeting.id, 'Ann', 600);
  const ben = await join(meeting.id, 'Ben', 1100);
  await badgeSays(ann, 'p2p');
  await badgeSays(ben, 'p2p');

  await startSharing(ann);
  await assertSeesScreen(ben, ann);
  assert.is(await ann.page.locator('[data-testid="video-tile"][data-source="screen"]').count(), 1, 'Ann sees her own screen tile');
  assert.is((await meetingDetail(suite.server.url, meeting.id)).relay.packets, 0, 'the screen went peer to peer');

  await stopFromBrowserBar(ann);
  await screenTile(ben, ann).waitFor({ state: 'detached', timeout: 10_000 });
  assert.is(await ben.page.locator('[data-testid="video-tile"][data-source="camera"]').count(), 2, 'Ben is back to the two cameras');
  await waitFor(async () => (await shareEvents(meeting.id)).length === 2, 5000, 'the share to be recorded');
  assert.equal(await shareEvents(meeting.id), ['screen-share-started Ann', 'screen-share-stopped Ann']);
});

test('relay: with three people the screen is forwarded to both others; stopping removes it for both', async () => {
  const meeting = await createMeeting(suite.server.url, 'Screen relay');
  const ann = await join(meeting.id, 'Ann', 600);
  const ben = await join(meeting.id, 'Ben', 1100);
  const cat = await join(meeting.id, 'Cat', 1900);
  for (const p of [ann, ben, cat]) await badgeSays(p, 'relay');

  await startSharing(ben);
  await assertSeesScreen(ann, ben);
  await assertSeesScreen(cat, ben);

  await stopFromBrowserBar(ben);
  await screenTile(ann, ben).waitFor({ state: 'detached', timeout: 10_000 });
  await screenTile(cat, ben).waitFor({ state: 'detached', timeout: 10_000 });
});

test('a switch carries the share: shared on P2P, still shown on the relay when a third joins, and back on P2P', async () => {
  const meeting = await createMeeting(suite.server.url, 'Screen switch');
  const ann = await join(meeting.id, 'Ann', 600);
  const ben = await join(meeting.id, 'Ben', 1100);
  await badgeSays(ben, 'p2p');
  await startSharing(ann);
  await assertSeesScreen(ben, ann);

  const cat = await join(meeting.id, 'Cat', 1900);
  for (const p of [ann, ben, cat]) await badgeSays(p, 'relay');
  await assertSeesScreen(ben, ann);
  await assertSeesScreen(cat, ann);
  assert.is(await ann.page.getByTestId('toggle-screen').getAttribute('aria-pressed'), 'true', 'still sharing after the switch');

  await cat.page.getByTestId('leave-meeting').click();
  await badgeSays(ben, 'p2p', HOLD_MS + 20_000);
  await assertSeesScreen(ben, ann);
});

test.run();
