import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetworkInterfaceInfo } from 'node:os';
import { ConfigError, configFromEnv } from '../../coordinator/config';
import { isPrivateAddress, privateRelayWarning, relayBindAddress, relayOffer, workerUdpPort } from '../../coordinator/media/RelayNetwork';

function nic(address: string, internal = false): NetworkInterfaceInfo {
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  return { address, internal, family, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) } as NetworkInterfaceInfo;
}
const CLOUD_VM = { lo: [nic('127.0.0.1', true), nic('::1', true)], eth0: [nic('10.0.1.5'), nic('fe80::1')] };

test('RELAY_PORT and RELAY_ANNOUNCED_IP are read, and RELAY_PORT leaves a port for every media worker', () => {
  assert.equal(configFromEnv({}).relayNetwork, {});
  assert.equal(configFromEnv({ RELAY_PORT: '40000', RELAY_ANNOUNCED_IP: '203.0.113.7' }).relayNetwork, { udpPort: 40000, announcedIp: '203.0.113.7' });
  assert.equal(configFromEnv({ RELAY_PORT: '0' }).relayNetwork, { udpPort: 0 });
  assert.equal(configFromEnv({ RELAY_PORT: '65535', MEDIA_WORKERS: '1' }).relayNetwork.udpPort, 65535);
  for (const [env, variable] of [
    [{ RELAY_PORT: 'udp' }, 'RELAY_PORT'],
    [{ RELAY_PORT: '65535', MEDIA_WORKERS: '2' }, 'RELAY_PORT'],
    [{ RELAY_ANNOUNCED_IP: 'meet.example.org' }, 'RELAY_ANNOUNCED_IP'],
    [{ RELAY_ANNOUNCED_IP: '0.0.0.0' }, 'RELAY_ANNOUNCED_IP'],
  ] as const) {
    try {
      configFromEnv(env);
      assert.unreachable(`${JSON.stringify(env)} must be refused`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).variable, variable);
    }
  }
});

test('each media worker has its own port from RELAY_PORT up; 0 stays a free port; unset means no mux', () => {
  assert.is(workerUdpPort({ udpPort: 40000 }, 0), 40000);
  assert.is(workerUdpPort({ udpPort: 40000 }, 3), 40003);
  assert.is(workerUdpPort({ udpPort: 0 }, 3), 0);
  assert.is(workerUdpPort({}, 0), undefined);
});

test('the relay offers the announced address alone, else its interface addresses and the extra host addresses', () => {
  assert.equal(relayOffer({ udpPort: 40000, announcedIp: '203.0.113.7' }, 1, ['127.0.0.1'], CLOUD_VM), { addresses: ['203.0.113.7'], ports: [40000, 40000], announced: true });
  assert.equal(relayOffer({ udpPort: 40000 }, 4, ['127.0.0.1'], CLOUD_VM), { addresses: ['10.0.1.5', '127.0.0.1'], ports: [40000, 40003], announced: false });
  assert.equal(relayOffer({}, 0, [], CLOUD_VM).ports, 'per-connection');
  assert.equal(relayOffer({ udpPort: 0 }, 0, [], CLOUD_VM).ports, 'free');
});

test('the relay binds an announced address only when it is this machine\'s own', () => {
  assert.is(relayBindAddress({ announcedIp: '203.0.113.7' }, CLOUD_VM), undefined, 'behind 1:1 NAT');
  assert.is(relayBindAddress({ announcedIp: '10.0.1.5' }, CLOUD_VM), '10.0.1.5');
  assert.is(relayBindAddress({ announcedIp: '127.0.0.2' }, CLOUD_VM), '127.0.0.2', 'any loopback address while lo is up');
  assert.is(relayBindAddress({ announcedIp: '127.0.0.2' }, { eth0: [nic('10.0.1.5')] }), undefined, 'lo down');
  assert.is(relayBindAddress({}, CLOUD_VM), undefined);
});

test('private addresses are told apart from public ones', () => {
  for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.2', '169.254.1.1', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1']) assert.ok(isPrivateAddress(a), a);
  for (const a of ['8.8.8.8', '172.32.0.1', '203.0.113.7', '2001:db8::1', '::ffff:8.8.8.8']) assert.not.ok(isPrivateAddress(a), a);
});

test('npm start warns about a public PUBLIC_URL served with only private relay addresses', () => {
  const privateOnly = relayOffer({ udpPort: 40000 }, 1, ['127.0.0.1'], CLOUD_VM);
  assert.match(privateRelayWarning('https://meet.example.org', privateOnly) ?? '', 'RELAY_ANNOUNCED_IP');
  assert.is(privateRelayWarning('https://meet.example.org', relayOffer({ announcedIp: '203.0.113.7' }, 1, [], CLOUD_VM)), undefined);
  assert.is(privateRelayWarning('http://localhost:8080', privateOnly), undefined);
  assert.is(privateRelayWarning('https://192.168.1.5:8443', privateOnly), undefined, 'a LAN deployment');
  assert.is(privateRelayWarning(undefined, privateOnly), undefined);
});

test.run();
