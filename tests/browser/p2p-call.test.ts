import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MeetingDetail } from '../../protocol/rest';
import { browserSuite } from '../helpers/browserSuite';
import { ABSENT_DB, assertTonesAbsent, HEARD_DB, toneLevels } from '../helpers/media';
import { assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, createMeeting, joinAs } from '../helpers/room';
import { api, startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const suite = browserSuite(test, () => startServer({}, {}, { turn: true }));

test('two people connect directly: each sees and hears the other, chat goes peer-to-peer, the server relays nothing', async () => {
  const meeting = await createMeeting(suite.server.url, 'Pair');
  const alice = await joinAs(suite.browser, suite.server.url, meeting.id, 'Alice', 700);
  const bob = await joinAs(suite.browser, suite.server.url, meeting.id, 'Bob', 1500);
  suite.people.push(alice, bob);
  const live = suite.server.coordinator.registry.get(meeting.id)!;
  let chatsThroughServer = 0;
  const originalChat = live.chat.bind(live);
  live.chat = (...args) => {
    chatsThroughServer++;
    return originalChat(...args);
  };

  for (const p of [alice, bob]) {
    const badge = p.page.getByTestId('topology-badge');
    await waitFor(async () => (await badge.getAttribute('data-mode')) === 'p2p' && (await badge.innerText()).includes('direct'), 15_000, `${p.name}'s badge to say P2P direct`);
    assert.match(await badge.innerText(), 'P2P');
  }
  await assertEveryoneSeesTheOthers([alice, bob]);
  await assertEveryoneHearsTheOthers([alice, bob]);

  // The overlay proves the path: host candidates on loopback, codecs, resolution, frame rate.
  const overlay = alice.page.getByTestId('stats-overlay');
  await waitFor(async () => (await overlay.innerText()).includes('fps'), 10_000, 'the overlay to show frame rates');
  const text = await overlay.innerText();
  if (process.env.DEBUG_LEVELS) console.log(text);
  assert.match(text, 'peer-to-peer');
  assert.match(text, /host → host/);
  assert.match(text, /(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+/);
  assert.match(text, /opus/i);
  assert.match(text, /VP8|VP9|H264|AV1/i);
  assert.match(text, /\d+×\d+ @ \d+ fps/);

  // Chat over the data channel, once, with name and time.
  await alice.page.getByTestId('chat-input').fill('direct line');
  await alice.page.getByTestId('chat-send').click();
  const line = bob.page.getByTestId('chat-message').filter({ hasText: 'direct line' });
  await line.waitFor();
  assert.is(await line.getByTestId('chat-sender').innerText(), 'Alice');
  assert.match(await line.getByTestId('chat-time').innerText(), /\d{1,2}[:.]\d{2}/);
  await bob.page.getByTestId('chat-input').fill('and back');
  await bob.page.getByTestId('chat-send').click();
  await alice.page.getByTestId('chat-message').filter({ hasText: 'and back' }).waitFor();
  assert.is(await bob.page.getByTestId('chat-message').filter({ hasText: 'direct line' }).count(), 1);
  assert.is(chatsThroughServer, 0, 'P2P chat never passes through the server');

  const detail = (await api<MeetingDetail>(suite.server.url, 'GET', `/api/meetings/${meeting.id}`)).body;
  assert.is(detail.mode, 'p2p');
  assert.is(detail.relay.packets, 0);
  assert.is(detail.relay.bytes, 0);
  const metrics = await (await fetch(suite.server.url + '/metrics')).text();
  assert.match(metrics, /^meetmesh_relay_bytes_total\{mode="p2p"\} 0$/m);
});

test('camera and microphone toggle: the tile goes and comes back, the tone stops and comes back', async () => {
  const meeting = await createMeeting(suite.server.url, 'Toggles');
  const alice = await joinAs(suite.browser, suite.server.url, meeting.id, 'Alice', 700);
  const bob = await joinAs(suite.browser, suite.server.url, meeting.id, 'Bob', 1500);
  suite.people.push(alice, bob);
  await assertEveryoneSeesTheOthers([bob, alice]);
  await assertEveryoneHearsTheOthers([alice, bob]);

  const camera = alice.page.getByTestId('toggle-camera');
  assert.is(await camera.getAttribute('aria-pressed'), 'true');
  await camera.click();
  assert.is(await camera.getAttribute('aria-pressed'), 'false');
  await bob.page.locator('[data-testid="video-tile"][data-participant="Alice"]').waitFor({ state: 'detached' });
  await camera.click();
  assert.is(await camera.getAttribute('aria-pressed'), 'true');
  await assertEveryoneSeesTheOthers([bob, alice]);

  const mic = alice.page.getByTestId('toggle-mic');
  assert.is(await mic.getAttribute('aria-pressed'), 'true');
  await mic.click();
  assert.is(await mic.getAttribute('aria-pressed'), 'false');
  await waitFor(async () => (await toneLevels(bob.page, [alice.hz]))[0]! < ABSENT_DB, 10_000, "Alice's tone to go silent for Bob");
  await mic.click();
  await waitFor(async () => (await toneLevels(bob.page, [alice.hz]))[0]! > HEARD_DB, 10_000, "Alice's tone to come back for Bob");
  // Bob still hears nothing of his own and still sees Alice.
  await assertTonesAbsent(bob.page, [bob.hz], 'Bob must not hear his own voice');
});

test('forced through the bundled TURN server, the call still connects and says so', async () => {
  const meeting = await createMeeting(suite.server.url, 'Via TURN');
  const alice = await joinAs(suite.browser, suite.server.url, meeting.id, 'Alice', 700, '&ice=relay');
  const bob = await joinAs(suite.browser, suite.server.url, meeting.id, 'Bob', 1500, '&ice=relay');
  suite.people.push(alice, bob);
  const badge = alice.page.getByTestId('topology-badge');
  await waitFor(async () => (await badge.innerText()).includes('via TURN'), 20_000, 'the badge to say via TURN');
  const overlay = await alice.page.getByTestId('stats-overlay').innerText();
  assert.ok(/relay → /.test(overlay), `the overlay shows a relayed local candidate:\n${overlay}`);
  await assertEveryoneSeesTheOthers([alice, bob]);
  await assertEveryoneHearsTheOthers([alice, bob]);
});

test('the TURN server refuses a wrong credential', async () => {
  const good = suite.server.coordinator.ice!.iceServersFor('probe');
  const bad = good.map((s) => (s.credential ? { ...s, credential: 'wrong' + s.credential } : s));
  const page = await suite.browser.newPage();
  try {
    await page.goto(suite.server.url + '/');
    const gather = (iceServers: typeof good) =>
      page.evaluate(async (servers) => {
        const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: 'relay' });
        const types: string[] = [];
        pc.onicecandidate = (e) => e.candidate && types.push(e.candidate.type ?? '');
        pc.createDataChannel('probe');
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise<void>((resolve) => {
          if (pc.iceGatheringState === 'complete') resolve();
          pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
        });
        pc.close();
        return types;
      }, iceServers);
    assert.ok((await gather(good)).includes('relay'), 'a valid credential gets a relayed candidate');
    assert.equal(await gather(bad), [], 'a wrong credential gets none');
  } finally {
    await page.close();
  }
});

test.run();
