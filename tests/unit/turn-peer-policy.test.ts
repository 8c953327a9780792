/** Which peer addresses the bundled TURN server relays to: never into the server's networks. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalIp, endpointKey, parseIpRange, PeerPolicy, type PeerRefusal } from '../../turn/peerPolicy';

function refusal(policy: PeerPolicy, ip: string): PeerRefusal | 'allowed' {
  const verdict = policy.check(ip);
  return verdict.allowed ? 'allowed' : verdict.reason;
}

const defaults = new PeerPolicy();

test('loopback, link-local, multicast, unspecified and broadcast peers are refused', () => {
  const cases: Array<[string, PeerRefusal]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::fb', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
  ];
  for (const [ip, reason] of cases) assert.is(refusal(defaults, ip), reason, ip);
});

test('IPv4-mapped IPv6 forms are judged as the IPv4 address they carry', () => {
  assert.is(refusal(defaults, '::ffff:127.0.0.1'), 'loopback');
  assert.is(refusal(defaults, '0:0:0:0:0:ffff:7f00:1'), 'loopback'); // node-turn's spelling
  assert.is(refusal(defaults, '::ffff:a9fe:a9fe'), 'link-local');
  assert.is(refusal(defaults, '::ffff:0.0.0.0'), 'unspecified');
  assert.is(refusal(defaults, '::ffff:224.0.0.1'), 'multicast');
  assert.is(refusal(defaults, '::ffff:255.255.255.255'), 'broadcast');
  assert.is(refusal(defaults, '::ffff:10.0.0.1'), 'private');
  assert.is(refusal(defaults, '::ffff:8.8.8.8'), 'allowed');
});

test('private ranges are refused by default, public addresses allowed', () => {
  for (const ip of ['10.0.0.1', '172.16.0.1', '172.31.255.254', '192.168.1.20', '100.64.0.1', '100.127.255.1', 'fd00::1', 'fc12::3']) {
    assert.is(refusal(defaults, ip), 'private', ip);
  }
  for (const ip of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2001:db8::1', '2606:4700::1111']) {
    assert.is(refusal(defaults, ip), 'allowed', ip);
  }
});

test('TURN_ALLOWED_PEER_IPS opens private ranges, and nothing more', () => {
  const lan = new PeerPolicy({ allowed: ['192.168.1.0/24', '10.0.0.7', 'fd00::/8', '127.0.0.1'] });
  assert.is(refusal(lan, '192.168.1.20'), 'allowed');
  assert.is(refusal(lan, '::ffff:192.168.1.20'), 'allowed');
  assert.is(refusal(lan, '192.168.2.20'), 'private');
  assert.is(refusal(lan, '10.0.0.7'), 'allowed');
  assert.is(refusal(lan, '10.0.0.8'), 'private');
  assert.is(refusal(lan, 'fd00::42'), 'allowed');
  // Loopback stays refused even when listed: only exact endpoints are ever exempt.
  assert.is(refusal(lan, '127.0.0.1'), 'loopback');
});

test('TURN_DENIED_PEER_IPS refuses more, and wins over an allowed range', () => {
  const policy = new PeerPolicy({ allowed: ['10.0.0.0/8'], denied: ['10.9.0.0/16', '203.0.113.0/24'] });
  assert.is(refusal(policy, '10.1.0.1'), 'allowed');
  assert.is(refusal(policy, '10.9.0.1'), 'denied');
  assert.is(refusal(policy, '203.0.113.9'), 'denied');
  assert.is(refusal(policy, '198.51.100.9'), 'allowed');
});

test("this host's own addresses are refused even inside an allowed range", () => {
  const policy = new PeerPolicy({ allowed: ['192.168.1.0/24'], localAddresses: ['192.168.1.10', '203.0.113.5'] });
  assert.is(refusal(policy, '192.168.1.10'), 'local-interface');
  assert.is(refusal(policy, '::ffff:203.0.113.5'), 'local-interface');
  assert.is(refusal(policy, '192.168.1.11'), 'allowed');
});

test('a malformed address is refused, a malformed range throws', () => {
  assert.is(refusal(defaults, 'example.org'), 'invalid');
  assert.is(refusal(defaults, ''), 'invalid');
  assert.throws(() => parseIpRange('10.0.0.0/33'), /prefix length/);
  assert.throws(() => parseIpRange('10.0.0/8'), /not an IP/);
  assert.throws(() => parseIpRange('fd00::/x'), /prefix length/);
  assert.throws(() => new PeerPolicy({ allowed: ['lan'] }), /"lan"/);
});

test('ranges parse to their network and prefix', () => {
  assert.equal(parseIpRange('10.1.2.3/8'), { family: 4, base: 10n << 24n, bits: 8 });
  assert.equal(parseIpRange('::ffff:10.0.0.0/104'), { family: 4, base: 10n << 24n, bits: 8 });
  assert.equal(parseIpRange('192.0.2.1'), { family: 4, base: (192n << 24n) | (2n << 8n) | 1n, bits: 32 });
  assert.is(parseIpRange('fd00::/8').bits, 8);
});

test('endpoint keys spell one address one way', () => {
  assert.is(canonicalIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.is(endpointKey('0:0:0:0:0:ffff:7f00:1', 5000), '127.0.0.1:5000');
  assert.is(endpointKey('::1', 5000), endpointKey('0:0:0:0:0:0:0:1', 5000));
  assert.is(endpointKey('2001:DB8::1', 9), '2001:db8:0:0:0:0:0:1:9');
  assert.is(endpointKey('nope', 1), undefined);
});

test.run();
