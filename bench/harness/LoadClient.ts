/**
 * `LoadClient`: a headless participant on libwebrtc for the benchmarks that need what a
 * browser's stack reports or decodes (`downlink`: getStats, the mix it hears): the tests'
 * libwebrtc participant (`tests/helpers/wrtcClient.ts`) behind our real `/ws` protocol,
 * exactly as the browser's RelayPath speaks it (join, media-state, relay-offer →
 * relay-answer, relay-candidate both ways, relay-slots). It encodes and decodes like a
 * browser; for load, the light client (`LightClient.ts`) costs far less.
 *
 * Decoding: libwebrtc decodes every received video stream whether or not a sink is
 * attached, so leaving sinks off does not spare the load clients' CPU. `slotVideo: 'drop'`
 * does: the client applies the relay's answer with its slots made inactive, so the relay
 * forwards to it exactly as to a browser while libwebrtc drops those packets undecoded.
 */
import { LIMITS } from '../../protocol/limits';
import type { ServerMessage } from '../../protocol/signaling';
import { WrtcClient, type RtpTotals } from '../../tests/helpers/wrtcClient';
import { sleep } from './run';
import { SignalingConnection } from './SignalingConnection';

export type { RtpTotals } from '../../tests/helpers/wrtcClient';

/** Camera settings of a load client: a moving picture, so the encoder has motion to code. */
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
  /** `decode`: slots receive and decode like a browser's. `drop`: see the file comment. */
  slotVideo?: 'decode' | 'drop';
  /** Count audible 10 ms chunks of the received mix. */
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

/** A coded failure of a load client (join refused, connection failed). */
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
export class LoadClient {
  participantId = '';
  timings: JoinTimings = { joinedMs: 0, answeredMs: 0, connectedMs: 0 };
  /** Set when the server closed the meeting or the socket, or the connection failed. */
  failure: string | undefined;

  private readonly media: WrtcClient;
  private closed = false;

  private constructor(
    private readonly options: LoadClientOptions,
    private readonly signaling: SignalingConnection,
  ) {
    const camera = options.camera;
    const slots = options.slots ?? LIMITS.relayVideoSlots;
    this.media = new WrtcClient({
      luma: options.luma ?? 100,
      toneHz: options.toneHz ?? 440,
      mic: options.mic,
      camera: camera !== false,
      picture: 'moving',
      ...(camera ? { width: camera.width, height: camera.height, fps: camera.fps } : {}),
      slots,
      watchedSlots: options.sinkSlots ?? 0,
      listenAudio: options.listenAudio ?? false,
    });
    this.media.onCandidate = (candidate) => this.signaling.send({ type: 'relay-candidate', candidate });
    signaling.onMessage = (message) => this.onMessage(message);
    signaling.onClose = () => {
      // Requests in flight are rejected by the connection itself.
      if (!this.closed) this.failure ??= 'signaling socket closed';
    };
  }

  /** Connects, joins, reports its media, offers to the relay and waits until ICE/DTLS is up. */
  static async join(options: LoadClientOptions): Promise<LoadClient> {
    const startedAt = performance.now();
    const client = new LoadClient(options, await SignalingConnection.open(options.wsUrl, options.timeoutMs ?? 15_000));
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
    return !this.failure && this.media.pc.connectionState === 'connected';
  }

  /** The slot table the relay last sent. */
  get slotTable(): ReadonlyArray<{ mid: string; participantId: string | null }> {
    return this.media.slotTable;
  }

  /** Slots currently showing someone. */
  get filledSlots(): number {
    return this.media.slotTable.filter((s) => s.participantId !== null).length;
  }

  /** Decoded frames over the sinked slots, and audible chunks of the mix. */
  get framesSeen(): number {
    return this.media.framesSeen;
  }

  get audibleChunks(): number {
    return this.media.audibleChunks;
  }

  rtpTotals(): Promise<RtpTotals> {
    return this.media.rtpTotals();
  }

  /** Camera on or off as the browser's toggle does it: tells the server (media-state) and starts or stops the frames. */
  setCamera(on: boolean): void {
    if (!this.options.camera) throw new LoadClientError('NO_CAMERA', 'this client was created without a camera');
    this.media.setCamera(on);
    this.signaling.send({ type: 'media-state', audio: this.options.mic !== 'off', video: on });
  }

  /** Leaves the meeting, stops media and closes the connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.media.close();
    this.signaling.close();
  }

  private async start(startedAt: number): Promise<void> {
    const o = this.options;
    const timeoutMs = o.timeoutMs ?? 15_000;
    const joined = await this.signaling.request({ type: 'join', meetingId: o.meetingId, name: o.name }, timeoutMs);
    if (joined.type !== 'joined') throw new LoadClientError('JOIN_FAILED', `join answered ${JSON.stringify(joined)}`);
    this.participantId = joined.self.id;
    this.timings.joinedMs = performance.now() - startedAt;
    if (joined.meeting.target !== 'relay') throw new LoadClientError('NOT_RELAY', `meeting is on ${joined.meeting.mode}, not relay`);
    this.signaling.send({ type: 'media-state', audio: o.mic !== 'off', video: o.camera !== false });

    const offer = await this.media.createOffer();
    const answer = await this.signaling.request({ type: 'relay-offer', sdp: offer }, timeoutMs);
    if (answer.type !== 'relay-answer') throw new LoadClientError('OFFER_REFUSED', `relay-offer answered ${JSON.stringify(answer)}`);
    await this.media.acceptAnswer(answer.sdp, {
      dropSlotVideo: o.slotVideo === 'drop',
      ...(o.camera && o.camera.maxKbps !== undefined ? { cameraMaxKbps: o.camera.maxKbps } : {}),
    });
    this.timings.answeredMs = performance.now() - startedAt;
    await this.waitConnected(timeoutMs);
    this.timings.connectedMs = performance.now() - startedAt;
  }

  private async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.media.pc.connectionState !== 'connected') {
      const state = this.media.pc.connectionState;
      if (state === 'failed' || state === 'closed' || this.failure) {
        throw new LoadClientError('CONNECT_FAILED', `connection ${state}${this.failure ? ` (${this.failure})` : ''}`);
      }
      if (performance.now() > deadline) throw new LoadClientError('CONNECT_TIMEOUT', `not connected after ${timeoutMs} ms (${state})`);
      await sleep(20);
    }
  }

  private onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'relay-candidate':
        void this.media.addCandidate(message.candidate);
        return;
      case 'relay-slots':
        this.media.setSlots(message.slots);
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
}
