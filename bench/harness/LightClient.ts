/**
 * A light load participant of a relay meeting: our real `/ws` protocol (join, media-state,
 * relay-offer/answer, candidates both ways, relay-slots, relay-camera-layers: its camera
 * stops while nobody has a slot for it, as a browser's does) around a `LightPeer` (a native
 * DTLS-SRTP peer replaying pre-encoded Opus and VP8, decoding nothing).
 *
 * Why: a libwebrtc client (@roamhq/wrtc) encodes and decodes like a browser and costs more
 * CPU than the server it loads (98% of this machine at 40 people), so it, not the server,
 * set the measured ceilings. This one costs a timer tick and a native send per packet, so
 * the server's figures are the server's.
 */
import { LIMITS } from '../../protocol/limits';
import type { ServerMessage } from '../../protocol/signaling';
import { LightPeer, type LightPeerCounters } from './LightPeer';
import type { RecordedVideo } from './preEncoded';
import { SignalingConnection, SignalingError } from './SignalingConnection';

export interface LightClientOptions {
  wsUrl: string;
  meetingId: string;
  name: string;
  /** The microphone's Opus frames (looped); null: microphone off (reported, nothing sent). */
  mic: Buffer[] | null;
  /** The camera's recorded VP8 (looped); null: camera off. */
  camera: RecordedVideo | null;
  /** `Origin` header for `/ws` (the server refuses a foreign one; none is accepted). */
  origin?: string;
  /** Give up on the join, the answer or the connection after this long. */
  timeoutMs?: number;
  /** Local address for ICE (127.0.0.1 against a server on loopback; unset: every interface). */
  bindAddress?: string;
}

export class LightClient {
  participantId = '';
  /** Whose cameras and screens its slots show, from the last `relay-slots`. */
  shows: string[] = [];
  /** The camera layers the relay last asked for (`relay-camera-layers`); undefined before it asks. */
  cameraLayers: boolean[] | undefined;
  /** Why this client stopped working, if it did (closed meeting, socket, connection). */
  failure: string | undefined;
  private readonly peer: LightPeer;
  private closed = false;

  private constructor(
    private readonly options: LightClientOptions,
    private readonly signaling: SignalingConnection,
  ) {
    this.peer = new LightPeer({
      name: options.name,
      mic: options.mic,
      camera: options.camera,
      slots: LIMITS.relayVideoSlots,
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
    });
    this.peer.onCandidate = (candidate, mid) => this.signaling.send({ type: 'relay-candidate', candidate: { candidate, sdpMid: mid, sdpMLineIndex: 0 } });
    this.peer.onFailed = (state) => {
      this.failure ??= `connection ${state}`;
    };
    signaling.onMessage = (message) => this.onSignal(message);
    signaling.onClose = () => {
      if (!this.closed) this.failure ??= 'signaling socket closed';
    };
  }

  /** Connects, joins, reports its media, offers to the relay and waits until ICE and DTLS are up. */
  static async join(options: LightClientOptions): Promise<LightClient> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const signaling = await SignalingConnection.open(options.wsUrl, timeoutMs, options.origin);
    const client = new LightClient(options, signaling);
    try {
      await client.start(timeoutMs);
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Slots showing someone, from the last `relay-slots`. */
  get filledSlots(): number {
    return this.shows.length;
  }

  get counters(): Readonly<LightPeerCounters> {
    return this.peer.counters;
  }

  get connected(): boolean {
    return !this.failure && !this.closed && this.peer.state === 'connected';
  }

  /** Each received mix packet (RTP, as delivered), for a caller that wants to decode it. */
  set onMixPacket(listener: ((rtp: Buffer) => void) | null) {
    this.peer.onAudioPacket = listener;
  }

  /** Starts a new window for `counters.longestAudioGapMs` (e.g. after everyone joined). */
  resetGap(): void {
    this.peer.resetGap();
  }

  /** Leaves the meeting and closes the connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signaling.close();
    this.peer.close();
  }

  private async start(timeoutMs: number): Promise<void> {
    const o = this.options;
    const joined = await this.signaling.request({ type: 'join', meetingId: o.meetingId, name: o.name }, timeoutMs);
    if (joined.type !== 'joined') throw new SignalingError('JOIN_FAILED', `join answered ${joined.type}`);
    this.participantId = joined.self.id;
    if (joined.meeting.target !== 'relay') throw new SignalingError('NOT_RELAY', `the meeting is on ${joined.meeting.mode}, not the relay (create it with topology "relay")`);
    this.signaling.send({ type: 'media-state', audio: o.mic !== null, video: o.camera !== null });
    const answer = await this.signaling.request({ type: 'relay-offer', sdp: await this.peer.offer() }, timeoutMs);
    if (answer.type !== 'relay-answer') throw new SignalingError('OFFER_REFUSED', `relay-offer answered ${answer.type}`);
    this.peer.accept(answer.sdp);
    const deadline = performance.now() + timeoutMs;
    while (this.peer.state !== 'connected') {
      if (this.failure) throw new SignalingError('CONNECT_FAILED', this.failure);
      if (performance.now() > deadline) throw new SignalingError('CONNECT_TIMEOUT', `not connected within ${timeoutMs} ms (${this.peer.state})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private onSignal(message: ServerMessage): void {
    switch (message.type) {
      case 'relay-candidate':
        this.peer.addCandidate(message.candidate.candidate, message.candidate.sdpMid ?? '0');
        return;
      case 'relay-slots':
        this.shows = message.slots.flatMap((s) => (s.participantId === null ? [] : [s.participantId]));
        return;
      case 'relay-camera-layers':
        // One layer: sent while the relay wants it (someone has a slot for it), as a browser would.
        this.cameraLayers = message.active;
        this.peer.setCameraActive(message.active[0] ?? true);
        return;
      case 'relay-closed':
        this.failure ??= `the relay closed the connection (${message.reason})`;
        return;
      case 'meeting-closed':
        this.failure ??= `meeting ${message.reason}`;
        return;
      case 'removed-by-host':
      case 'server-restarting':
        this.failure ??= message.type;
        return;
      default:
        return; // participants, speakers, topology, chat: not needed for load
    }
  }
}
