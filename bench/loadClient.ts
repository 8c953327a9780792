/**
 * `LoadClient`: a headless participant on libwebrtc (@roamhq/wrtc) that speaks our real
 * `/ws` protocol exactly as the browser's RelayPath does (join, media-state, relay-offer →
 * relay-answer, relay-candidate both ways, relay-slots). Its offer has the browser's layout:
 * one sendrecv audio (a sine, or silence, as the mic), one sendonly camera (synthetic moving
 * frames), then `LIMITS.relayVideoSlots` recvonly slots. It encodes and decodes like a
 * browser; for load, the light client (`harness/LightClient.ts`) costs far less. The server
 * process, CPU figures and small helpers are in `harness/`.
 *
 * Decoding: libwebrtc decodes every received video stream whether or not a sink is
 * attached (framesDecoded grows without one), so leaving sinks off does not spare the load
 * clients' CPU. `slotVideo: 'drop'` does: the client applies the relay's answer with its slots
 * made inactive, so the relay forwards to it exactly as to a browser while libwebrtc drops
 * those packets undecoded.
 */
import wrtc, { type RTCAudioSink, type RTCAudioSource, type RTCVideoSink, type RTCVideoSource } from '@roamhq/wrtc';
import { LIMITS } from '../protocol/limits';
import { cameraFrames } from './harness/cameraFrames';
import { sleep } from './harness/run';
import { SignalingConnection } from './harness/SignalingConnection';
import type { ClientMessage, ClientRequest, IceCandidate, ServerMessage, ServerMessageOf } from '../protocol/signaling';


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
  private readonly signaling: SignalingConnection;
  private readonly pc: RTCPeerConnection;
  private readonly audioSource: RTCAudioSource | undefined;
  private readonly videoSource: RTCVideoSource | undefined;
  private readonly tracks: MediaStreamTrack[] = [];
  private readonly sinks: Array<RTCAudioSink | RTCVideoSink> = [];
  private readonly pendingCandidates: IceCandidate[] = [];
  private readonly tone: Int16Array[];
  private readonly frames: Array<{ width: number; height: number; data: Uint8Array }>;
  private answered = false;
  private closed = false;
  private chunksSent = 0;
  private framesSent = 0;
  private mediaStartedAt = 0;
  private pumping = false;
  private cameraOn = true;

  private constructor(options: LoadClientOptions, signaling: SignalingConnection) {
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
    this.signaling = signaling;
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
    signaling.onMessage = (message) => this.onMessage(message);
    signaling.onClose = () => this.onSocketClosed();
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
    const client = new LoadClient(options, await SignalingConnection.open(options.wsUrl, timeoutMs));
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
    for (const sink of this.sinks) sink.stop();
    for (const track of this.tracks) track.stop();
    try {
      this.pc.close();
    } catch {
      // already closed
    }
    this.signaling.close();
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
    return this.signaling.request(message, this.options.timeoutMs);
  }

  private send(message: Exclude<ClientMessage, { id: number }>): void {
    this.signaling.send(message);
  }

  private onMessage(message: ServerMessage): void {
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
    // Requests in flight are rejected by the connection itself.
    if (!this.closed) this.failure ??= 'signaling socket closed';
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
