/**
 * Recording the meeting's mix: a host starts it in a P2P meeting (which moves to the relay
 * while it records, and says so), everyone sees the indicator, and the file the host
 * downloads holds both people's voices; nobody without the host credential gets it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RecordingInfo } from '../../protocol/rest';
import { toneAmplitude } from '../../relay/audio/tones';
import { browserSuite } from '../helpers/browserSuite';
import { decodeOggOpus } from '../helpers/ogg';
import { assertEveryoneHearsTheOthers, badgeSays, createMeeting, joinAs } from '../helpers/room';
import { api, startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const HOLD_MS = 1500;
const suite = browserSuite(test, () => startServer({ p2pHoldMs: HOLD_MS }));

test('a host records a P2P meeting: it moves to the relay meanwhile, everyone sees it, and the file holds both voices', async () => {
  const meeting = await createMeeting(suite.server.url, 'Recorded');
  const fragment = meeting.hostLink.slice(meeting.hostLink.indexOf('#'));
  const host = await joinAs(suite.browser, suite.server.url, meeting.id, 'Hana', 700, fragment);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1500);
  suite.people.push(host, ben);
  await badgeSays(host, 'p2p');
  assert.is(await ben.page.getByTestId('toggle-recording').count(), 0, 'only hosts can record');

  await host.page.getByTestId('toggle-recording').click();
  for (const p of [host, ben]) {
    await p.page.getByTestId('recording-indicator').waitFor({ timeout: 10_000 });
    await badgeSays(p, 'relay');
  }
  assert.match(await ben.page.getByTestId('path-news').innerText(), /record/, 'the page says why the media moved');
  await assertEveryoneHearsTheOthers([host, ben]);
  const recordFor = Date.now() + 4000;
  await waitFor(() => Date.now() > recordFor, 6000, 'four seconds of recording');
  await host.page.getByTestId('toggle-recording').click();
  for (const p of [host, ben]) await p.page.getByTestId('recording-indicator').waitFor({ state: 'detached', timeout: 10_000 });
  // Released, the meeting of two goes back to P2P after the hold.
  await badgeSays(host, 'p2p', HOLD_MS + 20_000);

  const path = `/api/meetings/${meeting.id}/recordings`;
  assert.is((await api(suite.server.url, 'GET', path)).status, 401, 'no credential');
  const wrong = await api<{ error: { code: string } }>(suite.server.url, 'GET', path, undefined, { authorization: 'Bearer not-the-host' });
  assert.equal([wrong.status, wrong.body.error.code], [403, 'NOT_HOST']);
  const auth = { authorization: `Bearer ${meeting.creatorToken}` };
  const list = await waitFor(async () => {
    const { body } = await api<RecordingInfo[]>(suite.server.url, 'GET', path, undefined, auth);
    return body.length === 1 && body[0]!.bytes > 0 ? body : undefined;
  }, 5000, 'the finished recording to be listed');
  const [recording] = list;
  assert.ok(recording!.durationMs >= 3500, `about four seconds recorded (${recording!.durationMs} ms)`);

  assert.is((await fetch(suite.server.url + recording!.url)).status, 401, 'the file needs the credential too');
  const response = await fetch(suite.server.url + recording!.url, { headers: auth });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', 'audio/ogg');
  const pcm = decodeOggOpus(new Uint8Array(await response.arrayBuffer()));
  assert.ok(pcm.length >= 3 * 48_000, `at least three seconds of audio (${pcm.length} samples)`);
  const middle = pcm.subarray(Math.floor(pcm.length / 4), Math.floor((pcm.length * 3) / 4));
  const [hana, benVoice, nobody] = [toneAmplitude(middle, host.hz), toneAmplitude(middle, ben.hz), toneAmplitude(middle, 1100)];
  assert.ok(hana > 5 * nobody && benVoice > 5 * nobody, `both voices are in the mix (700 Hz ${hana.toFixed(0)}, 1500 Hz ${benVoice.toFixed(0)}, 1100 Hz ${nobody.toFixed(0)})`);
});

test.run();
