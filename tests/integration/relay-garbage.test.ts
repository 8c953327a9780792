/**
 * Garbage at the relay's edges: broken offers and ICE candidates given to a real MeetingRelay
 * (node-datachannel) settle as coded errors (or are harmlessly accepted), never as an uncaught
 * exception or a promise that never settles, and the relay still serves a well-formed client
 * afterwards. The well-formed offers come from a libwebrtc client (@roamhq/wrtc), as a
 * browser's would.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MeetingRelay, type AudioSink, type IceCandidateInit } from '../../relay/MeetingRelay';
import { MAX_OFFER_BYTES, MAX_OFFER_M_LINES } from '../../relay/inputChecks';
import { releaseNativeRelay } from '../../relay/RelayPeer';
import { WrtcClient } from '../helpers/wrtcClient';

/** A call that has not settled after this long counts as hung. */
const SETTLE_BUDGET_MS = 5_000;

const quietSink: AudioSink = { addParticipant() {}, removeParticipant() {}, pushPacket() {}, setMuted() {} };
const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors that escaped every call: each test asserts none did. */
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);
process.on('uncaughtException', onEscape);
process.on('unhandledRejection', onEscape);

/** How a call settled: `ok`, the error's code, or `hung`. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('hung'), SETTLE_BUDGET_MS);
  });
  const settled = (async () => {
    try {
      await call();
      return 'ok';
    } catch (error) {
      return (error as { code?: string }).code ?? `uncoded: ${String(error)}`;
    }
  })();
  try {
    return await Promise.race([settled, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A well-formed relay offer (mic, camera, the video slots) from a libwebrtc client, which the test closes. */
async function browserOffer(): Promise<string> {
  const client = new WrtcClient({ luma: 40, watchedSlots: 0, listenAudio: false });
  openClients.add(client);
  return client.createOffer();
}

/**
 * `offer` with recvonly VP8 video m-sections (a slot's, as short as SDP allows) appended until it
 * has `count` m-lines: an offer that is within the size limit and refused only for its m-lines.
 */
function withMLines(offer: string, count: number): string {
  const present = offer.split(/^m=/m).length - 1;
  const extra = (i: number) => `m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:x${i}\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n`;
  return offer + Array.from({ length: count - present }, (_, i) => extra(i)).join('');
}

const candidate = (line: string, extra: Partial<IceCandidateInit> = {}): IceCandidateInit => ({ candidate: line, sdpMid: '0', sdpMLineIndex: 0, ...extra });

const openRelays = new Set<MeetingRelay>();
const openClients = new Set<WrtcClient>();
function relay(id: string): MeetingRelay {
  const r = new MeetingRelay(id, quietSink, { hostAddresses: ['127.0.0.1'], logger: silentLogger });
  openRelays.add(r);
  return r;
}

test.after.each(async () => {
  for (const r of openRelays) r.close();
  openRelays.clear();
  for (const c of openClients) c.close();
  openClients.clear();
  // A turn of the event loop, so a late throw from a native callback is seen by this test.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(escaped, [], 'nothing escaped as an uncaught exception or rejection');
});

test.after(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
  // Ends libdatachannel's threads and its callbacks into JavaScript, so the process can exit.
  releaseNativeRelay();
});

test('garbage offers are refused with INVALID_OFFER, and the participant can still send a good one', async () => {
  const r = relay('m-offers');
  const offer = await browserOffer();
  const garbage: Record<string, string> = {
    empty: '',
    'truncated after the session part': offer.slice(0, offer.indexOf('m=')),
    'truncated inside the first m-line': offer.slice(0, offer.indexOf('m=') + 12),
    'random bytes': randomBytes(2048).toString('latin1'),
    'random bytes after v=0': `v=0\r\n${randomBytes(512).toString('latin1')}`,
    'random base64 lines': Array.from({ length: 20 }, () => randomBytes(30).toString('base64')).join('\r\n'),
    '500 m-lines': withMLines(offer, 500),
    'huge': `v=0\r\n${'a=x\r\n'.repeat(100_000)}`,
    'video only': offer.replace(/^m=audio[\s\S]*?(?=^m=video)/m, ''),
  };
  for (const [name, sdp] of Object.entries(garbage)) {
    assert.is(await outcome(() => r.handleOffer('alice', sdp)), 'INVALID_OFFER', name);
  }
  assert.is(await outcome(() => r.handleOffer('alice', null as unknown as string)), 'INVALID_OFFER', 'not a string');
  const answer = await r.handleOffer('alice', offer);
  assert.match(answer, /^v=0\r\n/, 'a good offer after the garbage is answered');
});

test('an offer with 500 m-lines is refused before libdatachannel builds a track', async () => {
  const r = relay('m-500');
  const offer = await browserOffer();
  const sdp = withMLines(offer, 500);
  assert.ok(sdp.length < MAX_OFFER_BYTES, `the offer (${sdp.length} characters) is within the size limit: only its m-lines are wrong`);
  const started = performance.now();
  assert.is(await outcome(() => r.handleOffer('bob', sdp)), 'INVALID_OFFER');
  assert.ok(performance.now() - started < 500, 'refused at once');
  // Refused before the relay took bob in: no connection, no socket, no track was made for him.
  assert.not.ok(r.has('bob'), 'bob is unknown to the relay');
  assert.equal(r.localUdpEndpoints(), [], 'no ICE socket');
  // An offer of exactly the limit's m-lines is served: it is the count that was refused.
  assert.match(await r.handleOffer('bob', withMLines(offer, MAX_OFFER_M_LINES)), /^v=0\r\n/);
});

test('garbage candidates are refused with INVALID_CANDIDATE, before and after the offer', async () => {
  const r = relay('m-candidates');
  const offer = await browserOffer();
  const garbage: Record<string, string> = {
    'no fields': 'candidate:',
    'words': 'hello world',
    'too few fields': 'candidate:1 1 udp 2122260223 127.0.0.1 50000',
    'port 99999': 'candidate:1 1 udp 2122260223 127.0.0.1 99999 typ host',
    'port 0': 'candidate:1 1 udp 2122260223 127.0.0.1 0 typ host',
    'port not a number': 'candidate:1 1 udp 2122260223 127.0.0.1 x typ host',
    'negative priority': 'candidate:1 1 udp -5 127.0.0.1 50000 typ host',
    'component 0': 'candidate:1 0 udp 2122260223 127.0.0.1 50000 typ host',
    'unknown transport': 'candidate:1 1 sctp 2122260223 127.0.0.1 50000 typ host',
    'unknown type': 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ bogus',
    'address not an IP': 'candidate:1 1 udp 2122260223 999.1.1.1 50000 typ host',
    'hostname': 'candidate:1 1 udp 2122260223 example.com 50000 typ host',
    'broadcast': 'candidate:1 1 udp 2122260223 255.255.255.255 50000 typ host',
    'multicast': 'candidate:1 1 udp 2122260223 224.0.0.251 5353 typ host',
    'unspecified': 'candidate:1 1 udp 2122260223 0.0.0.0 50000 typ host',
    'random bytes': randomBytes(200).toString('latin1'),
    'huge': `candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host ${'x '.repeat(10_000)}`,
  };
  for (const [name, line] of Object.entries(garbage)) {
    assert.is(await outcome(() => r.addCandidate('carol', candidate(line))), 'INVALID_CANDIDATE', `${name}, before the offer`);
  }
  await r.handleOffer('carol', offer);
  for (const [name, line] of Object.entries(garbage)) {
    assert.is(await outcome(() => r.addCandidate('carol', candidate(line))), 'INVALID_CANDIDATE', `${name}, after the offer`);
  }
  assert.is(await outcome(() => r.addCandidate('carol', { candidate: null as unknown as string })), 'INVALID_CANDIDATE', 'not a string');
});

test('well-formed but odd candidates settle without harm: foreign address, mDNS name, unknown mid, end of candidates', async () => {
  const r = relay('m-odd');
  const offer = await browserOffer();
  await r.handleOffer('dave', offer);
  const odd: Array<[string, IceCandidateInit]> = [
    ['a foreign public address', candidate('candidate:1 1 udp 2122260223 203.0.113.7 50000 typ host')],
    ['an IPv6 address', candidate('candidate:2 1 udp 2122260223 2001:db8::7 50000 typ host')],
    ['an mDNS name', candidate('candidate:3 1 udp 2122260223 0e3a6d5c-1b0f-4c2e-9a8e-3f8a.local 50000 typ host')],
    ['a server-reflexive one', candidate('candidate:4 1 udp 1686052607 198.51.100.9 61000 typ srflx raddr 10.0.0.2 rport 50000')],
    ['an unknown mid', candidate('candidate:5 1 udp 2122260223 203.0.113.8 50000 typ host', { sdpMid: 'nope', sdpMLineIndex: 9999 })],
    ['end of candidates', { candidate: '' }],
  ];
  for (const [name, c] of odd) {
    const result = await outcome(() => r.addCandidate('dave', c));
    assert.ok(result === 'ok' || result === 'INVALID_CANDIDATE', `${name}: ${result}`);
  }
  // The relay still answers a fresh participant after all that.
  assert.match(await r.handleOffer('erin', await browserOffer()), /^v=0\r\n/);
});

test.run();
