/**
 * The operator dashboard in Chromium: without the token it shows only a login form and its
 * API refuses the page; a wrong token is told; with the token the dashboard shows a meeting
 * of two on P2P, then — a third person joins and it switches — on the relay, with a relay
 * bitrate that rises from nothing, and the charts drawn. Two nodes over a real Redis: each
 * dashboard lists the other, and its link opens the other's dashboard.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newParticipant, type Participant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { startRedis } from '../helpers/redis';
import { badgeSays, createMeeting, joinAs } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const TOKEN = 'browser-admin-token-0123456789abcdef';
const suite = browserSuite(test, () => startServer({ adminToken: TOKEN }));
/** The operator's page: it lives from test to test (the second logs in where the first was refused), so it is none of `suite.people`. */
let admin: Participant;

test.before(async () => {
  admin = await newParticipant(suite.browser, { viewport: { width: 1200, height: 900 } });
});

/** The meeting's row on the dashboard: its mode and relay bitrate (bit/s). */
async function row(meetingId: string): Promise<{ mode: string; bitrate: number } | undefined> {
  const tr = admin.page.locator(`[data-testid="admin-meeting"][data-meeting-id="${meetingId}"]`);
  if ((await tr.count()) === 0) return undefined;
  return { mode: (await tr.getAttribute('data-mode')) ?? '', bitrate: Number(await tr.getAttribute('data-bitrate')) };
}

test('without the token: a login form, nothing else, and the API refuses the page', async () => {
  const { page } = admin;
  await page.goto(`${suite.server.url}/admin`);
  await page.getByTestId('admin-login').waitFor({ timeout: 10_000 });
  assert.is(await page.getByTestId('admin-meetings').count(), 0, 'no meetings shown');
  const status = await page.evaluate(async () => (await fetch('/admin/api/state')).status);
  assert.is(status, 401);

  await page.getByTestId('admin-token').fill('not-the-token');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('admin-login-error').waitFor({ timeout: 5000 });
  assert.is(await page.getByTestId('admin-meetings').count(), 0);
  assert.not.ok(page.url().includes('token'), 'nothing of the token in the address');
});

test('with the token: a meeting shows on P2P, then on the relay with a rising bitrate, and the charts are drawn', async () => {
  const { page } = admin;
  await page.getByTestId('admin-token').fill(TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('admin-meetings').waitFor({ timeout: 10_000 });
  assert.is(page.url(), `${suite.server.url}/admin`, 'the address is still the bare page');

  const meeting = await createMeeting(suite.server.url, 'Watched from /admin');
  const ann = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  suite.people.push(ann, ben);
  await badgeSays(ann, 'p2p');
  await waitFor(async () => (await row(meeting.id))?.mode === 'p2p', 10_000, 'the meeting on P2P on the dashboard');
  const onP2p = (await row(meeting.id))!.bitrate;
  assert.is(onP2p, 0, 'nothing relayed on P2P');

  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  suite.people.push(cat);
  for (const p of [ann, ben, cat]) await badgeSays(p, 'relay');
  // Every bitrate the row showed, from P2P on.
  const seen: number[] = [onP2p];
  await waitFor(async () => {
    const now = await row(meeting.id);
    if (now?.mode !== 'relay') return false;
    if (seen.at(-1) !== now.bitrate) seen.push(now.bitrate);
    // Three people with 320x240 video and audio: well above 100 kbit/s once media flows.
    return now.bitrate > 100_000;
  }, 20_000, 'the meeting on the relay with its bitrate on the dashboard');
  assert.ok(seen.at(-1)! > seen[0]!, `the bitrate rose: ${seen.join(' → ')} bit/s`);
  assert.match(await page.locator(`[data-testid="admin-meeting"][data-meeting-id="${meeting.id}"]`).innerText(), /relay/);

  // Every chart drawn; the worker holding the meeting listed with its one meeting, three connections and its memory.
  for (const id of ['chart-participants', 'chart-bitrate', 'chart-cpu', 'chart-late-ticks']) {
    assert.ok((await page.getByTestId(id).locator('canvas').count()) > 0, `${id} is drawn`);
  }
  const workers = page.getByTestId('admin-worker');
  assert.is(await workers.count(), 2, 'both media workers listed');
  const holding = await waitFor(async () => {
    for (const text of await workers.allInnerTexts()) if (/MiB/.test(text) && /\t1\t3\t/.test(text)) return text;
    return undefined;
  }, 10_000, 'the worker holding the meeting with its memory');
  assert.ok(holding);
});

test("with two nodes, each dashboard lists the other and links to it; the link opens the other node's dashboard", async () => {
  const redis = await startRedis();
  const cluster = (nodeId: string) => ({ adminToken: TOKEN, mediaWorkers: 0, cluster: { redisUrl: redis.url, nodeId, heartbeatMs: 200, nodeTtlMs: 800 } });
  const a = await startServer(cluster('node-a'));
  const b = await startServer(cluster('node-b'));
  const viewer = await newParticipant(suite.browser, { viewport: { width: 1200, height: 900 } });
  try {
    const { page } = viewer;
    await page.goto(`${a.url}/admin`);
    await page.getByTestId('admin-token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('[data-testid="admin-node"][data-node-id="node-b"]').waitFor({ timeout: 10_000 });
    assert.is(await page.getByTestId('admin-node-id').innerText(), 'node-a');
    assert.match(await page.locator('[data-testid="admin-node"][data-node-id="node-a"]').innerText(), /this one/);
    const link = page.locator('[data-testid="admin-node"][data-node-id="node-b"] [data-testid="admin-node-link"]');
    assert.is(await link.getAttribute('href'), `${b.url}/admin`);
    await link.click();
    // The session is signed with the token both nodes share: no second login.
    await waitFor(async () => (await page.getByTestId('admin-node-id').count()) > 0 && (await page.getByTestId('admin-node-id').innerText()) === 'node-b', 10_000, "node B's dashboard");
    assert.is(page.url(), `${b.url}/admin`);
    await page.locator('[data-testid="admin-node"][data-node-id="node-a"] [data-testid="admin-node-link"]').waitFor({ timeout: 10_000 });
  } finally {
    await viewer.context.close();
    await Promise.allSettled([a.dispose(), b.dispose()]);
    await redis.stop();
  }
});

test.run();
