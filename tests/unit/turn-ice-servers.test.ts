/** The ICE server list per participant, and the TURN settings read from the environment. */
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issueTurnCredential, verifyTurnCredential, type TurnCredential } from '../../turn/credentials';
import {
  iceServerRefreshMs,
  iceServersFor,
  parseIceServers,
  TurnConfigError,
  turnConfigFromEnv,
  type BundledTurn,
  type TurnConfig,
} from '../../turn/iceServers';

const LOOPBACK_ONLY: Record<string, NetworkInterfaceInfo[]> = {
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
};
const WITH_LAN: Record<string, NetworkInterfaceInfo[]> = {
  ...LOOPBACK_ONLY,
  eth0: [{ address: '10.1.2.3', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.1.2.3/24' }],
};
const LOCAL = { httpHost: '127.0.0.1', interfaces: LOOPBACK_ONLY };

/** Stands in for the running TurnServer: the port it bound and the credentials it mints. */
function fakeBundled(port: number): BundledTurn & { issued: string[] } {
  const issued: string[] = [];
  return {
    port,
    issued,
    issue(userId: string, ttlSeconds: number): TurnCredential {
      issued.push(userId);
      return issueTurnCredential('bundled-secret', userId, ttlSeconds);
    },
  };
}

function configError(fn: () => unknown): TurnConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TurnConfigError) return err;
    throw err;
  }
  throw new Error('expected a TurnConfigError');
}

test('by default the bundled server listens where HTTP does, on 3478, with a random secret', () => {
  const a = turnConfigFromEnv({}, LOCAL);
  const b = turnConfigFromEnv({}, LOCAL);
  if (a.mode !== 'bundled' || b.mode !== 'bundled') throw new Error(`mode ${a.mode}`);
  assert.is(a.port, 3478);
  assert.equal(a.listeningIps, ['127.0.0.1']);
  assert.is(a.advertisedHost, '127.0.0.1');
  assert.is(a.externalIp, undefined);
  assert.is(a.ttlSeconds, 3600);
  assert.equal([a.allowedPeerIps, a.deniedPeerIps], [[], []]);
  assert.is(Buffer.from(a.secret, 'base64url').length, 32);
  assert.is.not(a.secret, b.secret);
});

test('bundled mode hands out a stun: and a UDP turn: URL with fresh credentials', () => {
  const config = turnConfigFromEnv({ TURN_SECRET: 's', TURN_TTL: '120' }, LOCAL);
  const bundled = fakeBundled(40000);
  const servers = iceServersFor(config, 'alice', bundled);
  assert.equal(bundled.issued, ['alice']);
  assert.is(servers.length, 2);
  assert.equal(servers[0], { urls: 'stun:127.0.0.1:40000' });
  assert.is(servers[1]!.urls, 'turn:127.0.0.1:40000?transport=udp');
  assert.match(servers[1]!.username!, /^\d+:alice$/);
  assert.ok(verifyTurnCredential('bundled-secret', servers[1]!.username!, servers[1]!.credential!).ok);
});

test('TURN_ALLOWED_PEER_IPS and TURN_DENIED_PEER_IPS are lists of IPs and CIDR ranges', () => {
  const config = turnConfigFromEnv({ TURN_ALLOWED_PEER_IPS: '192.168.1.0/24, 10.0.0.7', TURN_DENIED_PEER_IPS: 'fd00::/8' }, LOCAL);
  if (config.mode !== 'bundled') throw new Error(config.mode);
  assert.equal(config.allowedPeerIps, ['192.168.1.0/24', '10.0.0.7']);
  assert.equal(config.deniedPeerIps, ['fd00::/8']);
  const err = configError(() => turnConfigFromEnv({ TURN_ALLOWED_PEER_IPS: '192.168.1.0/33' }, LOCAL));
  assert.is(err.variable, 'TURN_ALLOWED_PEER_IPS');
  assert.match(err.message, /192\.168\.1\.0\/33/);
});

test('fresh ICE servers are due at three quarters of the TTL, and never without credentials', () => {
  assert.is(iceServerRefreshMs(turnConfigFromEnv({}, LOCAL)), 2_700_000);
  assert.is(iceServerRefreshMs(turnConfigFromEnv({ TURN_URLS: 'turn:x.example', TURN_SECRET: 's', TURN_TTL: '600' }, LOCAL)), 450_000);
  assert.is(iceServerRefreshMs(turnConfigFromEnv({ TURN_DISABLED: '1' }, LOCAL)), undefined);
});

test('bundled mode without the running server is a programming error', () => {
  assert.throws(() => iceServersFor(turnConfigFromEnv({}, LOCAL), 'alice'), /TurnServer/);
});

test('TURN_EXTERNAL_IP is advertised and written into relayed addresses', () => {
  const config = turnConfigFromEnv({ TURN_EXTERNAL_IP: '203.0.113.7', TURN_PORT: '3479' }, { httpHost: '0.0.0.0', interfaces: WITH_LAN });
  if (config.mode !== 'bundled') throw new Error(config.mode);
  assert.is(config.advertisedHost, '203.0.113.7');
  assert.is(config.externalIp, '203.0.113.7');
  assert.is(config.port, 3479);
  assert.equal(config.listeningIps, ['0.0.0.0']);
});

test('a PUBLIC_URL host is advertised; only a non-local IP becomes the NAT address', () => {
  const named = turnConfigFromEnv({}, { httpHost: '0.0.0.0', publicUrl: 'https://meet.example.org', interfaces: WITH_LAN });
  const natted = turnConfigFromEnv({}, { httpHost: '0.0.0.0', publicUrl: 'http://198.51.100.4:8080', interfaces: WITH_LAN });
  const lan = turnConfigFromEnv({}, { httpHost: '0.0.0.0', publicUrl: 'http://10.1.2.3:8080', interfaces: WITH_LAN });
  if (named.mode !== 'bundled' || natted.mode !== 'bundled' || lan.mode !== 'bundled') throw new Error('mode');
  assert.equal([named.advertisedHost, named.externalIp], ['meet.example.org', undefined]);
  assert.equal([natted.advertisedHost, natted.externalIp], ['198.51.100.4', '198.51.100.4']);
  assert.equal([lan.advertisedHost, lan.externalIp], ['10.1.2.3', undefined]);
});

test('a wildcard HOST without PUBLIC_URL advertises the first LAN address', () => {
  const config = turnConfigFromEnv({}, { httpHost: '0.0.0.0', interfaces: WITH_LAN });
  if (config.mode !== 'bundled') throw new Error(config.mode);
  assert.is(config.advertisedHost, '10.1.2.3');
});

test('an IPv6 advertised host is bracketed in the URLs', () => {
  const config = turnConfigFromEnv({}, { httpHost: '::1', interfaces: LOOPBACK_ONLY });
  const servers = iceServersFor(config, 'alice', fakeBundled(3478));
  assert.equal(servers[0], { urls: 'stun:[::1]:3478' });
});

test('external mode signs the turn: URLs with TURN_SECRET and lists stun: URLs bare', () => {
  const config = turnConfigFromEnv(
    { TURN_URLS: 'stun:turn.example.org:3478, turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349', TURN_SECRET: 'coturn-secret' },
    LOCAL,
  );
  assert.is(config.mode, 'external');
  const [stun, turn] = iceServersFor(config, 'bob');
  assert.equal(stun, { urls: ['stun:turn.example.org:3478'] });
  assert.equal(turn!.urls, ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349']);
  const check = verifyTurnCredential('coturn-secret', turn!.username!, turn!.credential!);
  assert.ok(check.ok && check.userId === 'bob');
});

test('TURN_URLS without TURN_SECRET is refused', () => {
  const err = configError(() => turnConfigFromEnv({ TURN_URLS: 'turn:turn.example.org' }, LOCAL));
  assert.is(err.variable, 'TURN_SECRET');
  assert.is(err.code, 'TURN_CONFIG_INVALID');
});

test('TURN_URLS entries must be ICE URLs', () => {
  const err = configError(() => turnConfigFromEnv({ TURN_URLS: 'https://turn.example.org', TURN_SECRET: 's' }, LOCAL));
  assert.is(err.variable, 'TURN_URLS');
  assert.match(err.message, /https:\/\/turn\.example\.org/);
});

test('TURN_DISABLED=1 hands out no ICE servers', () => {
  const config = turnConfigFromEnv({ TURN_DISABLED: '1', TURN_URLS: 'turn:x', TURN_SECRET: 's' }, LOCAL);
  assert.equal(config, { mode: 'disabled' });
  assert.equal(iceServersFor(config, 'alice'), []);
});

test('ICE_SERVERS overrides every other TURN setting', () => {
  const list = [{ urls: ['turn:a.example:3478'], username: 'u', credential: 'p' }, { urls: 'stun:b.example' }];
  const config = turnConfigFromEnv({ ICE_SERVERS: JSON.stringify(list), TURN_DISABLED: '1', TURN_URLS: 'turn:x' }, LOCAL);
  assert.is(config.mode, 'static');
  const handed = iceServersFor(config, 'alice');
  assert.equal(handed, list);
  (handed[0]!.urls as string[]).push('turn:evil.example');
  assert.equal(iceServersFor(config, 'bob'), list, 'each participant gets its own copy');
});

test('ICE_SERVERS that is not JSON fails with a message naming the variable and the fix', () => {
  const err = configError(() => turnConfigFromEnv({ ICE_SERVERS: "[{urls:'stun:x'}]" }, LOCAL));
  assert.is(err.variable, 'ICE_SERVERS');
  assert.match(err.message, /^ICE_SERVERS: is not valid JSON/);
  assert.match(err.message, /\[\{"urls":/);
});

test('ICE_SERVERS entries are checked one by one', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"urls":"stun:x"}', /not a list/],
    ['["stun:x"]', /ICE_SERVERS\[0\] is not an object/],
    ['[{"url":"stun:x"}]', /unknown field "url" \(the field is called "urls"\)/],
    ['[{"urls":[]}]', /urls must be a URL string or a non-empty list/],
    ['[{"urls":"http://x"}]', /"http:\/\/x" is not a stun:/],
    ['[{"urls":"stun:x"},{"urls":"turn:y"}]', /ICE_SERVERS\[1\]: a turn:\/turns: server needs "username" and "credential"/],
    ['[{"urls":"turn:y","username":"u","credential":7}]', /credential must be a string/],
  ];
  for (const [json, message] of cases) {
    const err = configError(() => parseIceServers(json));
    assert.match(err.message, message, json);
  }
  assert.equal(parseIceServers('[]'), []);
});

test('malformed TURN_PORT, TURN_TTL and TURN_EXTERNAL_IP are refused by name', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ TURN_PORT: '70000' }, 'TURN_PORT'],
    [{ TURN_PORT: '34x' }, 'TURN_PORT'],
    [{ TURN_TTL: '0' }, 'TURN_TTL'],
    [{ TURN_TTL: '1.5' }, 'TURN_TTL'],
    [{ TURN_EXTERNAL_IP: 'turn.example.org' }, 'TURN_EXTERNAL_IP'],
    [{ TURN_LISTEN_IPS: '127.0.0.1,nope' }, 'TURN_LISTEN_IPS'],
  ];
  for (const [env, variable] of cases) {
    assert.is(configError(() => turnConfigFromEnv(env, LOCAL)).variable, variable, JSON.stringify(env));
  }
  assert.is(configError(() => turnConfigFromEnv({}, { ...LOCAL, publicUrl: 'not a url' })).variable, 'PUBLIC_URL');
});

test('HOST=localhost listens on 127.0.0.1', () => {
  const config: TurnConfig = turnConfigFromEnv({}, { httpHost: 'localhost', interfaces: LOOPBACK_ONLY });
  if (config.mode !== 'bundled') throw new Error(config.mode);
  assert.equal(config.listeningIps, ['127.0.0.1']);
});

test.run();
