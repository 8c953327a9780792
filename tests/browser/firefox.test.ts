/**
 * Firefox ESR in a meeting with Chromium, as DESIGN.md's third round asks: on P2P, on the
 * relay, and across the switch both ways, checked as a user would (pictures moving, each
 * voice heard at its own tone). Firefox publishes one layer to the relay
 * (client/media/simulcast.ts `canSimulcast`); the relay forwards Chromium's to it as usual.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { audioClockSlip, audioGapProbe, longestAudioGap, longestVideoFreeze, pageNow } from '../helpers/audioGaps';
import { launchBrowser } from '../helpers/browser';
import { joinWithFirefox, launchFirefox, type Firefox, type FirefoxPerson } from '../helpers/firefox';
import { assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, meetingEvents, type Member, type Person } from '../helpers/room';
import { startServer, type TestServer } from '../helpers/server';

const HOLD_MS = 1500;
/** The tones: Fay in Firefox, Ann and Cat in Chromium. */
const HZ = { Fay: 800, Ann: 1300, Cat: 1900 };
/**
 * Across a switch, the longest a voice may go unheard and a camera may stand still (on the
 * page's own clocks). Generous on purpose: on this shared 2-core machine under load 10–14,
 * switches to the relay took 6–8 s and gaps up to 3.9 s were measured, mostly Firefox's own
 * audio clock stalling (the slip logged beside them; README, "Firefox"). What it rules out is
 * a switch that leaves Firefox without the others, or them without Firefox, for longer;
 * bench/switch-gap.ts measures switch gaps (Chromium).
 */
const MAX_GAP_MS = 6000;

let server: TestServer;
let chromium: Browser;
let firefox: Firefox;
const people: Array<Person | FirefoxPerson> = [];

test.before(async () => {
  server = await startServer({ p2pHoldMs: HOLD_MS });
  chromium = await launchBrowser();
  firefox = await launchFirefox();
});
test.after.each(async () => {
  for (const p of people.splice(0)) await p.context.close().catch(() => {});
});
test.after(async () => {
  try {
    await firefox?.close();
    await chromium?.close();
  } finally {
    await server?.dispose();
  }
});

/** Fay (Firefox) and Ann (Chromium) in a new meeting, each page probing the other's voice and camera. */
async function firefoxAndChromium(title: string): Promise<[FirefoxPerson, Person, string]> {
  const meeting = await createMeeting(server.url, title);
  const fay = await joinWithFirefox(firefox, server.url, meeting.id, 'Fay', HZ.Fay, '', audioGapProbe([HZ.Ann], ['Ann']));
  const ann = await joinAs(chromium, server.url, meeting.id, 'Ann', HZ.Ann, '', audioGapProbe([HZ.Fay], ['Fay']));
  people.push(fay, ann);
  return [fay, ann, meeting.id];
}

/** What a switch cost between two people: the longest gap per direction, and each page's audio clock slip over it. */
interface SwitchCost {
  gaps: Record<string, number>;
  /** Audio the page's machine did not render in time (a starved audio thread): it reads as a gap in every voice. */
  slips: Record<string, number>;
}

/** Runs `act` (a switch) and measures, per direction between `a` and `b`, the longest audio gap and video freeze while it ran. */
async function acrossSwitch(a: Member, b: Member, act: () => Promise<void>): Promise<SwitchCost> {
  const from = await Promise.all([pageNow(a.page), pageNow(b.page)]);
  await act();
  const to = await Promise.all([pageNow(a.page), pageNow(b.page)]);
  return {
    gaps: {
      [`${a.name} hears ${b.name}`]: await longestAudioGap(a.page, b.hz, from[0], to[0]),
      [`${b.name} hears ${a.name}`]: await longestAudioGap(b.page, a.hz, from[1], to[1]),
      [`${a.name} sees ${b.name}`]: await longestVideoFreeze(a.page, b.name, from[0], to[0]),
      [`${b.name} sees ${a.name}`]: await longestVideoFreeze(b.page, a.name, from[1], to[1]),
    },
    slips: {
      [a.name]: await audioClockSlip(a.page, from[0], to[0]),
      [b.name]: await audioClockSlip(b.page, from[1], to[1]),
    },
  };
}

function assertContinuous({ gaps, slips }: SwitchCost, what: string): void {
  console.log(`  ${what}: longest gap (ms) ${JSON.stringify(gaps)}; audio clock slip (ms) ${JSON.stringify(slips)}`);
  for (const [who, ms] of Object.entries(gaps)) assert.ok(ms <= MAX_GAP_MS, `${what}: ${who}: longest gap ${ms} ms > ${MAX_GAP_MS} ms`);
}

test('Firefox and Chromium on P2P: each sees and hears the other, the server relays nothing', async () => {
  const [fay, ann, id] = await firefoxAndChromium('Firefox pair');
  await badgeSays(fay, 'p2p');
  await badgeSays(ann, 'p2p');
  await assertEveryoneSeesTheOthers([fay, ann]);
  await assertEveryoneHearsTheOthers([fay, ann]);
  assert.is((await meetingDetail(server.url, id)).relay.packets, 0, 'nothing relayed while P2P');
});

test('a third (Chromium) joins: Firefox moves to the relay and back to P2P with the others, seeing and hearing them throughout', async () => {
  const [fay, ann, id] = await firefoxAndChromium('Firefox switch');
  await badgeSays(fay, 'p2p');
  await badgeSays(ann, 'p2p');
  await assertEveryoneSeesTheOthers([fay, ann]);
  await assertEveryoneHearsTheOthers([fay, ann]);

  let cat: Person | undefined;
  const toRelay = await acrossSwitch(fay, ann, async () => {
    cat = await joinAs(chromium, server.url, id, 'Cat', HZ.Cat);
    people.push(cat);
    for (const p of [fay, ann, cat]) await badgeSays(p, 'relay');
    // Firefox gets the mix of both others and both cameras; both Chromium people get Firefox's.
    await assertEveryoneSeesTheOthers([fay, ann, cat]);
    await assertEveryoneHearsTheOthers([fay, ann, cat]);
  });
  assertContinuous(toRelay, 'P2P → relay');
  assert.match(await fay.tab.$eval('[data-testid="topology-badge"]', (el) => el.textContent ?? ''), 'Relay');
  assert.ok((await meetingDetail(server.url, id)).relay.packets > 0, 'the relay carries the meeting');

  const toP2p = await acrossSwitch(fay, ann, async () => {
    await cat!.page.getByTestId('leave-meeting').click();
    await badgeSays(fay, 'p2p', HOLD_MS + 20_000);
    await badgeSays(ann, 'p2p');
    await assertEveryoneSeesTheOthers([fay, ann]);
    await assertEveryoneHearsTheOthers([fay, ann]);
  });
  assertContinuous(toP2p, 'relay → P2P');
  const switches = (await meetingEvents(server.url, id)).filter((e) => e.type === 'mode-switched').map((e) => e.detail);
  console.log(`  switches: ${JSON.stringify(switches.map((d) => ({ to: d?.to, completed: d?.completed, durationMs: d?.durationMs })))}`);
  assert.equal(switches.map((d) => [d?.to, d?.completed]), [['relay', true], ['p2p', true]], 'both switches completed (every member ready)');
});

test.run();
