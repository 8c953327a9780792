/** The client's simulcast offer: what it declares, and that the relay reads the layers from it in order. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canSimulcast, declareSimulcast, layerMaxBitrate, simulcastLayersFor } from '../../client/media/simulcast';
import { offeredMedia } from '../../relay/OfferedMedia';

/** The shape of Chromium's relay offer (audio, camera, screen, one slot), trimmed to what matters here. */
const OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1 2 3',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=sendrecv',
  'a=rtpmap:111 opus/48000/2',
  'a=ssrc:1001 cname:abcDEF/123',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'a=mid:1',
  'a=sendonly',
  'a=msid:- 5c1e0d1b-camera',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=ssrc-group:FID 2001 2002',
  'a=ssrc:2001 cname:abcDEF/123',
  'a=ssrc:2001 msid:- 5c1e0d1b-camera',
  'a=ssrc:2002 cname:abcDEF/123',
  'a=ssrc:2002 msid:- 5c1e0d1b-camera',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'a=mid:2',
  'a=sendonly',
  'a=rtpmap:96 VP8/90000',
  'a=ssrc-group:FID 3001 3002',
  'a=ssrc:3001 cname:abcDEF/123',
  'a=ssrc:3002 cname:abcDEF/123',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:3',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  '',
].join('\r\n');

test('the camera m-line declares the layers as one SIM group, lowest first, with the original cname and msid and no RTX', () => {
  const sdp = declareSimulcast(OFFER, 1, [11, 22, 33])!;
  const camera = sdp.split('\r\nm=')[2]!;
  assert.ok(camera.includes('a=ssrc-group:SIM 11 22 33'));
  assert.not.ok(camera.includes('FID'));
  assert.not.ok(/a=ssrc:200[12]/.test(camera));
  for (const ssrc of [11, 22, 33]) {
    assert.ok(sdp.includes(`a=ssrc:${ssrc} cname:abcDEF/123\r\n`));
    assert.ok(sdp.includes(`a=ssrc:${ssrc} msid:- 5c1e0d1b-camera\r\n`));
  }
  // Everything else stays as written.
  assert.ok(camera.includes('a=msid:- 5c1e0d1b-camera\r\na=rtpmap:96 VP8/90000'));
  assert.ok(sdp.includes('a=ssrc-group:FID 3001 3002'));
  assert.ok(sdp.endsWith('a=rtpmap:96 VP8/90000\r\n'));
  assert.is(sdp.split('\r\n').filter((l) => l === '').length, 1, 'no blank line but the final line break');

  const media = offeredMedia(sdp);
  assert.equal(media.map((m) => m.ssrcs), [[1001], [11, 22, 33], [3001], []]);
});

test('a last m-line rewritten keeps the final line break; an m-line without a cname is left to the caller', () => {
  const lastIsCamera = OFFER.split('\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:2')[0] + '\r\n';
  const sdp = declareSimulcast(lastIsCamera, 1, [5, 6])!;
  assert.ok(sdp.endsWith('a=ssrc:6 msid:- 5c1e0d1b-camera\r\n'));
  assert.is(declareSimulcast(OFFER, 3, [5, 6]), null);
  assert.is(declareSimulcast(OFFER, 9, [5, 6]), null);
});

test('as many layers as libwebrtc sends for the capture size, the full size always among them', () => {
  assert.is(simulcastLayersFor(320, 240), 1);
  assert.is(simulcastLayersFor(640, 480), 2);
  assert.is(simulcastLayersFor(640, 360), 2);
  assert.is(simulcastLayersFor(960, 540), 3);
  assert.is(simulcastLayersFor(1280, 720), 3);
  // The top layer carries the picture; the ones below stay lean for tight downlinks.
  assert.is(layerMaxBitrate(640, 480, true), 1_200_000);
  assert.ok(Math.abs(layerMaxBitrate(320, 240, true) - 424_000) < 1000);
  assert.is(layerMaxBitrate(160, 120, false), 45_000);
  assert.ok(Math.abs(layerMaxBitrate(320, 240, false) - 103_400) < 1000);
  // Three lean 320×240 layers take well under 40% of three 640×480 top layers.
  assert.ok(3 * layerMaxBitrate(320, 240, false) < 0.4 * 3 * layerMaxBitrate(640, 480, true));
});

test('only Chromium publishes layers; Firefox keeps its one', () => {
  assert.ok(canSimulcast('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36'));
  assert.ok(canSimulcast('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 Edg/156.0.0.0'));
  assert.not.ok(canSimulcast('Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'));
  assert.not.ok(canSimulcast('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15'));
});

test.run();
