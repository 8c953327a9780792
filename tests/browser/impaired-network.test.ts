/**
 * Smoke tests of the impaired-network harness with real Chromium: two browsers in a P2P
 * meeting, forced through the bundled TURN server (`?ice=relay`) behind the UDP impairment
 * proxy, their pages and signaling loaded through the TCP proxy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import { impairedSignaling, impairedTurn, type ImpairedSignaling, type ImpairedTurn } from '../helpers/impair';
import { assertEveryoneHearsTheOthers, createMeeting, joinAs, type Person } from '../helpers/room';
import { startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let net: ImpairedTurn;
let signaling: ImpairedSignaling;
let browser: Browser;
const people: Person[] = [];

test.before(async () => {
  server = await startServer({}, {}, { turn: true });
  net = await impairedTurn(server);
  signaling = await impairedSignaling(server);
  browser = await launchBrowser();
});
test.after.each(async () => {
  for (const p of people.splice(0)) await p.context.close();
  net.proxy.heal();
});
test.after(async () => {
  // Each step even if one before it failed: a server left running would hold the process.
  try {
    await browser.close();
  } finally {
    await Promise.allSettled([signaling.close(), net.close()]);
    await server.dispose();
  }
});

test('forced through TURN behind 5% loss each way, a P2P pair still hears each other', async () => {
  net.proxy.set({ loss: 0.05, delayMs: 20, jitterMs: 5 });
  net.proxy.resetCounters();
  const meeting = await createMeeting(server.url, 'Lossy');
  const alice = await joinAs(browser, signaling.url, meeting.id, 'Alice', 700, '&ice=relay');
  const bob = await joinAs(browser, signaling.url, meeting.id, 'Bob', 1500, '&ice=relay');
  people.push(alice, bob);
  await waitFor(async () => (await alice.page.getByTestId('topology-badge').innerText()).includes('via TURN'), 20_000, 'the badge to say via TURN');
  await assertEveryoneHearsTheOthers([alice, bob]);
  const { up, down } = net.proxy.counters();
  assert.ok(up.out > 200 && down.out > 200, `media crossed the proxy: ${JSON.stringify({ up, down })} (seed ${net.proxy.seed})`);
  assert.ok(up.dropped > 0 && down.dropped > 0, `and some of it was lost: ${JSON.stringify({ up, down })}`);
  assert.ok(signaling.proxy.counters().bytesDown > 0 && signaling.proxy.connectionCount >= 2, 'pages and signaling went through the TCP proxy');
});

test('after a three-second TURN blackout, the call heals by itself once the path is back', async () => {
  const meeting = await createMeeting(server.url, 'Blackout');
  const alice = await joinAs(browser, signaling.url, meeting.id, 'Alice', 700, '&ice=relay');
  const bob = await joinAs(browser, signaling.url, meeting.id, 'Bob', 1500, '&ice=relay');
  people.push(alice, bob);
  await assertEveryoneHearsTheOthers([alice, bob]);
  net.proxy.resetCounters();
  await net.proxy.blackoutFor(3000);
  const { up, down } = net.proxy.counters();
  // Nothing reaches the TURN server, so it has next to nothing to send back either.
  assert.ok(up.dropped > 100 && up.out === 0 && down.out === 0, `the blackout cut all media: ${JSON.stringify({ up, down })}`);
  await assertEveryoneHearsTheOthers([alice, bob], 15_000);
});

test.run();
