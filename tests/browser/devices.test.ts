import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { browserSuite } from '../helpers/browserSuite';
import { ABSENT_DB, assertTonesAbsent, framesOf, HEARD_DB, toneLevels } from '../helpers/media';
import { assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, type Person } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/** The second microphone's tone: far from every person's own. */
const SECOND_MIC_HZ = 2300;

/**
 * Headless Chromium has one fake camera and one fake microphone. This page script plugs
 * in a second of each: a "Second microphone" playing SECOND_MIC_HZ and a red "Second
 * camera" (a canvas), listed by enumerateDevices and opened by getUserMedia when asked by
 * deviceId. `window.__unplug(id)` takes one away as unplugging would: its track ends and
 * the device list changes. It also counts the page's negotiations (setLocalDescription
 * calls, and the connections that made them), to prove a switch renegotiates nothing.
 */
const secondDevicesScript = `(() => {
  const md = navigator.mediaDevices;
  const originalEnumerate = md.enumerateDevices.bind(md);
  const originalGetUserMedia = md.getUserMedia.bind(md);
  const extra = [
    { deviceId: 'second-mic', kind: 'audioinput', label: 'Second microphone', groupId: 'second' },
    { deviceId: 'second-camera', kind: 'videoinput', label: 'Second camera', groupId: 'second' },
  ];
  const unplugged = new Set();
  const opened = new Map();
  const micTrack = () => {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = ${SECOND_MIC_HZ};
    const gain = ctx.createGain();
    gain.gain.value = 0.5;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    void ctx.resume();
    const track = dest.stream.getAudioTracks()[0];
    const stop = track.stop.bind(track);
    track.stop = () => { stop(); void ctx.close(); };
    return track;
  };
  const cameraTrack = () => {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const g = canvas.getContext('2d');
    let n = 0;
    // A changing corner so the canvas keeps producing frames.
    const draw = () => {
      g.fillStyle = 'rgb(220, 20, 20)';
      g.fillRect(0, 0, 320, 240);
      g.fillStyle = n++ % 2 ? 'rgb(180, 0, 0)' : 'rgb(240, 40, 40)';
      g.fillRect(0, 0, 16, 16);
    };
    draw();
    const timer = setInterval(draw, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0];
    const stop = track.stop.bind(track);
    track.stop = () => { clearInterval(timer); stop(); };
    return track;
  };
  const wanted = (c) => {
    const id = c && typeof c === 'object' ? c.deviceId : undefined;
    return id && typeof id === 'object' ? (id.exact ?? id.ideal) : id;
  };
  md.enumerateDevices = async () => [
    ...(await originalEnumerate()),
    ...extra.filter((d) => !unplugged.has(d.deviceId)).map((d) => ({ ...d, toJSON: () => d })),
  ];
  md.getUserMedia = async (constraints) => {
    const audioId = wanted(constraints && constraints.audio);
    const videoId = wanted(constraints && constraints.video);
    const ours = (id) => extra.some((d) => d.deviceId === id);
    for (const id of [audioId, videoId]) if (ours(id) && unplugged.has(id)) throw new DOMException('unplugged', 'NotFoundError');
    const tracks = [];
    if (ours(audioId)) tracks.push(micTrack());
    if (ours(videoId)) tracks.push(cameraTrack());
    for (const t of tracks) opened.set(t, t.kind === 'audio' ? audioId : videoId);
    const rest = { audio: ours(audioId) ? false : constraints.audio ?? false, video: ours(videoId) ? false : constraints.video ?? false };
    if (rest.audio || rest.video) tracks.push(...(await originalGetUserMedia(rest)).getTracks());
    return new MediaStream(tracks);
  };
  window.__unplug = (id) => {
    unplugged.add(id);
    for (const [track, deviceId] of opened) {
      if (deviceId !== id || track.readyState !== 'live') continue;
      track.stop();
      // stop() fires no 'ended'; a device that goes away does.
      track.dispatchEvent(new Event('ended'));
    }
    md.dispatchEvent(new Event('devicechange'));
  };
  const pcs = new WeakSet();
  window.__negotiation = { connections: 0, descriptions: 0 };
  const setLocal = RTCPeerConnection.prototype.setLocalDescription;
  RTCPeerConnection.prototype.setLocalDescription = function (...args) {
    window.__negotiation.descriptions++;
    if (!pcs.has(this)) { pcs.add(this); window.__negotiation.connections++; }
    return setLocal.apply(this, args);
  };
})();`;

const suite = browserSuite(test, () => startServer());

async function negotiations(p: Person): Promise<{ connections: number; descriptions: number }> {
  return p.page.evaluate(() => (window as unknown as { __negotiation: { connections: number; descriptions: number } }).__negotiation);
}

async function openDevices(p: Person): Promise<void> {
  const button = p.page.getByTestId('toggle-devices');
  if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click();
  await p.page.getByTestId('select-microphone').waitFor();
}

/** Waits until `listener` hears `hz` and no longer hears `goneHz`. */
async function hearsOnly(listener: Person, hz: number, goneHz: number, what: string): Promise<void> {
  await waitFor(async () => {
    const [now, gone] = await toneLevels(listener.page, [hz, goneHz]);
    return now! > HEARD_DB && gone! < ABSENT_DB;
  }, 15_000, what);
}

/** Mean colour of the middle of `name`'s tile on `page`. */
async function tileColor(page: Page, name: string): Promise<[number, number, number] | null> {
  return page.evaluate((n) => {
    const video = document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"] video`);
    if (!video || video.videoWidth === 0) return null;
    const canvas = document.createElement('canvas');
    canvas.width = 32;
    canvas.height = 24;
    const g = canvas.getContext('2d')!;
    g.drawImage(video, video.videoWidth / 4, video.videoHeight / 4, video.videoWidth / 2, video.videoHeight / 2, 0, 0, 32, 24);
    const data = g.getImageData(0, 0, 32, 24).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c]! += data[i + c]!;
    const pixels = data.length / 4;
    return [sum[0]! / pixels, sum[1]! / pixels, sum[2]! / pixels] as [number, number, number];
  }, name);
}

const isRed = (c: [number, number, number] | null): boolean => c !== null && c[0] > 150 && c[1] < 90 && c[2] < 90;

test('in a P2P call, switching the microphone: the other hears the new one and not the old, on the same connection', async () => {
  const meeting = await createMeeting(suite.server.url, 'Mic switch');
  const alice = await joinAs(suite.browser, suite.server.url, meeting.id, 'Alice', 700, '', secondDevicesScript);
  const bob = await joinAs(suite.browser, suite.server.url, meeting.id, 'Bob', 1500, '', secondDevicesScript);
  suite.people.push(alice, bob);
  await badgeSays(alice, 'p2p');
  await assertEveryoneHearsTheOthers([alice, bob]);
  const before = await negotiations(alice);

  await openDevices(alice);
  const mics = alice.page.getByTestId('select-microphone');
  assert.ok((await mics.locator('option').allInnerTexts()).includes('Second microphone'), 'the second microphone is offered by its label');
  assert.is.not(await mics.inputValue(), 'second-mic', 'the microphone in use is selected at first');
  await mics.selectOption('second-mic');
  await hearsOnly(bob, SECOND_MIC_HZ, alice.hz, `Bob to hear Alice's second microphone (${SECOND_MIC_HZ} Hz) instead of ${alice.hz} Hz`);
  assert.is(await mics.inputValue(), 'second-mic');
  assert.is(await alice.page.getByTestId('toggle-mic').getAttribute('aria-pressed'), 'true');

  // The call went on as it was: still P2P, same connection, nothing renegotiated.
  assert.is(await alice.page.getByTestId('topology-badge').getAttribute('data-mode'), 'p2p');
  assert.is(await bob.page.getByTestId('topology-badge').getAttribute('data-mode'), 'p2p');
  assert.equal(await negotiations(alice), before, 'no new connection and no new offer or answer');
  await assertEveryoneSeesTheOthers([alice, bob]);
});

test('in a relay meeting, switching the camera: the other sees the new camera, video keeps moving; a muted microphone switched stays muted', async () => {
  const meeting = await createMeeting(suite.server.url, 'Camera switch', 'relay');
  const alice = await joinAs(suite.browser, suite.server.url, meeting.id, 'Alice', 700, '', secondDevicesScript);
  const bob = await joinAs(suite.browser, suite.server.url, meeting.id, 'Bob', 1500, '', secondDevicesScript);
  suite.people.push(alice, bob);
  await badgeSays(bob, 'relay');
  await assertEveryoneSeesTheOthers([alice, bob]);
  assert.not.ok(isRed(await tileColor(bob.page, 'Alice')), "Alice's fake camera is not red");
  const before = await negotiations(alice);

  // On a phone-sized window the panel fits the screen.
  await alice.page.setViewportSize({ width: 390, height: 760 });
  await openDevices(alice);
  for (const id of ['select-camera', 'select-microphone']) {
    const box = await alice.page.getByTestId(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${id} fits a 390 px wide window (${JSON.stringify(box)})`);
  }

  await alice.page.getByTestId('select-camera').selectOption('second-camera');
  await waitFor(async () => isRed(await tileColor(bob.page, 'Alice')), 15_000, "Bob to see Alice's second (red) camera");
  const frames = await framesOf(bob.page, 'Alice');
  await waitFor(async () => (await framesOf(bob.page, 'Alice')) > frames + 10, 10_000, "Alice's new camera to keep moving on Bob's screen");
  assert.ok(isRed(await tileColor(alice.page, 'Alice')), "Alice's own preview shows the new camera");

  // Muted, then switched: still muted, nothing of either microphone reaches Bob.
  const mic = alice.page.getByTestId('toggle-mic');
  await mic.click();
  await waitFor(async () => (await toneLevels(bob.page, [alice.hz]))[0]! < ABSENT_DB, 10_000, "Alice's tone to go silent for Bob");
  await alice.page.getByTestId('select-microphone').selectOption('second-mic');
  await waitFor(async () => (await alice.page.getByTestId('select-microphone').inputValue()) === 'second-mic', 10_000, 'the second microphone to be in use');
  assert.is(await mic.getAttribute('aria-pressed'), 'false', 'the microphone stays off');
  await assertTonesAbsent(bob.page, [SECOND_MIC_HZ], 'Bob must hear nothing of the muted second microphone');
  await mic.click();
  await hearsOnly(bob, SECOND_MIC_HZ, alice.hz, "Bob to hear Alice's second microphone once she unmutes");

  assert.is(await bob.page.getByTestId('topology-badge').getAttribute('data-mode'), 'relay');
  assert.equal(await negotiations(alice), before, 'no new connection to the relay and no new offer');
});

test('an unplugged microphone falls back to the other one, with a notice, and the other still hears', async () => {
  const meeting = await createMeeting(suite.server.url, 'Unplug');
  const alice = await joinAs(suite.browser, suite.server.url, meeting.id, 'Alice', 700, '', secondDevicesScript);
  const bob = await joinAs(suite.browser, suite.server.url, meeting.id, 'Bob', 1500, '', secondDevicesScript);
  suite.people.push(alice, bob);
  await badgeSays(alice, 'p2p');
  await openDevices(alice);
  await alice.page.getByTestId('select-microphone').selectOption('second-mic');
  await hearsOnly(bob, SECOND_MIC_HZ, alice.hz, "Bob to hear Alice's second microphone");

  await alice.page.evaluate(() => (window as unknown as { __unplug: (id: string) => void }).__unplug('second-mic'));
  const notice = alice.page.getByTestId('room-notice');
  await notice.waitFor({ timeout: 10_000 });
  assert.match(await notice.innerText(), /microphone was disconnected/i);
  await hearsOnly(bob, alice.hz, SECOND_MIC_HZ, `Bob to hear Alice's remaining microphone (${alice.hz} Hz) again`);
  const mics = alice.page.getByTestId('select-microphone');
  await waitFor(async () => !(await mics.locator('option').allInnerTexts()).includes('Second microphone'), 10_000, 'the unplugged microphone to leave the list');
  assert.is.not(await mics.inputValue(), 'second-mic');
  assert.is(await alice.page.getByTestId('toggle-mic').getAttribute('aria-pressed'), 'true');
  assert.is(await bob.page.getByTestId('topology-badge').getAttribute('data-mode'), 'p2p');
});

test.run();
