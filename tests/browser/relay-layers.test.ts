/**
 * Simulcast to the relay and what a viewer tells it, in Chromium: three people on the relay,
 * Ann with a 640×480 camera, which goes out as two layers (320×240 and 640×480), the others
 * at 320×240, which libwebrtc sends as one (two cameras stay small: two shared cores); all
 * still see everyone, each page tells the relay the size it shows each slot at, and a camera
 * turned off and on keeps its layers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import type { SlotView } from '../../protocol/signaling';
import { newParticipant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { framesOf } from '../helpers/media';
import { assertEveryoneSeesTheOthers, badgeSays, createMeeting, meetingDetail, type Person } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const suite = browserSuite(test, () => startServer());
/** The same three people through every test (closed with the browser, not after each test). */
const people: (Person & { views: SlotView[][] })[] = [];

/**
 * Joins with a camera of `video` size, keeping every `relay-view` the page sends (read from
 * the browser's network events, as DevTools shows them: nothing is added to the page).
 */
async function join(meetingId: string, name: string, video: string): Promise<Person & { views: SlotView[][] }> {
  const participant = await newParticipant(suite.browser);
  const views: SlotView[][] = [];
  participant.page.on('websocket', (ws) =>
    ws.on('framesent', ({ payload }) => {
      const message: unknown = JSON.parse(String(payload));
      if (typeof message === 'object' && message !== null && 'type' in message && message.type === 'relay-view' && 'slots' in message) {
        views.push(message.slots as SlotView[]);
        if (process.env.DEBUG_VIEWS) console.log(`${name} relay-view ${JSON.stringify(message.slots)}`);
      }
    }),
  );
  await participant.page.goto(`${suite.server.url}/m/${meetingId}?name=${name}&video=${video}`);
  await participant.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
  return { ...participant, name, hz: 0, views };
}

/** The overlay's "sending" line: how many camera layers go out and their sizes, and how many the relay paused (nobody watches them). */
async function sending(page: Page): Promise<{ layers: number; unwatched: number; text: string }> {
  const line = page.locator('[data-stat="outbound-video"]');
  if ((await line.count()) === 0) return { layers: 0, unwatched: 0, text: '' };
  return { layers: Number(await line.getAttribute('data-layers')), unwatched: Number(await line.getAttribute('data-unwatched-layers')), text: await line.innerText() };
}

/** The picture size of `name`'s camera as it arrives in the page's tile (what the relay forwards now). */
async function pictureOf(page: Page, name: string): Promise<{ width: number; height: number }> {
  return page.$eval(`[data-testid="video-tile"][data-participant="${name}"]:not([data-source="screen"]) video`, (v) => ({ width: (v as HTMLVideoElement).videoWidth, height: (v as HTMLVideoElement).videoHeight }));
}

/** Features `name`'s tile on `viewer`'s screen (a click pins it). */
async function feature(viewer: Person, name: string): Promise<void> {
  await viewer.page.locator(`[data-testid="video-tile"][data-participant="${name}"]`).click();
  await viewer.page.locator(`[data-testid="video-tile"][data-participant="${name}"][data-featured="true"]`).waitFor({ timeout: 5000 });
}

/** Device-pixel sizes of the tiles' videos showing other people, as the page lays them out. */
async function shownSizes(page: Page): Promise<{ width: number; height: number }[]> {
  return page.$$eval('[data-testid="video-tile"]:not(.self) video', (videos) =>
    videos.map((v) => ({ width: Math.round(v.clientWidth * devicePixelRatio), height: Math.round(v.clientHeight * devicePixelRatio) })),
  );
}

test('Chromium sends a 640×480 camera to the relay as two layers and a 320×240 one as one, and everyone still sees everyone', async () => {
  const meeting = await createMeeting(suite.server.url, 'Layers', 'relay');
  people.push(await join(meeting.id, 'Ann', '640x480'), await join(meeting.id, 'Ben', '320x240'), await join(meeting.id, 'Cat', '320x240'));
  for (const p of people) await badgeSays(p, 'relay');

  const ann = people[0]!;
  // The top layer starts once Ann's bandwidth estimate has grown: the time a call takes to ramp up.
  const sent = await waitFor(async () => {
    const s = await sending(ann.page);
    return s.layers >= 2 && s.text.includes('640×480') && s.text.includes('320×240') ? s : null;
  }, 30_000, 'Ann to send a 320×240 and a 640×480 layer').catch(async (err: Error) => {
    throw new Error(`${err.message}; Ann's overlay says "${(await sending(ann.page)).text || 'nothing sent'}"`);
  });
  assert.is(sent.layers, 2, 'Ann sends two layers at 640×480');
  for (const p of people.slice(1)) {
    const one = await waitFor(async () => ((await sending(p.page)).layers > 0 ? sending(p.page) : null), 10_000, `${p.name} to send`);
    assert.is(one.layers, 1, `${p.name} sends one layer at 320×240`);
    assert.match(one.text, '320×240');
  }
  await assertEveryoneSeesTheOthers(people);
});

test('each page tells the relay the size it shows every slot at, and again when the layout changes', async () => {
  const ann = people[0]!;
  // Two others shown: two slots with a size, the rest 0 × 0, matching the tiles on screen.
  const matches = (view: SlotView[] | undefined, sizes: { width: number; height: number }[]) =>
    view !== undefined &&
    view.filter((s) => s.width > 0).length === sizes.length &&
    sizes.every((size) => view.some((s) => Math.abs(s.width - size.width) <= 1 && Math.abs(s.height - size.height) <= 1));
  await waitFor(async () => matches(ann.views.at(-1), await shownSizes(ann.page)), 5000, `Ann's last relay-view to match her tiles (${JSON.stringify(ann.views.at(-1))})`);
  const grid = await shownSizes(ann.page);
  assert.ok(grid.every((s) => s.width >= 160 && s.height >= 90), `tiles are of a plausible size: ${JSON.stringify(grid)}`);
  assert.ok(ann.views.at(-1)!.every((s) => s.mid.length > 0));

  // Pinning Ben makes his tile large and moves the others into the strip: a new view follows.
  // (The overlay covers the grid's top right: out of the way first.)
  await ann.page.getByTestId('toggle-stats').click();
  await waitFor(async () => matches(ann.views.at(-1), await shownSizes(ann.page)), 5000, "Ann's relay-view to settle");
  const sent = ann.views.length;
  await ann.page.locator('[data-testid="video-tile"][data-participant="Ben"]').click();
  await ann.page.locator('[data-testid="video-tile"][data-participant="Ben"][data-featured="true"]').waitFor();
  await waitFor(async () => ann.views.length > sent && matches(ann.views.at(-1), await shownSizes(ann.page)), 5000, "Ann's relay-view to follow the new layout");
  const widths = ann.views.at(-1)!.map((s) => s.width).filter((w) => w > 0).sort((a, b) => a - b);
  assert.ok(widths[1]! > widths[0]! * 1.5, `the large tile is reported larger than the strip tile: ${widths.join(', ')}`);
  // Coalesced: a layout change is one message or two, not one per resize step.
  assert.ok(ann.views.length - sent <= 2, `${ann.views.length - sent} relay-view messages for one layout change`);
});

test('a camera turned off and on again goes out as both layers again, and the others see it', async () => {
  const [ann, ben] = [people[0]!, people[1]!];
  await ann.page.getByTestId('toggle-camera').click();
  await ben.page.locator('[data-testid="video-tile"][data-participant="Ann"]').waitFor({ state: 'detached', timeout: 10_000 });
  await ann.page.getByTestId('toggle-camera').click();
  await ann.page.getByTestId('toggle-stats').click(); // back on: the overlay shows what is sent
  await waitFor(async () => (await sending(ann.page)).layers === 2, 20_000, 'Ann to send two layers again');
  const first = await waitFor(() => framesOf(ben.page, 'Ann'), 20_000, "Ben to decode Ann's camera again").catch(async (err: Error) => {
    const tile = ben.page.locator('[data-testid="video-tile"][data-participant="Ann"]');
    const overlay = await ben.page.getByTestId('stats-overlay').innerText().catch(() => 'no overlay');
    throw new Error(
      `${err.message}; Ben's tile of Ann: ${(await tile.count()) ? `paused=${await tile.getAttribute('data-paused')}` : 'none'}; ` +
        `Ben's last relay-view: ${JSON.stringify(ben.views.at(-1)?.filter((s) => s.width > 0))}; overlay: ${overlay.replace(/\n/g, ' | ')}`,
    );
  });
  await waitFor(async () => (await framesOf(ben.page, 'Ann')) > first + 5, 10_000, "Ann's camera on Ben's screen to advance");
});

test('a camera layer nobody shows large stops being encoded, and comes back as soon as someone shows it large', async () => {
  const [ann, ben, cat] = [people[0]!, people[1]!, people[2]!];
  // Ben and Cat each feature the other: Ann goes to their strips, which her 320×240 layer covers.
  await feature(ben, 'Cat');
  await feature(cat, 'Ben');
  const paused = await waitFor(async () => {
    const s = await sending(ann.page);
    return s.unwatched === 1 && s.layers === 1 ? s : null;
  }, 20_000, "Ann's browser to stop sending her 640×480 layer").catch(async (err: Error) => {
    throw new Error(`${err.message}; Ann's overlay says "${(await sending(ann.page)).text}"; Ben's last relay-view ${JSON.stringify(ben.views.at(-1)?.filter((s) => s.width > 0))}`);
  });
  assert.match(paused.text, '320×240');
  assert.match(paused.text, 'nobody shows you that large');
  const detail = await meetingDetail(suite.server.url, (await ann.page.evaluate(() => location.pathname)).split('/').pop()!);
  assert.is(detail.relay.unwatchedLayers, 1, 'the meeting counts one camera layer nobody watches');
  const metrics = await (await fetch(`${suite.server.url}/metrics`)).text();
  assert.match(metrics, /^meetmesh_relay_unwatched_layers 1$/m);
  // Ben still sees Ann, from her lower layer.
  const before = await framesOf(ben.page, 'Ann');
  await waitFor(async () => (await framesOf(ben.page, 'Ann')) > before + 5, 10_000, "Ann's small tile on Ben's screen to keep moving");
  assert.equal(await pictureOf(ben.page, 'Ann'), { width: 320, height: 240 });

  // Ben features Ann: her browser sends the 640×480 layer again and Ben gets it.
  const asked = Date.now();
  await feature(ben, 'Ann');
  await waitFor(async () => (await pictureOf(ben.page, 'Ann')).width === 640, 15_000, "Ben to get Ann's 640×480 layer back").catch(async (err: Error) => {
    throw new Error(`${err.message}; Ann's overlay says "${(await sending(ann.page)).text}"; Ben gets ${JSON.stringify(await pictureOf(ben.page, 'Ann'))}`);
  });
  console.log(`    Ann's 640×480 layer reached Ben ${Date.now() - asked} ms after he featured her`);
  // Her overlay samples once a second: it says so at its next sample.
  await waitFor(async () => (await sending(ann.page)).unwatched === 0, 5000, "Ann's overlay to stop saying a layer is paused").catch(async (err: Error) => {
    throw new Error(`${err.message}: "${(await sending(ann.page)).text}"`);
  });
  const after = await framesOf(ben.page, 'Ann');
  await waitFor(async () => (await framesOf(ben.page, 'Ann')) > after + 5, 10_000, "Ann's large tile on Ben's screen to move");
});

test.run();
