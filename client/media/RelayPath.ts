/**
 * The relay path: one RTCPeerConnection to the server's relay. The offer carries one
 * sendrecv audio transceiver (microphone up, the N−1 mix down), two sendonly videos (camera
 * up, then the shared screen up, empty while not sharing) and a fixed number of recvonly
 * video slots; the server fills a slot with another participant's camera or screen and
 * says which over signaling (`relay-slots`), so joins, leaves and shares need no new
 * offer/answer round. Chromium sends the camera as simulcast layers (`simulcast.ts`); the
 * relay is told how large each slot is shown (`relay-view`), and says per slot which layer
 * it forwards or that it paused it, and what it thinks this client's downlink carries.
 * Implements `MediaConnection`.
 */
import { LIMITS } from '../../protocol/limits';
import type { IceCandidate, IceServer, ServerMessage, SlotView, VideoSource } from '../../protocol/signaling';
import type { SignalingClient } from '../signaling/SignalingClient';
import { MIX_KEY, type LocalTracks, type MediaConnection, type PathStats, type RelayVideoState, type RemoteMedia } from './MediaConnection';
import { applyIceServers } from './iceServers';
import { RelayView, videoKey, type RenderSize } from './RelayView';
import { applySimulcastEncodings, canSimulcast, declareSimulcast, freshSsrcs, setLayersActive, simulcastLayersFor } from './simulcast';
import { inboundPackets, StatsSampler } from './StatsSampler';

/** The camera's m-line in the relay offer (0-based): right after the audio one. */
const CAMERA_M_LINE = 1;

/** What a relay slot carries now. */
interface SlotContent extends RelayVideoState {
  participantId: string;
  source: VideoSource;
}

/** The relay's word on a slot: its layer or pause (absent fields stay absent). */
function stateOf(slot: RelayVideoState): RelayVideoState {
  return { ...(slot.paused ? { paused: slot.paused } : {}), ...(slot.waiting ? { waiting: true } : {}), ...(slot.layer ? { layer: slot.layer } : {}) };
}

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
  /** mid → the participant's source shown in that slot, and how the relay serves it. */
  private slots = new Map<string, SlotContent>();
  /** One stream per (slot, participant, source) assignment, so a reassigned slot restarts its <video>. */
  private readonly slotStreams = new Map<string, { participantId: string; source: VideoSource; stream: MediaStream }>();
  private readonly mix: MediaStream;
  private readonly pendingCandidates: IceCandidate[] = [];
  private answered = false;
  private closed = false;
  /** Camera layers sent: chosen at connect from the capture size, kept across camera changes. */
  private readonly layers: number;
  private readonly captureSize: RenderSize | null;
  private readonly view: RelayView;
  /** How large the UI shows each received video, by `videoKey`. */
  private renderSizes: ReadonlyMap<string, RenderSize> = new Map();
  private downlink: PathStats['downlink'];
  /** The camera layers the relay asked to send (lowest first; all at first), and the change being applied. */
  private cameraLayersActive: readonly boolean[] | undefined;
  private cameraLayersApplied: Promise<unknown> = Promise.resolve();

  /**
   * `cameraSize`: the camera's capture size (also while it is off), which decides how many
   * simulcast layers it is sent as; null sends one.
   */
  constructor(
    rtcConfig: RTCConfiguration,
    tracks: LocalTracks,
    private readonly signaling: SignalingClient,
    cameraSize: RenderSize | null = null,
  ) {
    this.captureSize = cameraSize;
    // `?layers=1` publishes one layer where simulcast would be used (what layers cost: bench/weak-viewer.ts).
    const oneLayer = new URLSearchParams(location.search).get('layers') === '1';
    this.layers = cameraSize && canSimulcast() && !oneLayer ? simulcastLayersFor(cameraSize.width, cameraSize.height) : 1;
    this.view = new RelayView((slots, resync) => this.signaling.send({ type: 'relay-view', slots, ...(resync ? { resync: true } : {}) }));
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

  /** Offers to the relay (the camera as simulcast layers where the browser can) and applies its answer. */
  async connect(): Promise<void> {
    const offer = await this.pc.createOffer();
    const layered = this.withSimulcast(offer);
    await this.pc.setLocalDescription(layered).catch(async (err: unknown) => {
      if (layered === offer) throw err;
      // A browser that refuses the rewritten offer still gets on the relay, with one layer.
      console.warn(`relay: the simulcast offer was refused (${String(err)}); sending one layer`);
      await this.pc.setLocalDescription(offer);
    });
    if (this.layers > 1 && this.captureSize) {
      const set = await applySimulcastEncodings(this.camera.sender, this.layers, this.captureSize).catch(() => null);
      if (!set) console.warn(`relay: the browser did not take ${this.layers} camera layers; sending what it sends`);
    }
    const reply = await this.signaling.request<'relay-answer'>({ type: 'relay-offer', sdp: this.pc.localDescription!.sdp });
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    this.answered = true;
    // Candidates can arrive before the answer: they waited here.
    for (const c of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
    this.emitRemote();
    this.reportView();
  }

  /** How large the UI shows each received video (by `videoKey`); the relay is told per slot. */
  setRenderSizes(sizes: ReadonlyMap<string, RenderSize>): void {
    this.renderSizes = sizes;
    this.reportView();
  }

  /** Signaling came back: tell the relay the view again, and ask for what it sent meanwhile. */
  resendView(): void {
    this.view.forget();
    this.reportView();
  }

  /** Relay messages from signaling. */
  handle(message: ServerMessage): void {
    if (this.closed) return;
    if (message.type === 'relay-candidate') {
      if (this.answered) void this.pc.addIceCandidate(message.candidate).catch(() => {});
      else this.pendingCandidates.push(message.candidate);
    } else if (message.type === 'relay-slots') {
      this.slots = new Map();
      for (const slot of message.slots) {
        if (slot.participantId !== null) this.slots.set(slot.mid, { participantId: slot.participantId, source: slot.source, ...stateOf(slot) });
      }
      this.emitRemote();
      this.reportView();
    } else if (message.type === 'relay-downlink') {
      this.downlink = message.report;
    } else if (message.type === 'relay-camera-layers') {
      // `?dynacast=0` sends every layer anyway (what turning them off saves: bench/browser-cpu.ts).
      if (new URLSearchParams(location.search).get('dynacast') === '0') return;
      this.setCameraLayers(message.active);
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
    // What the relay says of each slot: its layer or pause (a paused slot may have no frames to sample).
    const inboundVideo = sample.inboundVideo.map((v) => ({ ...v, ...this.slotState(v.participantId, v.source) }));
    for (const slot of this.slots.values()) {
      if (slot.paused && !inboundVideo.some((v) => v.participantId === slot.participantId && v.source === slot.source)) {
        inboundVideo.push({ participantId: slot.participantId, source: slot.source, width: 0, height: 0, fps: 0, paused: slot.paused });
      }
    }
    const layers = this.cameraLayersActive;
    const unwatched = layers?.filter((on) => !on).length ?? 0;
    return { ...sample, inboundVideo, state: this.state(), ...(this.downlink ? { downlink: this.downlink } : {}), ...(layers && unwatched > 0 ? { unwatchedLayers: { paused: unwatched, of: layers.length } } : {}) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.view.close();
    this.pc.close();
    this.onState('closed');
  }

  private state(): PathStats['state'] {
    const s = this.pc.connectionState;
    return s === 'connected' || s === 'failed' || s === 'closed' || s === 'new' ? s : 'connecting';
  }

  /**
   * The relay's word on which camera layers someone watches: applied in order (one
   * `setParameters` at a time), the last word winning.
   */
  private setCameraLayers(active: readonly boolean[]): void {
    this.cameraLayersActive = active;
    this.cameraLayersApplied = this.cameraLayersApplied.then(async () => {
      if (this.closed || this.cameraLayersActive !== active) return;
      if (!(await setLayersActive(this.camera.sender, active))) console.warn(`relay: asked to set ${active.length} camera layers, the sender has others`);
    }).catch((err: unknown) => console.warn(`relay: could not set the camera layers (${String(err)})`));
  }

  /** The offer with the camera m-section declaring the simulcast layers (as written when one layer or no cname). */
  private withSimulcast(offer: RTCSessionDescriptionInit): RTCSessionDescriptionInit {
    if (this.layers <= 1 || !offer.sdp || this.pc.getTransceivers()[CAMERA_M_LINE] !== this.camera) return offer;
    const sdp = declareSimulcast(offer.sdp, CAMERA_M_LINE, freshSsrcs(this.layers));
    return sdp ? { type: 'offer', sdp } : offer;
  }

  private slotState(participantId: string, source: VideoSource): RelayVideoState {
    for (const slot of this.slots.values()) if (slot.participantId === participantId && slot.source === source) return stateOf(slot);
    return {};
  }

  /** Every receiving slot with the size its participant's tile is shown at (0 × 0: not shown), once the slots have mids. */
  private reportView(): void {
    if (!this.answered || this.closed) return;
    const slots: SlotView[] = [];
    for (const transceiver of this.receivingSlots()) {
      const shown = this.slots.get(transceiver.mid!);
      const size = shown && this.renderSizes.get(videoKey(shown.participantId, shown.source));
      slots.push({ mid: transceiver.mid!, width: size?.width ?? 0, height: size?.height ?? 0 });
    }
    this.view.update(slots);
  }

  /** The recvonly video slots (with mids once the offer is set). */
  private receivingSlots(): RTCRtpTransceiver[] {
    return this.pc.getTransceivers().filter((t) => t.mid && t !== this.audio && t !== this.camera && t !== this.screen);
  }

  private emitRemote(): void {
    const videos = new Map<string, MediaStream>();
    const screens = new Map<string, MediaStream>();
    const relayVideo = new Map<string, RelayVideoState>();
    let free = 0;
    for (const transceiver of this.pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (!mid || transceiver === this.audio || transceiver === this.camera || transceiver === this.screen) continue;
      const shown = this.slots.get(mid);
      if (!shown) {
        this.slotStreams.delete(mid);
        free += 1;
        continue;
      }
      let entry = this.slotStreams.get(mid);
      if (!entry || entry.participantId !== shown.participantId || entry.source !== shown.source) {
        entry = { ...shown, stream: new MediaStream([transceiver.receiver.track]) };
        this.slotStreams.set(mid, entry);
      }
      (shown.source === 'screen' ? screens : videos).set(shown.participantId, entry.stream);
      relayVideo.set(videoKey(shown.participantId, shown.source), stateOf(shown));
    }
    this.onRemote({ videos, screens, audios: new Map([[MIX_KEY, this.mix]]), relayVideo, slotsFull: this.slots.size > 0 && free === 0 });
  }
}
