import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MeetingDetail } from '../../protocol/rest';
import { browserSuite } from '../helpers/browserSuite';
import { assertTonesAbsent, framesOf } from '../helpers/media';
import { assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, createMeeting, joinAs } from '../helpers/room';
import { api, startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const suite = browserSuite(test, () => startServer());

async function relayCounters(id: string): Promise<MeetingDetail['relay']> {
  return (await api<MeetingDetail>(suite.server.url, 'GET', `/api/meetings/${id}`)).body.relay;
}

test('three people in a relay meeting: each hears the two others and not themself, sees them, and chats', async () => {
  const meeting = await createMeeting(suite.server.url, 'Trio', 'relay');
  const group = [
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900),
  ];
  suite.people.push(...group);

  for (const p of group) {
    const badge = p.page.getByTestId('topology-badge');
    await waitFor(async () => (await badge.getAttribute('data-mode')) === 'relay', 10_000, `${p.name}'s badge to say relay`);
    assert.match(await badge.innerText(), 'Relay');
  }
  await assertEveryoneSeesTheOthers(group);
  await assertEveryoneHearsTheOthers(group);

  const overlay = group[0]!.page.getByTestId('stats-overlay');
  await waitFor(async () => (await overlay.innerText()).includes('server relay (connected)'), 10_000, 'the overlay to show the relay');
  const shown = await overlay.innerText();
  if (process.env.DEBUG_LEVELS) console.log(shown);
  assert.match(shown, /remote\s+(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+/);
  // Ann's own share of the relay's delay: how long its jitter buffer holds her voice (a talkspurt
  // starts held at most 40 ms, and a frame waits up to 20 ms more for its tick: never nothing,
  // so 0 would be a mixer that does not measure).
  const voice = group[0]!.page.getByTestId('stats-voice-held');
  await waitFor(async () => (await voice.count()) > 0, 10_000, "the overlay to show how long the relay holds Ann's voice");
  const heldMs = Number(await voice.getAttribute('data-held-ms'));
  assert.ok(Number.isFinite(heldMs) && heldMs > 0 && heldMs < 200, `Ann's voice held ${heldMs} ms`);
  assert.match(await voice.innerText(), /waits \d+ ms at the relay/);

  const before = await relayCounters(meeting.id);
  await waitFor(async () => (await relayCounters(meeting.id)).bytes > before.bytes, 5000, 'relay counters to grow');
  assert.ok(before.packets > 0);

  // Chat through the server reaches both others exactly once.
  for (const [i, sender] of group.entries()) {
    await sender.page.getByTestId('chat-input').fill(`line ${i} from ${sender.name}`);
    await sender.page.getByTestId('chat-send').click();
  }
  for (const reader of group) {
    for (const [i, sender] of group.entries()) {
      const line = reader.page.getByTestId('chat-message').filter({ hasText: `line ${i} from ${sender.name}` });
      await line.waitFor();
      assert.is(await line.count(), 1);
    }
  }
});

test('four people in a relay meeting: everyone hears the three others and sees them', async () => {
  const meeting = await createMeeting(suite.server.url, 'Quartet', 'relay');
  const group = [
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Dan', 2700),
  ];
  suite.people.push(...group);
  await assertEveryoneSeesTheOthers(group);
  await assertEveryoneHearsTheOthers(group);
});

test('two relay meetings at once stay sealed from each other, and one ending leaves the other running', async () => {
  const one = await createMeeting(suite.server.url, 'One', 'relay');
  const two = await createMeeting(suite.server.url, 'Two', 'relay');
  const a = [await joinAs(suite.browser, suite.server.url, one.id, 'Ann', 600), await joinAs(suite.browser, suite.server.url, one.id, 'Ben', 1100)];
  const b = [await joinAs(suite.browser, suite.server.url, two.id, 'Xia', 1900), await joinAs(suite.browser, suite.server.url, two.id, 'Yuri', 2700)];
  suite.people.push(...a, ...b);
  await assertEveryoneHearsTheOthers(a);
  await assertEveryoneHearsTheOthers(b);
  await assertEveryoneSeesTheOthers(a);
  await assertEveryoneSeesTheOthers(b);

  await a[0]!.page.getByTestId('chat-input').fill('only for meeting one');
  await a[0]!.page.getByTestId('chat-send').click();
  await b[0]!.page.getByTestId('chat-input').fill('only for meeting two');
  await b[0]!.page.getByTestId('chat-send').click();
  await a[1]!.page.getByTestId('chat-message').filter({ hasText: 'only for meeting one' }).waitFor();
  await b[1]!.page.getByTestId('chat-message').filter({ hasText: 'only for meeting two' }).waitFor();

  // Nothing of the other meeting: no tone, no tile, no chat line.
  for (const [mine, theirs] of [[a, b], [b, a]] as const) {
    for (const p of mine) {
      await assertTonesAbsent(p.page, theirs.map((t) => t.hz), `${p.name} must hear nothing of the other meeting`);
      for (const t of theirs) assert.is(await p.page.locator(`[data-testid="video-tile"][data-participant="${t.name}"]`).count(), 0);
      assert.is(await p.page.getByTestId('chat-message').filter({ hasText: 'only for meeting ' + (mine === a ? 'two' : 'one') }).count(), 0);
    }
  }

  // Meeting one ends; meeting two keeps going.
  for (const p of a) await p.page.getByTestId('leave-meeting').click();
  await waitFor(async () => (await api<MeetingDetail>(suite.server.url, 'GET', `/api/meetings/${one.id}`)).body.state === 'ended', 5000, 'meeting one to end');
  const frames = await framesOf(b[0]!.page, 'Yuri');
  await waitFor(async () => (await framesOf(b[0]!.page, 'Yuri')) > frames + 10, 5000, 'video in meeting two to keep flowing');
  await assertEveryoneHearsTheOthers(b, 5000);
});

test.run();
