/**
 * RELAY_PORT and RELAY_ANNOUNCED_IP with real browsers: every relay connection of the node
 * shares one UDP port, and the browsers reach the relay at the announced address only (here
 * 127.0.0.2, a loopback address no interface gathers, so media stays on this machine).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { browserSuite } from '../helpers/browserSuite';
import { assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, type Person } from '../helpers/room';
import { PEER_CONNECTION_TAP, awaitRemoteEnds } from '../helpers/selectedPair';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const ANNOUNCED = '127.0.0.2';

let relayPort: number;

/** A UDP port free on every address right now (the relay binds it a moment later). */
async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '0.0.0.0', resolve));
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(resolve));
  return port;
}

const suite = browserSuite(test, async () => {
  relayPort = await freeUdpPort();
  return startServer({ mediaWorkers: 1, relayNetwork: { udpPort: relayPort, announcedIp: ANNOUNCED } });
});

test('with RELAY_PORT and RELAY_ANNOUNCED_IP, every relay connection ends at the announced address and the one port, and the meeting works', async () => {
  const meeting = await createMeeting(suite.server.url, 'One port', 'relay');
  const group = [
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ann', 600, '', PEER_CONNECTION_TAP),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100, '', PEER_CONNECTION_TAP),
    await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900, '', PEER_CONNECTION_TAP),
  ];
  suite.people.push(...group);
  for (const p of group) await badgeSays(p, 'relay');
  await assertEveryoneSeesTheOthers(group);
  await assertEveryoneHearsTheOthers(group);

  for (const p of group) {
    const ends = await awaitRemoteEnds(p);
    assert.equal(ends.map((e) => `${e.protocol} ${e.address}:${e.port}`), [`udp ${ANNOUNCED}:${relayPort}`], `${p.name}'s remote end`);
    assert.is(ends[0]!.candidateType, 'host', `${p.name} reaches the announced candidate itself, not a peer-reflexive stand-in`);
  }
  // The stats overlay shows the same: the proof a user can read.
  const overlay = group[0]!.page.getByTestId('stats-overlay');
  await waitFor(async () => (await overlay.innerText()).includes(`${ANNOUNCED}:${relayPort}`), 10_000, 'the overlay to show the announced address and port');
  assert.ok((await meetingDetail(suite.server.url, meeting.id)).relay.packets > 0);
});

test('with several media workers each binds its own port from RELAY_PORT up, and every connection on a worker shares it', async () => {
  const base = await freeUdpPort();
  const two = await startServer({ mediaWorkers: 2, relayNetwork: { udpPort: base } });
  try {
    // Meetings go to the least-loaded worker: the second meeting lands on the other one.
    const first = await createMeeting(two.url, 'Worker one', 'relay');
    const second = await createMeeting(two.url, 'Worker two', 'relay');
    const a = await joinAs(suite.browser, two.url, first.id, 'Ann', 600, '', PEER_CONNECTION_TAP);
    const b = await joinAs(suite.browser, two.url, first.id, 'Ben', 1100, '', PEER_CONNECTION_TAP);
    suite.people.push(a, b);
    await badgeSays(a, 'relay');
    const c = await joinAs(suite.browser, two.url, second.id, 'Cat', 1900, '', PEER_CONNECTION_TAP);
    const d = await joinAs(suite.browser, two.url, second.id, 'Dan', 2700, '', PEER_CONNECTION_TAP);
    suite.people.push(c, d);
    const portOf = async (p: Person): Promise<number> => {
      await badgeSays(p, 'relay');
      const ends = await awaitRemoteEnds(p, 15_000);
      return ends[0]!.port;
    };
    const ports = [await portOf(a), await portOf(b), await portOf(c), await portOf(d)];
    assert.is(ports[0], ports[1], 'one meeting, one worker, one port');
    assert.is(ports[2], ports[3], 'one meeting, one worker, one port');
    assert.equal([...new Set(ports)].sort(), [base, base + 1], `the two workers' ports (${ports.join(', ')})`);
    await assertEveryoneSeesTheOthers([a, b]);
    await assertEveryoneSeesTheOthers([c, d]);
  } finally {
    for (const p of suite.people.splice(0)) await p.context.close();
    await two.dispose();
  }
});

test.run();
