/**
 * Audio downlink per client with server-side mixing against an SFU-only design. In a relay
 * meeting of N participants who all talk, each load client receives ONE mixed stream
 * whatever N is; an SFU that only forwards would send it the N−1 talkers' streams. Both
 * sides are measured in the same run with getStats: the mix a client receives (inbound-rtp
 * audio) and what each talker sends (outbound-rtp audio), whose rate × (N−1) is the SFU's.
 *
 * Bytes are RTP payload as getStats defines them; "on the wire" adds the RTP header
 * (headerBytes), the SRTP auth tag (10 bytes, AES_CM_128_HMAC_SHA1_80) and UDP/IPv4 (28).
 *
 * Writes bench-results/downlink.{json,md}. Run: npx tsx bench/downlink.ts
 */
import { codeVersion, isMain, sleep, watchdog } from './harness/run';
import { round } from './harness/figures';
import { ServerProcess } from './harness/ServerProcess';
import { describeRun, runContext, writeResults, type RunContext } from './harness/results';
import { LoadClient, type RtpTotals } from './harness/LoadClient';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

const SIZES = [3, 6, 10];
const SETTLE_MS = 4000;
const WINDOW_MS = 10_000;
/** Per packet beyond the RTP header: SRTP tag (80-bit HMAC) + UDP (8) + IPv4 (20). */
const SRTP_UDP_IP_BYTES = 10 + 8 + 20;

/** A rate: payload bytes/s, on-the-wire bits/s, packets/s. */
export interface AudioRate {
  payloadBytesPerS: number;
  wireKbitPerS: number;
  packetsPerS: number;
}

/** One meeting size's figures (means over its clients; min/max of the mix received). */
export interface DownlinkRow {
  participants: number;
  /** What one talker sends (mean over all of them). */
  uplinkPerTalker: AudioRate;
  /** The mix each client receives. */
  mixPerClient: AudioRate;
  mixWireKbitMin: number;
  mixWireKbitMax: number;
  /** What an SFU-only design would send each client: (N−1) × uplinkPerTalker. */
  sfuPerClient: AudioRate;
  /** sfu / mix on the wire, and in payload bytes. */
  ratioWire: number;
  ratioPayload: number;
  /** The observer heard the mix (share of audible 10 ms chunks). */
  observerAudible: number;
}

/** The whole result, as written to bench-results/downlink.json. */
export interface DownlinkBenchResult extends RunContext {
  name: 'downlink';
  code: { commit: string; dirty: boolean };
  windowMs: number;
  rows: DownlinkRow[];
}

function rate(packets: number, payload: number, header: number, seconds: number): AudioRate {
  return {
    payloadBytesPerS: payload / seconds,
    wireKbitPerS: ((payload + header + packets * SRTP_UDP_IP_BYTES) * 8) / seconds / 1000,
    packetsPerS: packets / seconds,
  };
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

async function benchSize(server: ServerProcess, n: number): Promise<DownlinkRow> {
  const meetingId = await server.createRelayMeeting(`downlink ${n}`);
  const clients: LoadClient[] = [];
  try {
    for (let i = 0; i < n; i++) {
      clients.push(
        await LoadClient.join({
          wsUrl: server.wsUrl,
          meetingId,
          name: `talker-${i}`,
          mic: 'tone',
          toneHz: 200 + 70 * i,
          camera: false,
          slotVideo: 'drop',
          listenAudio: i === 0,
        }),
      );
    }
    await sleep(SETTLE_MS);
    const started = performance.now();
    const heardBefore = clients[0]!.audibleChunks;
    const a = await Promise.all(clients.map((c) => c.rtpTotals()));
    await sleep(WINDOW_MS);
    const b = await Promise.all(clients.map((c) => c.rtpTotals()));
    const seconds = (performance.now() - started) / 1000;
    const delta = (pick: (t: RtpTotals) => { packets: number; bytes: number; headerBytes: number }) =>
      b.map((t, i) => {
        const x = pick(t);
        const y = pick(a[i]!);
        return rate(x.packets - y.packets, x.bytes - y.bytes, x.headerBytes - y.headerBytes, seconds);
      });
    const up = delta((t) => t.audioOut);
    const down = delta((t) => t.audioIn);
    const uplink: AudioRate = {
      payloadBytesPerS: mean(up.map((r) => r.payloadBytesPerS)),
      wireKbitPerS: mean(up.map((r) => r.wireKbitPerS)),
      packetsPerS: mean(up.map((r) => r.packetsPerS)),
    };
    const mix: AudioRate = {
      payloadBytesPerS: mean(down.map((r) => r.payloadBytesPerS)),
      wireKbitPerS: mean(down.map((r) => r.wireKbitPerS)),
      packetsPerS: mean(down.map((r) => r.packetsPerS)),
    };
    const sfu: AudioRate = {
      payloadBytesPerS: uplink.payloadBytesPerS * (n - 1),
      wireKbitPerS: uplink.wireKbitPerS * (n - 1),
      packetsPerS: uplink.packetsPerS * (n - 1),
    };
    const row: DownlinkRow = {
      participants: n,
      uplinkPerTalker: uplink,
      mixPerClient: mix,
      mixWireKbitMin: Math.min(...down.map((r) => r.wireKbitPerS)),
      mixWireKbitMax: Math.max(...down.map((r) => r.wireKbitPerS)),
      sfuPerClient: sfu,
      ratioWire: sfu.wireKbitPerS / Math.max(1e-9, mix.wireKbitPerS),
      ratioPayload: sfu.payloadBytesPerS / Math.max(1e-9, mix.payloadBytesPerS),
      observerAudible: (clients[0]!.audibleChunks - heardBefore) / (seconds * 100),
    };
    console.log(
      `  N=${n}: mix ${round(mix.wireKbitPerS)} kbit/s per client, SFU would send ${round(sfu.wireKbitPerS)} kbit/s ` +
        `(${n - 1} × ${round(uplink.wireKbitPerS)}): ${round(row.ratioWire, 2)}×`,
    );
    return row;
  } finally {
    for (const c of clients) c.close();
    await sleep(500);
  }
}

function markdown(result: DownlinkBenchResult): string {
  const lines = [
    '# Audio downlink per client: one mix vs N−1 forwarded streams',
    '',
    `${describeRun(result, result.code)}. Everyone talks (a sine each);`,
    `${result.windowMs / 1000} s window; getStats on @roamhq/wrtc load clients. "Wire" adds RTP header, SRTP tag and UDP/IPv4 per packet.`,
    'The SFU column is computed: (N−1) × the uplink one talker measured in the same run.',
    '',
    '| N | uplink per talker kbit/s (payload B/s, pkt/s) | mix per client kbit/s (min–max) | mix payload B/s, pkt/s | SFU-only per client kbit/s | SFU pkt/s | SFU / mix (wire) | SFU / mix (payload) | observer audible |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of result.rows) {
    const u = r.uplinkPerTalker;
    const m = r.mixPerClient;
    lines.push(
      `| ${r.participants} | ${round(u.wireKbitPerS)} (${Math.round(u.payloadBytesPerS)}, ${round(u.packetsPerS)}) | ` +
        `${round(m.wireKbitPerS)} (${round(r.mixWireKbitMin)}–${round(r.mixWireKbitMax)}) | ${Math.round(m.payloadBytesPerS)}, ${round(m.packetsPerS)} | ` +
        `${round(r.sfuPerClient.wireKbitPerS)} | ${Math.round(r.sfuPerClient.packetsPerS)} | ${round(r.ratioWire, 2)}× | ${round(r.ratioPayload, 2)}× | ` +
        `${Math.round(r.observerAudible * 100)}% |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the benchmark, prints the table, writes bench-results/downlink.{json,md}. */
export async function runDownlinkBench(): Promise<DownlinkBenchResult> {
  const server = await ServerProcess.start();
  const rows: DownlinkRow[] = [];
  try {
    for (const n of SIZES) rows.push(await benchSize(server, n));
  } finally {
    await server.stop();
  }
  const result: DownlinkBenchResult = {
    name: 'downlink',
    ...runContext(),
    code: codeVersion(),
    windowMs: WINDOW_MS,
    rows,
  };
  writeResults('downlink', result, markdown(result));
  return result;
}

if (isMain(import.meta.url)) {
  await runInPrivateNetwork('bench/downlink');
  watchdog(10 * 60_000, 'downlink');
  await runDownlinkBench();
  // libwebrtc's threads can outlive the closed connections for a while: do not wait for them.
  process.exit(0);
}
