import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DEFAULT_LIMITS, configFromEnv } from '../../coordinator/config';
import { AddressLimits } from '../../coordinator/limits/AddressLimits';
import { KeyedRateLimiter } from '../../coordinator/limits/KeyedRateLimiter';
import { decodeClientMessage } from '../../coordinator/signaling/decode';
import { attributePeerChat } from '../../client/room/peerChat';

test('a keyed bucket allows its burst, refuses with the wait until the next token, and refills', () => {
  let now = 0;
  const limiter = new KeyedRateLimiter(3, 1, 100, () => now);
  for (let i = 0; i < 3; i++) assert.ok(limiter.take('a').ok);
  const refused = limiter.take('a');
  assert.equal(refused, { ok: false, retryAfterMs: 1000 });
  assert.ok(limiter.take('b').ok, 'another address has its own bucket');
  now += 1000;
  assert.ok(limiter.take('a').ok);
  assert.not.ok(limiter.take('a').ok);
});

test('the address table stays bounded under a flood of addresses, and full buckets are forgotten', () => {
  let now = 0;
  const limiter = new KeyedRateLimiter(2, 1, 1000, () => now);
  for (let i = 0; i < 50_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
  assert.ok(limiter.size <= 1000, `at most 1000 entries, not ${limiter.size}`);
  now += 10_000;
  limiter.prune();
  assert.is(limiter.size, 0);
});

test('sockets per address are counted until released, and released once', () => {
  const limits = new AddressLimits({ ...DEFAULT_LIMITS, socketsPerAddress: 2 });
  const a = limits.openSocket('1.1.1.1');
  const b = limits.openSocket('1.1.1.1');
  assert.ok(a && b);
  assert.is(limits.openSocket('1.1.1.1'), undefined);
  assert.ok(limits.openSocket('2.2.2.2'), 'another address is not affected');
  a!();
  a!();
  assert.ok(limits.openSocket('1.1.1.1'));
  assert.is(limits.openSocket('1.1.1.1'), undefined, 'a second release of the same socket frees nothing');
  limits.close();
  assert.equal(limits.trackedAddresses, { creates: 0, joins: 0, sockets: 0 });
});

test('limits come from the environment with documented defaults; bad values are a ConfigError naming the variable', () => {
  assert.equal(configFromEnv({}).limits, DEFAULT_LIMITS);
  const config = configFromEnv({ LIMIT_CREATES_PER_MIN: '5', LIMIT_SOCKETS_PER_IP: '6', LIMIT_JOINS_PER_MIN: '7', LIMIT_MESSAGES_PER_SEC: '8', MAX_PARTICIPANTS: '9', TRUST_PROXY: '1' });
  assert.equal(config.limits, { createsPerMin: 5, socketsPerAddress: 6, joinsPerMin: 7, messagesPerSec: 8, maxParticipants: 9 });
  assert.is(config.trustProxy, true);
  assert.equal(configFromEnv({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16' }).trustProxy, ['10.0.0.1', '192.168.0.0/16']);
  for (const [name, value] of [['LIMIT_JOINS_PER_MIN', 'many'], ['MAX_PARTICIPANTS', '0'], ['LIMIT_MESSAGES_PER_SEC', '-1'], ['TRUST_PROXY', 'proxy.example']]) {
    try {
      configFromEnv({ [name!]: value });
      assert.unreachable(`${name}=${value} accepted`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).variable, name);
    }
  }
});

test('every signaling message is closed: an unknown field anywhere is BAD_MESSAGE', () => {
  const candidate = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  const valid = [
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'candidate', candidate } },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'transceiverRequest', transceiverRequest: { kind: 'video', init: { direction: 'recvonly', sendEncodings: [{ rid: 'h', maxBitrate: 900000 }] } } } },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'transceiverRequest', transceiverRequest: { kind: 'audio' } } },
    { type: 'relay-candidate', candidate: { ...candidate, usernameFragment: 'abcd' } },
  ];
  for (const message of valid) assert.ok(decodeClientMessage(JSON.stringify(message)).ok, JSON.stringify(message));
  const invalid = [
    { type: 'join', id: 1, meetingId: 'm', name: 'A', admin: true },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'offer', sdp: 'v=0', extra: 1 } },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'candidate', candidate: { ...candidate, relayProtocol: 'udp' } } },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'transceiverRequest', transceiverRequest: { kind: 'video', init: { streams: [{}] } } } },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'transceiverRequest', transceiverRequest: { kind: 'video', init: { sendEncodings: [{ evil: 1 }] } } } },
    { type: 'signal', to: 'p', conn: 'c1', data: { type: 'transceiverRequest', transceiverRequest: { kind: 'video', extra: {} } } },
    { type: 'relay-candidate', candidate: { ...candidate, x: 1 } },
  ];
  for (const message of invalid) {
    const decoded = decodeClientMessage(JSON.stringify(message));
    assert.is(decoded.ok ? 'ok' : decoded.error.code, 'BAD_MESSAGE', JSON.stringify(message));
  }
});

test('a P2P chat line is shown under the name the meeting has for the channel\'s peer, whatever it claims', () => {
  const participants = [{ id: 'p-bob', name: 'Bob' }, { id: 'p-eve', name: 'Eve' }];
  const spoof = { id: 'm1', from: 'p-bob', name: 'Bob', at: new Date().toISOString(), text: 'I am Bob' };
  const shown = attributePeerChat(spoof, 'p-eve', participants);
  assert.equal(shown, { ...spoof, from: 'p-eve', name: 'Eve' });
  assert.is(attributePeerChat(spoof, 'p-unknown', participants), undefined, 'a peer not in the meeting is not shown');
  assert.equal(attributePeerChat({ ...spoof, from: 'p-bob' }, 'p-bob', participants)?.name, 'Bob');
});

test.run();
