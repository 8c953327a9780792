/**
 * A server behind 1:1 NAT, as on a cloud VM: three network namespaces' worth of network on
 * one machine. `npm start` runs in a namespace whose only address is private (10.213.x.2),
 * with `RELAY_PORT` and `RELAY_ANNOUNCED_IP` = the NAT's public address (10.214.x.2). That
 * address is in a second namespace, the NAT, joined to this machine and to the server by two
 * veth pairs, where a user-space forwarder (tests/helpers/natForwarder.ts) plays the 1:1 NAT:
 * TCP for the page and signaling, UDP one flow per client, same ports. Nothing routes between
 * the two sides (no IP forwarding): the browsers here can reach the server only through the
 * forwarder, and the server cannot reach the browsers' addresses at all (no route), as a
 * firewall with one UDP port open would have it.
 *
 * Needs root and `ip` (iproute2): skipped, saying why, without them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { ROOT_DIR } from '../../coordinator/config';
import { launchBrowser } from '../helpers/browser';
import { assertEveryoneHearsTheOthers, assertEveryoneSeesTheOthers, badgeSays, createMeeting, joinAs, meetingDetail, type Person } from '../helpers/room';
import { PEER_CONNECTION_TAP, awaitRemoteEnds } from '../helpers/selectedPair';
import { freeTcpPort, tempDir } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const TAG = process.pid % 250;
const SERVER_NS = `mm-srv-${process.pid}`;
const NAT_NS = `mm-nat-${process.pid}`;
const PUBLIC = `10.214.${TAG}.2`;
const SERVER_IP = `10.213.${TAG}.2`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why this machine cannot run the test, or undefined when it can. */
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'needs `ip` from iproute2';
  }
  return undefined;
}

const why = unavailable();
let server: ChildProcess | undefined;
let serverOutput = '';
let forwarder: ChildProcess | undefined;
let forwarderOutput = '';
let browser: Browser | undefined;
let base = '';
let relayPort = 0;
const temp = tempDir('meetmesh-nat-');
const people: Person[] = [];

/** A veth pair `a` (in `aNs`, or here) — `b` (in `bNs`), each end with its address, up. */
function link(a: string, aNs: string | undefined, aAddr: string, b: string, bNs: string, bAddr: string): void {
  ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip('link', 'set', b, 'netns', bNs);
  if (aNs) ip('link', 'set', a, 'netns', aNs);
  ip(...(aNs ? ['-n', aNs] : []), 'addr', 'add', aAddr, 'dev', a);
  ip(...(aNs ? ['-n', aNs] : []), 'link', 'set', a, 'up');
  ip('-n', bNs, 'addr', 'add', bAddr, 'dev', b);
  ip('-n', bNs, 'link', 'set', b, 'up');
}

/** Reads the forwarder's UDP counters (one request line, one JSON line back). */
async function natCounters(): Promise<{ up: { out: number }; down: { out: number } }> {
  const before = forwarderOutput.length;
  forwarder!.stdin!.write('counters\n');
  const line = await waitFor(() => /^\{.*\}$/m.exec(forwarderOutput.slice(before))?.[0], 5000, 'the NAT forwarder\'s counters');
  return JSON.parse(line) as { up: { out: number }; down: { out: number } };
}

test.before(async () => {
  if (why) return;
  ip('netns', 'add', SERVER_NS);
  ip('netns', 'add', NAT_NS);
  // This machine <-> the NAT's public side; the NAT's private side <-> the server.
  link(`mmp${process.pid}h`.slice(0, 15), undefined, `10.214.${TAG}.1/30`, `mmp${process.pid}n`.slice(0, 15), NAT_NS, `${PUBLIC}/30`);
  link(`mmq${process.pid}n`.slice(0, 15), NAT_NS, `10.213.${TAG}.1/30`, `mmq${process.pid}s`.slice(0, 15), SERVER_NS, `${SERVER_IP}/30`);
  // The server's default route leads to the NAT, which forwards nothing by itself: what the
  // relay sends to a browser's own addresses is dropped there, as a cloud firewall would.
  ip('-n', SERVER_NS, 'route', 'add', 'default', 'via', `10.213.${TAG}.1`);

  // Ports on the public side and the server's are the same, as a 1:1 NAT keeps them.
  const httpPort = await freeTcpPort();
  relayPort = 20_000 + (process.pid % 20_000);
  server = spawn('ip', ['netns', 'exec', SERVER_NS, process.execPath, '--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT_DIR,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? 'warn',
      HOST: SERVER_IP, PORT: String(httpPort), DB_PATH: `${temp.dir}/meetings.db`, TURN_DISABLED: '1',
      MEDIA_WORKERS: '1', RELAY_PORT: String(relayPort), RELAY_ANNOUNCED_IP: PUBLIC,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d: Buffer) => (serverOutput += d.toString('utf8')));
  server.stderr!.on('data', (d: Buffer) => (serverOutput += d.toString('utf8')));
  forwarder = spawn('ip', ['netns', 'exec', NAT_NS, process.execPath, '--import', 'tsx', 'tests/helpers/natForwarder.ts', PUBLIC, SERVER_IP, String(httpPort), String(relayPort)], {
    cwd: ROOT_DIR,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  forwarder.stdout!.on('data', (d: Buffer) => (forwarderOutput += d.toString('utf8')));
  await waitFor(() => /Meetings are ready/.test(serverOutput) || server!.exitCode !== null, 30_000, 'the server in its namespace to start');
  assert.match(serverOutput, /Meetings are ready/, serverOutput);
  assert.ok(serverOutput.includes(`Relay: ${PUBLIC} (RELAY_ANNOUNCED_IP), UDP port ${relayPort}`), serverOutput);
  await waitFor(() => forwarderOutput.includes('ready') || forwarder!.exitCode !== null, 30_000, 'the NAT forwarder to listen');
  assert.ok(forwarderOutput.includes('ready'), 'the NAT forwarder started');
  base = `http://${PUBLIC}:${httpPort}`;
  // Camera and microphone need a secure context: the public side is plain HTTP here (no certificate on a test address).
  browser = await launchBrowser([`--unsafely-treat-insecure-origin-as-secure=${base}`]);
});
test.after.each(async () => {
  for (const p of people.splice(0)) await p.context.close();
});
test.after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const ended = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGINT');
    await ended;
  }
  if (forwarder && forwarder.exitCode === null) {
    const ended = new Promise((resolve) => forwarder!.once('exit', resolve));
    forwarder.stdin!.end();
    await ended;
  }
  if (!why) {
    // Deleting a namespace deletes its ends of the veth pairs, and with them the other ends.
    for (const ns of [SERVER_NS, NAT_NS]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // never created
      }
    }
  }
  temp.remove();
});

test('behind 1:1 NAT: browsers reach the relay only at RELAY_ANNOUNCED_IP:RELAY_PORT, and a relay meeting works', async () => {
  if (why) {
    console.log(`  skipped: ${why}`);
    return;
  }
  const meeting = await createMeeting(base, 'Behind NAT', 'relay');
  const group = [
    await joinAs(browser!, base, meeting.id, 'Ann', 600, '', PEER_CONNECTION_TAP),
    await joinAs(browser!, base, meeting.id, 'Ben', 1100, '', PEER_CONNECTION_TAP),
    await joinAs(browser!, base, meeting.id, 'Cat', 1900, '', PEER_CONNECTION_TAP),
  ];
  people.push(...group);
  for (const p of group) await badgeSays(p, 'relay');
  await assertEveryoneSeesTheOthers(group);
  await assertEveryoneHearsTheOthers(group);

  for (const p of group) {
    const ends = await awaitRemoteEnds(p);
    assert.equal(ends.map((e) => `${e.candidateType} ${e.protocol} ${e.address}:${e.port}`), [`host udp ${PUBLIC}:${relayPort}`], `${p.name}'s remote end`);
  }
  // Every media datagram went through the NAT, both ways.
  const counted = await natCounters();
  assert.ok(counted.up.out > 100 && counted.down.out > 100, JSON.stringify(counted));
  assert.ok((await meetingDetail(base, meeting.id)).relay.packets > 0);
});

test.run();
