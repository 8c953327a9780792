/**
 * Several nodes vs one, side by side in one run: the same signaling load — meetings of
 * four, everyone sending chat lines that the node holding the meeting delivers to the
 * three others — served by ONE node over Redis, then by TWO nodes over the same Redis,
 * with every other socket connected to the node that does not hold its meeting (so half
 * the traffic crosses nodes through Redis pub/sub, the worst case for a load balancer).
 * Meetings are added until a step fails: a line not delivered, or the p99 delivery time
 * over 250 ms. The ratio of the two capacities is the scaling figure; the server CPU per
 * 1,000 deliveries shows what crossing nodes costs.
 *
 * Media is not part of this figure: a meeting's media lives on one node, so media capacity
 * adds up node by node (bench/media-workers.ts measures one node's media plane).
 * On a 2-core machine the load clients, Redis and both nodes share the cores: read the
 * ratio as a floor. Writes bench-results/cluster.{json,md}.
 *
 * Run: npx tsx bench/cluster.ts
 */
import WebSocket from 'ws';
import type { ServerMessage } from '../protocol/signaling';
import { startRedis } from '../tests/helpers/redis';
import { waitFor } from '../tests/helpers/wait';
import { codeVersion, sleep, watchdog } from './harness/run';
import { percentile, round } from './harness/figures';
import { procCpuSeconds } from './harness/cpu';
import { ServerProcess } from './harness/ServerProcess';
import { writeResults } from './harness/results';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

// Its traffic stays on loopback, in a network namespace of its own (scripts/privateNetwork.ts).
await runInPrivateNetwork('bench/cluster');

const STEPS = [100, 200, 400, 800, 1200, 1600, 2000];
const SIZE = 4;
const LINES_PER_SEC = 2; // per person (the server allows 3)
const WARMUP_MS = 1500;
const MEASURE_MS = 5000;
const P99_LIMIT_MS = 250;

interface Step {
  meetings: number;
  nodes: number;
  sent: number;
  delivered: number;
  expected: number;
  deliveredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPer1000: number;
  ok: boolean;
}

/** One person: a socket that joins, sends a line every so often and times the lines it receives. */
class Person {
  private readonly ws: WebSocket;
  private seq = 0;
  joined = false;
  constructor(url: string, private readonly onLine: (sentAt: number) => void) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString('utf8')) as ServerMessage;
      if (message.type === 'joined') this.joined = true;
      else if (message.type === 'chat') this.onLine(Number(message.message.id.split(':')[1]));
    });
    this.ws.on('error', () => {});
  }
  async join(meetingId: string, name: string): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) await new Promise((resolve, reject) => this.ws.once('open', resolve).once('error', reject));
    this.ws.send(JSON.stringify({ type: 'join', id: 1, meetingId, name }));
  }
  say(): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.seq += 1;
    this.ws.send(JSON.stringify({ type: 'chat', id: 1000 + this.seq, messageId: `${this.seq}:${performance.now()}`, text: 'x' }));
    return true;
  }
  leave(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'leave' }));
    this.ws.close();
  }
}

async function runStep(nodes: ServerProcess[], meetings: number): Promise<Step> {
  let measuring = false;
  let delivered = 0;
  const latencies: number[] = [];
  const onLine = (sentAt: number): void => {
    if (!measuring) return;
    delivered += 1;
    latencies.push(performance.now() - sentAt);
  };
  const people: Person[] = [];
  for (let m = 0; m < meetings; m++) {
    const home = nodes[m % nodes.length]!;
    const id = (await home.api<{ id: string }>('POST', '/api/meetings', { title: `bench ${m}` })).id;
    for (let i = 0; i < SIZE; i++) {
      // Every other person on the other node: with two nodes, half the sockets cross.
      const node = nodes[(m + i) % nodes.length]!;
      const person = new Person(node.wsUrl, onLine);
      people.push(person);
      await person.join(id, `p${i}`);
    }
  }
  await waitFor(() => people.every((p) => p.joined), 30_000, `all ${people.length} people to join`, 50);
  // Everyone speaks LINES_PER_SEC times a second, spread evenly over the second.
  const intervalMs = 1000 / LINES_PER_SEC;
  let sent = 0;
  let next = 0;
  const started = performance.now();
  const pump = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / intervalMs) * people.length);
    for (; next < due; next++) if (people[next % people.length]!.say() && measuring) sent += 1;
  }, 10);
  await sleep(WARMUP_MS);
  const cpuBefore = nodes.reduce((s, n) => s + procCpuSeconds(n.pid), 0);
  measuring = true;
  await sleep(MEASURE_MS);
  clearInterval(pump);
  const sentMeasured = sent;
  // Lines already sent get a second to arrive.
  await sleep(1000);
  measuring = false;
  const cpuS = nodes.reduce((s, n) => s + procCpuSeconds(n.pid), 0) - cpuBefore;
  for (const p of people) p.leave();
  await sleep(1500);
  latencies.sort((a, b) => a - b);
  const expected = sentMeasured * (SIZE - 1);
  const p99Ms = percentile(latencies, 99);
  return {
    meetings,
    nodes: nodes.length,
    sent: sentMeasured,
    delivered,
    expected,
    deliveredPerSec: Math.round(delivered / (MEASURE_MS / 1000)),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(p99Ms),
    serverCpuMsPer1000: delivered > 0 ? round((cpuS * 1000 * 1000) / delivered, 2) : 0,
    // Lines sent near the end of the window may land after it: allow that sliver.
    ok: delivered >= expected * 0.99 && p99Ms < P99_LIMIT_MS,
  };
}

async function capacity(nodes: ServerProcess[]): Promise<{ held: number; steps: Step[] }> {
  const steps: Step[] = [];
  let held = 0;
  for (const meetings of STEPS) {
    const step = await runStep(nodes, meetings);
    steps.push(step);
    console.log(`  ${nodes.length} node(s), ${meetings} meetings of ${SIZE}: ${step.deliveredPerSec} lines/s delivered (${step.delivered}/${step.expected}), p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, server CPU ${step.serverCpuMsPer1000} ms per 1,000 ${step.ok ? 'ok' : 'FAIL'}`);
    if (!step.ok) break;
    held = meetings;
  }
  return { held, steps };
}

watchdog(20 * 60_000, 'bench/cluster');
const redis = await startRedis();
const env = (nodeId: string) => ({ REDIS_URL: redis.url, NODE_ID: nodeId, MEDIA_WORKERS: '0', LOG_LEVEL: 'warn', LIMIT_CREATES_PER_MIN: '100000' });
let one: { held: number; steps: Step[] };
let two: { held: number; steps: Step[] };
try {
  console.log('one node:');
  const solo = await ServerProcess.start({ env: env('solo') });
  try {
    one = await capacity([solo]);
  } finally {
    await solo.stop();
  }
  console.log('two nodes:');
  const pair = [await ServerProcess.start({ env: env('left') }), await ServerProcess.start({ env: env('right') })];
  try {
    two = await capacity(pair);
  } finally {
    await Promise.all(pair.map((n) => n.stop()));
  }
} finally {
  await redis.stop();
}
const ratio = one.held > 0 ? round(two.held / one.held, 2) : 0;
const rows = [...one.steps, ...two.steps]
  .map((s) => `| ${s.nodes} | ${s.meetings} | ${s.deliveredPerSec} | ${s.delivered}/${s.expected} | ${s.p50Ms} | ${s.p99Ms} | ${s.serverCpuMsPer1000} | ${s.ok ? 'ok' : 'FAIL'} |`)
  .join('\n');
const markdown = `# Several nodes vs one (signaling: meetings of ${SIZE}, ${LINES_PER_SEC} chat lines/s per person)

One node held ${one.held} meetings, two nodes ${two.held}: **${ratio}×** (same run, same Redis; with two nodes half the sockets cross nodes).

| nodes | meetings | lines/s delivered | delivered/expected | p50 ms | p99 ms | server CPU ms per 1,000 lines | |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows}
`;
writeResults('cluster', { ...codeVersion(), size: SIZE, linesPerSec: LINES_PER_SEC, oneNode: one, twoNodes: two, ratio }, markdown);
