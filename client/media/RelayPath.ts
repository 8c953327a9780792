/**
 * The relay path: one RTCPeerConnection to the server's relay. The offer carries one
 * sendrecv audio transceiver (microphone up, the N−1 mix down), two sendonly videos (camera
 * up, then the shared screen up, empty while not sharing) and a fixed number of recvonly
 * video slots; the server fills a slot with another participant's camera or screen and
 * says which over signaling (`relay-slots`), so joins, leaves and shares need no new
 * offer/answer round. Implements `MediaConnection`.
 */
import { LIMITS } from '../../protocol/limits';
import type { IceCandidate, IceServer, ServerMessage, VideoSource } from '../../protocol/signaling';
import type { SignalingClient } from '../signaling/SignalingClient';
import { MIX_KEY, type LocalTracks, type MediaConnection, type PathStats, type RemoteMedia } from './MediaConnection';
import { applyIceServers } from './iceServers';
import { inboundPackets, StatsSampler } from './StatsSampler';

export class RelayPath implements MediaConnection {
  readonly path = 'relay' as const;
  onRemote: (media: RemoteMedia) => void = () => {};
  /** Connection state changes, including `disconnected` (which the path stats call `connecting`). */
  onState: (state: PathStats['state'] | 'disconnected') => void = () => {};

  private readonly pc: RTCPeerConnection;
  private readonly audio: RTCRtpTransceiver;
  private readonly camera: RTCRtpTransceiver;
  private readonly screen: RTCRtpTransceiver;
  private readonly sampler = new StatsSampler('relay');
  /** mid → the participant's source shown in that slot. */
  private slots = new Map<string, { participantId: string; source: VideoSource }>();
  /** One stream per (slot, participant, source) assignment, so a reassigned slot restarts its <video>. */
  private readonly slotStreams = new Map<string, { participantId: string; source: VideoSource; stream: MediaStream }>();
  private readonly mix: MediaStream;
  private readonly pendingCandidates: IceCandidate[] = [];
  private answered = false;
  private closed = false;

  constructor(
    rtcConfig: RTCConfiguration,
    tracks: LocalTracks,
    private readonly signaling: SignalingClient,
  ) {
    this.pc = new RTCPeerConnection({ ...rtcConfig, iceServers: rtcConfig.iceServers ?? [] });
    this.audio = this.pc.addTransceiver(tracks.audio ?? 'audio', { direction: 'sendrecv' });
    this.camera = this.pc.addTransceiver(tracks.video ?? 'video', { direction: 'sendonly' });
    // The relay takes a second sending video m-line as the screen (relay/RelayPeer.ts).
    this.screen = this.pc.addTransceiver(tracks.screen ?? 'video', { direction: 'sendonly' });
    for (let i = 0; i < LIMITS.relayVideoSlots; i++) this.pc.addTransceiver('video', { direction: 'recvonly' });
    this.mix = new MediaStream([this.audio.receiver.track]);
    this.pc.addEventListener('icecandidate', (e) => {
      if (e.candidate && e.candidate.candidate) {
        this.signaling.send({ type: 'relay-candidate', candidate: e.candidate.toJSON() as IceCandidate });
      }
    });
    this.pc.addEventListener('connectionstatechange', () => this.onState(this.pc.connectionState === 'disconnected' ? 'disconnected' : this.state()));
  }

  /** Fresh ICE servers (credentials) for the relay connection. */
  setIceServers(iceServers: IceServer[]): void {
    applyIceServers(this.pc, iceServers);
  }

  /** Offers to the relay and applies its answer. */
  async connect(): Promise<void> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const reply = await this.signaling.request<'relay-answer'>({ type: 'relay-offer', sdp: this.pc.localDescription!.sdp });
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    this.answered = true;
    // Candidates can arrive before the answer: they waited here.
    for (const c of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
    this.emitRemote();
  }

  /** Relay messages from signaling. */
  handle(message: ServerMessage): void {
    if (this.closed) return;
    if (message.type === 'relay-candidate') {
      if (this.answered) void this.pc.addIceCandidate(message.candidate).catch(() => {});
      else this.pendingCandidates.push(message.candidate);
    } else if (message.type === 'relay-slots') {
      this.slots = new Map();
      for (const { mid, participantId, source } of message.slots) if (participantId !== null) this.slots.set(mid, { participantId, source });
      this.emitRemote();
    }
  }

  setLocalTracks(tracks: LocalTracks): void {
    void this.audio.sender.replaceTrack(tracks.audio).catch(() => {});
    void this.camera.sender.replaceTrack(tracks.video).catch(() => {});
    if (this.screen.sender.track !== tracks.screen) void this.screen.sender.replaceTrack(tracks.screen).catch(() => {});
  }

  get connectionState(): RTCPeerConnectionState {
    return this.pc.connectionState;
  }

  /** Connected and the mix arrives (the relay sends it every 20 ms once the path is up). */
  async carriesMedia(): Promise<boolean> {
    if (this.pc.connectionState !== 'connected') return false;
    return (await inboundPackets(this.pc)) > 0;
  }

  async stats(): Promise<PathStats> {
    // The audio mid carries the mix, nobody in particular: only video slots name a participant.
    const sample = await this.sampler.sample(
      this.pc,
      (mid) => (mid && mid !== this.audio.mid ? this.slots.get(mid)?.participantId : undefined),
      (mid) => (mid !== undefined && (mid === this.screen.mid || this.slots.get(mid)?.source === 'screen') ? 'screen' : 'camera'),
    );
    return { ...sample, state: this.state() };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
    this.onState('closed');
  }

  private state(): PathStats['state'] {
    const s = this.pc.connectionState;
    return s === 'connected' || s === 'failed' || s === 'closed' || s === 'new' ? s : 'connecting';
  }

  private emitRemote(): void {
    const videos = new Map<string, MediaStream>();
    const screens = new Map<string, MediaStream>();
    for (const transceiver of this.pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (!mid || transceiver === this.audio || transceiver === this.camera || transceiver === this.screen) continue;
      const shown = this.slots.get(mid);
      if (!shown) {
        this.slotStreams.delete(mid);
        continue;
      }
      let entry = this.slotStreams.get(mid);
      if (!entry || entry.participantId !== shown.participantId || entry.source !== shown.source) {
        entry = { ...shown, stream: new MediaStream([transceiver.receiver.track]) };
        this.slotStreams.set(mid, entry);
      }
      (shown.source === 'screen' ? screens : videos).set(shown.participantId, entry.stream);
    }
    this.onRemote({ videos, screens, audios: new Map([[MIX_KEY, this.mix]]) });
  }
}
