/**
 * Load for the relay benchmarks, in two parts:
 * - `LoadClient`: a headless participant on libwebrtc (@roamhq/wrtc) that speaks our real
 *   `/ws` protocol exactly as the browser's RelayPath does (join, media-state, relay-offer →
 *   relay-answer, relay-candidate both ways, relay-slots). Its offer has the browser's
 *   layout: one sendrecv audio (a sine, or silence, as the mic), one sendonly camera
 *   (synthetic moving frames), then `LIMITS.relayVideoSlots` recvonly slots.
 * - `ServerProcess`: the real coordinator (`scripts/start.ts`) in a child process, so its
 *   CPU time can be read from /proc apart from the load clients', plus small helpers to
 *   read CPU and write results.
 * (The harness lives here because the benchmarks may only add these four files.)
 *
 * Decoding: libwebrtc decodes every received video stream whether or not a sink is
 * attached (framesDecoded grows without one), so leaving sinks off does not spare the load
 * clients' CPU. `slotVideo: 'drop'` does: the client applies the relay's answer with its slots
 * made inactive, so the relay forwards to it exactly as to a browser while libwebrtc drops
 * those packets undecoded.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wrtc, { type RTCAudioSink, type RTCAudioSource, type RTCVideoSink, type RTCVideoSource } from '@roamhq/wrtc';
import WebSocket from 'ws';
import { LIMITS } from '../protocol/limits';
import { cameraFrames } from './harness/cameraFrames';
import type { MeetingDetail } from '../protocol/rest';
import type { ClientMessage, ClientRequest, IceCandidate, ServerMessage, ServerMessageOf } from '../protocol/signaling';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const SAMPLE_RATE = 48_000;
/** wrtc's RTCAudioSource takes exactly 10 ms per call. */
const CHUNK_SAMPLES = SAMPLE_RATE / 100;
const PUMP_MS = 10;

// ---------------------------------------------------------------------------------------
// Media pump: one timer for every client's mic and camera in this process.
// ---------------------------------------------------------------------------------------

interface Pumped {
  /** Pushes the media due up to `now` (ms since the pump started). */
  pump(now: number): void;
}

/** One shared 10 ms clock feeding every load client's sources (N timers would cost more than the media). */
class MediaPump {
  private readonly members = new Set<Pumped>();
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = performance.now();

  add(member: Pumped): void {
    this.members.add(member);
    if (!this.timer) this.timer = setInterval(() => this.tick(), PUMP_MS);
  }

  remove(member: Pumped): void {
    this.members.delete(member);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    const now = performance.now() - this.startedAt;
    for (const member of this.members) member.pump(now);
  }
}

const pump = new MediaPump();

/** A second of a sine as 100 chunks of 10 ms (loops seamlessly for an integer frequency). */
function toneChunks(hz: number, amplitude: number): Int16Array[] {
  const chunks: Int16Array[] = [];
  const step = (2 * Math.PI * Math.round(hz)) / SAMPLE_RATE;
  for (let c = 0; c < 100; c++) {
    const chunk = new Int16Array(CHUNK_SAMPLES);
    for (let i = 0; i < CHUNK_SAMPLES; i++) chunk[i] = Math.round(amplitude * Math.sin(step * (c * CHUNK_SAMPLES + i)));
    chunks.push(chunk);
  }
  return chunks;
}

// ---------------------------------------------------------------------------------------
// LoadClient
// ---------------------------------------------------------------------------------------

/** Camera settings of a load client. */
export interface CameraOptions {
  width: number;
  height: number;
  fps: number;
  /** Cap on the encoder's bitrate (kbit/s), so the load does not drift with bandwidth estimation. */
  maxKbps?: number;
}

/** How one load client behaves. */
export interface LoadClientOptions {
  wsUrl: string;
  meetingId: string;
  name: string;
  /** The mic sends a sine, digital silence, or nothing with the mic reported off. */
  mic: 'tone' | 'silence' | 'off';
  toneHz?: number;
  /** Synthetic camera; `false` for camera off (the camera m-line stays, without a track). */
  camera: CameraOptions | false;
  /** Luma of the camera picture (tells publishers apart). */
  luma?: number;
  /** recvonly video slots in the offer; the browser offers `LIMITS.relayVideoSlots`. */
  slots?: number;
  /** How many slots get a frame sink (counted frames); 0 = none. */
  sinkSlots?: number;
  /**
   * `decode`: slots receive and decode like a browser's. `drop`: the client marks its slots
   * inactive in the answer it applies (the relay's own answer is untouched, so the server
   * forwards exactly as to a browser), and libwebrtc drops that video instead of decoding it.
   */
  slotVideo?: 'decode' | 'drop';
  /** Attach a sink to the received mix and count audible 10 ms chunks. */
  listenAudio?: boolean;
  /** Give up on the join, answer or ICE connection after this long. */
  timeoutMs?: number;
}

/** Timings of one client's way in, in ms from the start of `join`. */
export interface JoinTimings {
  joinedMs: number;
  answeredMs: number;
  connectedMs: number;
}

/** RTP totals of one client, from getStats (bytes are payload, as the stats define them). */
export interface RtpTotals {
  audioIn: {
    packets: number;
    bytes: number;
    headerBytes: number;
    /** Playout: samples played, of which concealed (lost or late: what a listener hears as a glitch). */
    totalSamples: number;
    concealedSamples: number;
    /** Jitter buffer: summed delay (s) over emitted samples. */
    jitterBufferDelayS: number;
    jitterBufferEmitted: number;
  };
  audioOut: { packets: number; bytes: number; headerBytes: number };
  videoIn: { packets: number; bytes: number; framesDecoded: number; streams: number };
  videoOut: { packets: number; bytes: number; framesEncoded: number };
}


/** A coded failure of a load client (join refused, timeout, connection failed). */
export class LoadClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LoadClientError';
  }
}

/** One headless participant of a relay-mode meeting. */
export class LoadClient implements Pumped {
  participantId = '';
  /** The slot table the relay last sent. */
  slotTable: Array<{ mid: string; participantId: string | null }> = [];
  timings: JoinTimings = { joinedMs: 0, answeredMs: 0, connectedMs: 0 };
  /** Decoded frames over the sinked slots, and audible chunks of the mix. */
  framesSeen = 0;
  audibleChunks = 0;
  /** Set when the server closed the meeting or the socket, or the connection failed. */
  failure: string | undefined;

  private readonly options: Required<Omit<LoadClientOptions, 'camera'>> & { camera: CameraOptions | false };
  private readonly ws: WebSocket;
  private readonly pc: RTCPeerConnection;
  private readonly audioSource: RTCAudioSource | undefined;
  private readonly videoSource: RTCVideoSource | undefined;
  private readonly tracks: MediaStreamTrack[] = [];
  private readonly sinks: Array<RTCAudioSink | RTCVideoSink> = [];
  private readonly pending = new Map<number, { resolve: (m: ServerMessage) => void; reject: (e: Error) => void }>();
  private readonly pendingCandidates: IceCandidate[] = [];
  private readonly tone: Int16Array[];
  private readonly frames: Array<{ width: number; height: number; data: Uint8Array }>;
  private nextId = 1;
  private answered = false;
  private closed = false;
  private chunksSent = 0;
  private framesSent = 0;
  private mediaStartedAt = 0;
  private pumping = false;
  private cameraOn = true;

  private constructor(options: LoadClientOptions, ws: WebSocket) {
    this.options = {
      toneHz: 440,
      luma: 100,
      slots: LIMITS.relayVideoSlots,
      sinkSlots: 0,
      slotVideo: 'decode',
      listenAudio: false,
      timeoutMs: 15_000,
      ...options,
    };
    this.ws = ws;
    this.pc = new wrtc.RTCPeerConnection({ iceServers: [] });
    if (this.options.mic !== 'off') {
      this.audioSource = new wrtc.nonstandard.RTCAudioSource();
    }
    if (this.options.camera) {
      this.videoSource = new wrtc.nonstandard.RTCVideoSource();
    }
    this.tone = this.options.mic === 'tone' ? toneChunks(this.options.toneHz, 8000) : [new Int16Array(CHUNK_SAMPLES)];
    const cam = this.options.camera;
    this.frames = cam ? cameraFrames(cam.width, cam.height, this.options.luma, 16) : [];
    ws.on('message', (data: Buffer) => this.onMessage(JSON.parse(data.toString('utf8')) as ServerMessage));
    ws.on('close', () => this.onSocketClosed());
    ws.on('error', () => undefined);
    this.pc.onicecandidate = (event) => {
      const c = event.candidate;
      if (!c || !c.candidate || this.closed) return;
      this.send({ type: 'relay-candidate', candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
    };
  }

  /** Connects, joins, reports its media, offers to the relay and waits until ICE/DTLS is up. */
  static async join(options: LoadClientOptions): Promise<LoadClient> {
    const startedAt = performance.now();
    const timeoutMs = options.timeoutMs ?? 15_000;
    const ws = new WebSocket(options.wsUrl);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      timeoutMs,
      'WS_TIMEOUT',
      'the signaling socket to open',
    );
    const client = new LoadClient(options, ws);
    try {
      await client.start(startedAt);
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Whether ICE and DTLS are up (and nothing failed since). */
  get connected(): boolean {
    return !this.failure && this.pc.connectionState === 'connected';
  }

  /** RTP totals from getStats. */
  async rtpTotals(): Promise<RtpTotals> {
    const totals: RtpTotals = {
      audioIn: { packets: 0, bytes: 0, headerBytes: 0, totalSamples: 0, concealedSamples: 0, jitterBufferDelayS: 0, jitterBufferEmitted: 0 },
      audioOut: { packets: 0, bytes: 0, headerBytes: 0 },
      videoIn: { packets: 0, bytes: 0, framesDecoded: 0, streams: 0 },
      videoOut: { packets: 0, bytes: 0, framesEncoded: 0 },
    };
    if (this.closed) return totals;
    const report = await this.pc.getStats();
    report.forEach((s: Record<string, unknown>) => {
      const kind = (s.kind ?? s.mediaType) as string | undefined;
      const n = (key: string) => (typeof s[key] === 'number' ? (s[key] as number) : 0);
      if (s.type === 'inbound-rtp' && kind === 'audio') {
        totals.audioIn.packets += n('packetsReceived');
        totals.audioIn.bytes += n('bytesReceived');
        totals.audioIn.headerBytes += n('headerBytesReceived');
        totals.audioIn.totalSamples += n('totalSamplesReceived');
        totals.audioIn.concealedSamples += n('concealedSamples');
        totals.audioIn.jitterBufferDelayS += n('jitterBufferDelay');
        totals.audioIn.jitterBufferEmitted += n('jitterBufferEmittedCount');
      } else if (s.type === 'outbound-rtp' && kind === 'audio') {
        totals.audioOut.packets += n('packetsSent');
        totals.audioOut.bytes += n('bytesSent');
        totals.audioOut.headerBytes += n('headerBytesSent');
      } else if (s.type === 'inbound-rtp' && kind === 'video') {
        totals.videoIn.packets += n('packetsReceived');
        totals.videoIn.bytes += n('bytesReceived');
        totals.videoIn.framesDecoded += n('framesDecoded');
        totals.videoIn.streams += 1;
      } else if (s.type === 'outbound-rtp' && kind === 'video') {
        totals.videoOut.packets += n('packetsSent');
        totals.videoOut.bytes += n('bytesSent');
        totals.videoOut.framesEncoded += n('framesEncoded');
      }
    });
    return totals;
  }

  /** Slots currently showing someone. */
  get filledSlots(): number {
    return this.slotTable.filter((s) => s.participantId !== null).length;
  }

  /**
   * Camera on or off as the browser's toggle does it: tells the server (media-state) and
   * starts or stops feeding frames (so no video RTP flows while off).
   */
  setCamera(on: boolean): void {
    if (!this.options.camera) throw new LoadClientError('NO_CAMERA', 'this client was created without a camera');
    this.cameraOn = on;
    this.send({ type: 'media-state', audio: this.options.mic !== 'off', video: on });
  }

  /** Leaves the meeting, stops media and closes the connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    pump.remove(this);
    for (const { reject } of this.pending.values()) reject(new LoadClientError('CLOSED', 'client closed'));
    this.pending.clear();
    for (const sink of this.sinks) sink.stop();
    for (const track of this.tracks) track.stop();
    try {
      this.pc.close();
    } catch {
      // already closed
    }
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: 'leave' } satisfies ClientMessage));
      this.ws.close();
    } else {
      this.ws.terminate();
    }
  }

  /** Pushes the mic chunks and camera frames due by `now` (ms on the pump's clock). */
  pump(now: number): void {
    if (this.closed) return;
    if (!this.pumping) {
      this.pumping = true;
      this.mediaStartedAt = now;
    }
    const elapsed = now - this.mediaStartedAt;
    if (this.audioSource) {
      // Catch up on late timers (bounded), so the mic runs in real time.
      const due = Math.floor(elapsed / 10);
      if (due - this.chunksSent > 20) this.chunksSent = due - 20;
      for (; this.chunksSent < due; this.chunksSent++) {
        this.audioSource.onData({ samples: this.tone[this.chunksSent % this.tone.length], sampleRate: SAMPLE_RATE });
      }
    }
    const cam = this.options.camera;
    if (this.videoSource && cam && this.cameraOn) {
      const due = Math.floor((elapsed * cam.fps) / 1000);
      if (due > this.framesSent) {
        // Late frames are dropped, as a camera would.
        this.framesSent = due;
        this.videoSource.onFrame(this.frames[due % this.frames.length]);
      }
    }
  }

  private async start(startedAt: number): Promise<void> {
    const o = this.options;
    const joined = await this.request({ type: 'join', meetingId: o.meetingId, name: o.name });
    if (joined.type !== 'joined') throw new LoadClientError('JOIN_FAILED', `join answered ${JSON.stringify(joined)}`);
    this.participantId = joined.self.id;
    this.timings.joinedMs = performance.now() - startedAt;
    if (joined.meeting.target !== 'relay') throw new LoadClientError('NOT_RELAY', `meeting is on ${joined.meeting.mode}, not relay`);
    this.send({ type: 'media-state', audio: o.mic !== 'off', video: o.camera !== false });

    const audioTrack = this.audioSource?.createTrack();
    const videoTrack = this.videoSource?.createTrack();
    if (audioTrack) this.tracks.push(audioTrack);
    if (videoTrack) this.tracks.push(videoTrack);
    const audio = this.pc.addTransceiver(audioTrack ?? 'audio', { direction: 'sendrecv' });
    const camera = this.pc.addTransceiver(videoTrack ?? 'video', { direction: 'sendonly' });
    const slots = Array.from({ length: o.slots }, () => this.pc.addTransceiver('video', { direction: 'recvonly' }));
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    for (const slot of slots.slice(0, o.sinkSlots)) this.countFrames(slot.receiver.track);
    if (o.listenAudio) this.listen(audio.receiver.track);
    if (this.audioSource || this.videoSource) pump.add(this);

    const answer = await this.request({ type: 'relay-offer', sdp: offer.sdp ?? '' });
    if (answer.type !== 'relay-answer') throw new LoadClientError('OFFER_REFUSED', `relay-offer answered ${JSON.stringify(answer)}`);
    const sdp = mungeAnswer(answer.sdp, {
      inactive: o.slotVideo === 'drop' ? slots.map((t) => t.mid) : [],
      ...(o.camera && o.camera.maxKbps !== undefined && camera.mid !== null ? { cap: { mid: camera.mid, kbps: o.camera.maxKbps } } : {}),
    });
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.answered = true;
    this.timings.answeredMs = performance.now() - startedAt;
    for (const candidate of this.pendingCandidates.splice(0)) await this.addCandidate(candidate);
    await this.waitConnected(o.timeoutMs);
    this.timings.connectedMs = performance.now() - startedAt;
  }

  private async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.pc.connectionState !== 'connected') {
      const state = this.pc.connectionState;
      if (state === 'failed' || state === 'closed' || this.failure) {
        throw new LoadClientError('CONNECT_FAILED', `connection ${state}${this.failure ? ` (${this.failure})` : ''}`);
      }
      if (performance.now() > deadline) throw new LoadClientError('CONNECT_TIMEOUT', `not connected after ${timeoutMs} ms (${state})`);
      await sleep(20);
    }
  }

  private request(message: ClientRequest): Promise<ServerMessage> {
    const id = this.nextId++;
    return withTimeout(
      new Promise<ServerMessage>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.ws.send(JSON.stringify({ ...message, id }));
      }),
      this.options.timeoutMs,
      'REQUEST_TIMEOUT',
      `the reply to ${message.type}`,
    ).finally(() => this.pending.delete(id));
  }

  private send(message: Exclude<ClientMessage, { id: number }>): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private onMessage(message: ServerMessage): void {
    if ('id' in message && message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      if (waiter) {
        waiter.resolve(message);
        return;
      }
    }
    switch (message.type) {
      case 'relay-candidate':
        if (this.answered) void this.addCandidate(message.candidate);
        else this.pendingCandidates.push(message.candidate);
        return;
      case 'relay-slots':
        this.slotTable = (message as ServerMessageOf<'relay-slots'>).slots;
        return;
      case 'meeting-closed':
        this.failure = `meeting ${message.reason}`;
        return;
      case 'error':
        if (message.id === undefined) this.failure ??= `error ${message.code}: ${message.message}`;
        return;
      default:
        // participant-joined/left/media, speakers, topology, chat: not needed for load.
        return;
    }
  }

  private async addCandidate(candidate: IceCandidate): Promise<void> {
    if (this.closed) return;
    try {
      await this.pc.addIceCandidate({
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      });
    } catch {
      // A candidate for a transport libwebrtc bundled away: harmless.
    }
  }

  private onSocketClosed(): void {
    if (!this.closed) this.failure ??= 'signaling socket closed';
    for (const { reject } of this.pending.values()) reject(new LoadClientError('SOCKET_CLOSED', 'signaling socket closed'));
    this.pending.clear();
  }

  private countFrames(track: MediaStreamTrack): void {
    const sink = new wrtc.nonstandard.RTCVideoSink(track);
    sink.onframe = () => {
      this.framesSeen += 1;
    };
    this.sinks.push(sink);
  }

  private listen(track: MediaStreamTrack): void {
    const sink = new wrtc.nonstandard.RTCAudioSink(track);
    sink.ondata = ({ samples }) => {
      let sum = 0;
      for (let i = 0; i < samples.length; i += 4) sum += samples[i] * samples[i];
      if (Math.sqrt(sum / Math.max(1, samples.length / 4)) > 500) this.audibleChunks += 1;
    };
    this.sinks.push(sink);
  }
}

/**
 * The relay's answer as this client applies it (the relay never sees the change):
 * - `inactive` m-sections (by mid) become inactive, so libwebrtc creates no receive stream
 *   for them and drops the RTP the relay sends there instead of decoding it;
 * - `cap` adds `b=AS` to the camera's m-section, which caps what libwebrtc sends on it
 *   (wrtc's `setParameters` rejects a maxBitrate change).
 */
function mungeAnswer(sdp: string, change: { inactive: Array<string | null>; cap?: { mid: string; kbps: number } }): string {
  const inactive = new Set(change.inactive.filter((m): m is string => m !== null));
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(/(?=^m=)/m)
    .map((section) => {
      const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
      if (mid !== undefined && inactive.has(mid)) {
        return section.replace(/^a=(sendrecv|sendonly|recvonly)(?=\r?$)/m, 'a=inactive').replace(/^a=ssrc(-group)?:[^\n]*\n/gm, '');
      }
      if (mid !== undefined && mid === change.cap?.mid) {
        return section.replace(/^b=AS:[^\n]*\n/m, '').replace(/^(c=[^\r\n]*)/m, `$1${eol}b=AS:${change.cap.kbps}`);
      }
      return section;
    })
    .join('');
}

// ---------------------------------------------------------------------------------------
// The coordinator in a child process
// ---------------------------------------------------------------------------------------

/** CPU seconds of a process (all threads) and of its main thread (the event loop). */
export interface CpuTimes {
  processS: number;
  mainThreadS: number;
}

/** A warning or error the server logged (pino JSON on stdout). */
export interface ServerLogLine {
  level: number;
  msg: string;
  line: string;
}

const CLK_TCK = 100; // USER_HZ on Linux (`getconf CLK_TCK`)
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** utime + stime of /proc/<pid>[/task/<tid>]/stat, in seconds. */
export function procCpuSeconds(pid: number, tid?: number): number {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  const stat = readFileSync(path, 'utf8');
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
}

/** A process's children, grandchildren, … (a server's media worker processes), from /proc. */
export function descendantPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)) {
        out.push(child, ...descendantPids(child));
      }
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

/** CPU seconds of a process and its descendants (those alive now). */
export function treeCpuSeconds(pid: number): number {
  let total = procCpuSeconds(pid);
  for (const child of descendantPids(pid)) {
    try {
      total += procCpuSeconds(child);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** This process's CPU time (all threads: includes libwebrtc's). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Busy, interrupt (irq + softirq: mostly the kernel's loopback networking) and total jiffies of the machine (/proc/stat). */
export function machineJiffies(): { busy: number; irq: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = values[3] + (values[4] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - idle, irq: (values[5] ?? 0) + (values[6] ?? 0), total };
}

/**
 * Datagrams the kernel dropped because a UDP socket of process `pid` had a full receive
 * buffer (the `drops` column of /proc/net/udp{,6} for that process's sockets): the sign of
 * a receiver that did not read fast enough, e.g. a blocked event loop.
 */
export function udpDropsOf(pid: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith('socket:[')) inodes.add(target.slice(8, -1));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return 0;
  }
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 13 && inodes.has(fields[9]!)) drops += Number(fields[12]);
    }
  }
  return drops;
}

/** A server's `GET /metrics` as name{labels} → value. */
export async function readMetrics(baseUrl: string): Promise<Map<string, number>> {
  const response = await fetch(baseUrl + '/metrics');
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The coordinator (`scripts/start.ts`: HTTP, signaling, relay, mixer) in its own process, TURN off. */
export class ServerProcess {
  /** The first lines logged at warn or above. */
  readonly logs: ServerLogLine[] = [];
  /** Log lines at warn or above, counted by message. */
  readonly warnings = new Map<string, number>();
  /** Every lifecycle line (info and above, HTTP request lines aside), counted by level, message and reason. */
  readonly events = new Map<string, number>();
  /** The first lifecycle lines after start, with their time (ms since the server was ready). */
  readonly timeline: Array<{ atMs: number; line: string }> = [];
  private readonly readyAt = performance.now();
  private exited = false;
  private readonly exitPromise: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly tempDir: string,
  ) {
    this.exitPromise = new Promise((resolve) => child.once('exit', (code) => {
      this.exited = true;
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws') + '/ws';
  }

  /**
   * Starts `node --import tsx scripts/start.ts` on 127.0.0.1, a free port, a temporary record.
   * `nodeArgs` go to node before the script (e.g. `--cpu-prof` to profile the server under load).
   */
  static async start(options: { timeoutMs?: number; nodeArgs?: string[]; /** More settings, e.g. REDIS_URL and NODE_ID. */ env?: Record<string, string> } = {}): Promise<ServerProcess> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const tempDir = mkdtempSync(join(tmpdir(), 'meetmesh-bench-'));
    const args = [...(options.nodeArgs ?? []), '--import', 'tsx', join(ROOT, 'scripts', 'start.ts')];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        TURN_DISABLED: '1',
        // Every load client comes from loopback: lift the per-address limits and the meeting size cap.
        LIMIT_SOCKETS_PER_IP: '10000',
        LIMIT_JOINS_PER_MIN: '100000',
        LIMIT_MESSAGES_PER_SEC: '10000',
        MAX_PARTICIPANTS: '10000',
        DB_PATH: join(tempDir, 'meetings.db'),
        // Lifecycle lines (peer state, participant left the relay, and why) are info.
        LOG_LEVEL: 'info',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Never leave the server behind, whatever happens to this process (Ctrl-C included).
    const killer = () => child.kill('SIGKILL');
    const interrupted = () => {
      killer();
      process.exit(130);
    };
    process.once('exit', killer);
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    child.once('exit', () => {
      process.off('exit', killer);
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    });

    let server: ServerProcess | undefined;
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`server did not print its URL within ${timeoutMs} ms`)), timeoutMs);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const ready = /Meetings are ready: open (\S+)/.exec(line);
          if (ready) {
            clearTimeout(timer);
            resolve(ready[1]);
          } else if (line.startsWith('{')) {
            server?.onLogLine(line);
          }
        }
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim()) server?.onLogLine(JSON.stringify({ level: 50, msg: `stderr: ${line}` }));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with code ${code} before it was ready`));
      });
    });
    server = new ServerProcess(child, url, tempDir);
    return server;
  }

  /** CPU time used so far by the whole server process and by its main thread. */
  cpu(): CpuTimes {
    if (this.exited) throw new Error('server process exited');
    // Media workers are threads (werift) or child processes (RELAY_TRANSPORT=datachannel): count both.
    return { processS: treeCpuSeconds(this.pid), mainThreadS: procCpuSeconds(this.pid, this.pid) };
  }

  /** A JSON call to the server's REST API. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Creates a meeting that always uses the relay; returns its id. */
  async createRelayMeeting(title: string): Promise<string> {
    const created = await this.api<{ id: string }>('POST', '/api/meetings', { title, topology: 'relay' });
    return created.id;
  }

  /** `GET /api/meetings/:id`, whose `relay` object carries the relay and mixer counters. */
  meeting(id: string): Promise<MeetingDetail> {
    return this.api<MeetingDetail>('GET', `/api/meetings/${id}`);
  }

  /** `GET /metrics` as name{labels} → value. */
  metrics(): Promise<Map<string, number>> {
    return readMetrics(this.url);
  }

  /** Lifecycle lines worth a reader's attention: warnings, errors, lost connections, failures. */
  notableEvents(): Record<string, number> {
    return Object.fromEntries([...this.events].filter(([key]) => !key.startsWith('info ') || /lost|fail|error|timeout/i.test(key)));
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and removes its record. */
  async stop(graceMs = 12_000): Promise<void> {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    rmSync(this.tempDir, { recursive: true, force: true });
  }

  private onLogLine(line: string): void {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; reason?: unknown; req?: unknown; res?: unknown };
      const level = entry.level ?? 0;
      const msg = entry.msg ?? '';
      if (entry.req !== undefined || entry.res !== undefined) return; // HTTP request lines
      const key = `${LEVEL_NAMES[level] ?? level} ${msg}${typeof entry.reason === 'string' ? ` (${entry.reason})` : ''}`;
      this.events.set(key, (this.events.get(key) ?? 0) + 1);
      if (this.timeline.length < 2000) this.timeline.push({ atMs: Math.round(performance.now() - this.readyAt), line: line.slice(0, 400) });
      if (level < 40) return;
      if (this.logs.length < 200) this.logs.push({ level, msg, line: line.slice(0, 600) });
      this.warnings.set(msg, (this.warnings.get(msg) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
}

/** CPU counters at one moment: the server's, this process's (the load clients) and the machine's. */
export interface CpuSample {
  at: number;
  server: CpuTimes;
  clients: number;
  machine: { busy: number; irq: number; total: number };
  /** UDP receive-buffer drops so far on the server's sockets and on the load clients'. */
  udpDrops: { server: number; clients: number };
}

/** CPU use between two samples, in cores (1 = one core fully busy). */
export interface CpuWindow {
  seconds: number;
  /** The whole server process (all its threads). */
  serverCores: number;
  /** The server's main thread: its event loop, where relay and mixer run. */
  serverMainCores: number;
  /** This process: the load clients (libwebrtc threads included). */
  clientCores: number;
  /** Interrupt handling (irq + softirq), mostly the kernel moving our loopback UDP. */
  irqCores: number;
  /** Everything else on the machine (other programs): large values mean the figures are disturbed. */
  backgroundCores: number;
  machineCores: number;
  /** Datagrams dropped for a full receive buffer in the window (server sockets, client sockets). */
  udpDropsServer: number;
  udpDropsClients: number;
}

/** Samples the CPU counters. */
export function sampleCpu(server: ServerProcess): CpuSample {
  return {
    at: performance.now(),
    server: server.cpu(),
    clients: selfCpuSeconds(),
    machine: machineJiffies(),
    udpDrops: { server: [server.pid, ...descendantPids(server.pid)].reduce((n, pid) => n + udpDropsOf(pid), 0), clients: udpDropsOf(process.pid) },
  };
}

/** CPU use between two samples. */
export function cpuBetween(a: CpuSample, b: CpuSample): CpuWindow {
  const seconds = (b.at - a.at) / 1000;
  const jiffies = Math.max(1, b.machine.total - a.machine.total);
  const machineCores = ((b.machine.busy - a.machine.busy) / jiffies) * cpus().length;
  const irqCores = ((b.machine.irq - a.machine.irq) / jiffies) * cpus().length;
  const serverCores = (b.server.processS - a.server.processS) / seconds;
  const clientCores = (b.clients - a.clients) / seconds;
  return {
    seconds,
    serverCores,
    serverMainCores: (b.server.mainThreadS - a.server.mainThreadS) / seconds,
    clientCores,
    irqCores,
    backgroundCores: Math.max(0, machineCores - serverCores - clientCores - irqCores),
    machineCores,
    // Counters of sockets closed in between vanish with them: never below zero.
    udpDropsServer: Math.max(0, b.udpDrops.server - a.udpDrops.server),
    udpDropsClients: Math.max(0, b.udpDrops.clients - a.udpDrops.clients),
  };
}

/**
 * Waits (at most `maxWaitMs`) until other programs use less than `maxBackground` cores over
 * one second, so a measurement window does not start in the middle of someone else's job.
 * Returns the background seen last.
 */
export async function waitForQuiet(server: ServerProcess, maxBackground = 0.25, maxWaitMs = 60_000): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const a = sampleCpu(server);
    await sleep(1000);
    const background = cpuBetween(a, sampleCpu(server)).backgroundCores;
    if (background < maxBackground || performance.now() > deadline) return background;
  }
}

/** The code measured: commit, and whether the server's sources had uncommitted changes. */
export function codeVersion(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'relay', 'coordinator', 'protocol'], { cwd: ROOT, encoding: 'utf8' });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

// ---------------------------------------------------------------------------------------
// Small shared helpers
// ---------------------------------------------------------------------------------------

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a `LoadClientError(code)` if `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, code: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LoadClientError(code, `timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export { writeResults } from './harness/results';

/** Ends this process after `ms` whatever happens (benchmarks must stop by themselves). */
export function watchdog(ms: number, what: string): NodeJS.Timeout {
  const timer = setTimeout(() => {
    console.error(`${what}: still running after ${Math.round(ms / 1000)} s, giving up`);
    process.exit(2);
  }, ms);
  timer.unref();
  return timer;
}
