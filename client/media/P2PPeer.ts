/**
 * The WebRTC connection to one other browser, on simple-peer (the maintained fork; see
 * the README for why). Both sides know both ids, so the smaller id offers and the other
 * answers: no glare, no coordination. Signals go through the coordinator, which passes
 * them only to members of the same meeting.
 */
import SimplePeer, { type SignalData } from '@thaunknown/simple-peer';
import { decodePeerData, type PeerDataMessage } from '../../protocol/peerData';
import type { PeerSignal } from '../../protocol/signaling';
import type { LocalTracks } from './MediaConnection';

export interface P2PPeerEvents {
  signal: (data: PeerSignal) => void;
  stream: (stream: MediaStream) => void;
  data: (message: PeerDataMessage) => void;
  state: (state: RTCPeerConnectionState) => void;
}

export class P2PPeer {
  private readonly peer: SimplePeer;
  private readonly remoteStream = new MediaStream();
  private tracks: LocalTracks;
  private closed = false;

  constructor(
    readonly remoteId: string,
    initiator: boolean,
    rtcConfig: RTCConfiguration,
    tracks: LocalTracks,
    events: P2PPeerEvents,
  ) {
    this.tracks = tracks;
    this.peer = new SimplePeer({
      initiator,
      // Always our own list (possibly empty): simple-peer's default would ask Google's STUN.
      config: { ...rtcConfig, iceServers: rtcConfig.iceServers ?? [] },
      trickle: true,
      // Receive both kinds even if we have no device of that kind.
      offerOptions: { offerToReceiveAudio: true, offerToReceiveVideo: true },
    });
    const pc = this.peer._pc;
    if (pc) {
      // One sendrecv transceiver per kind from the start, so turning a device on later is
      // a replaceTrack, never a renegotiation. The offerer adds them; the answerer gets
      // them from the offer (an offer never reuses addTransceiver()-made transceivers).
      if (initiator) {
        pc.addTransceiver(tracks.audio ?? 'audio', { direction: 'sendrecv' });
        pc.addTransceiver(tracks.video ?? 'video', { direction: 'sendrecv' });
      }
      pc.addEventListener('connectionstatechange', () => events.state(pc.connectionState));
      pc.addEventListener('track', (event) => {
        if (!initiator) {
          // Fires inside setRemoteDescription(offer), before the answer is created, so the
          // answer already says sendrecv and carries our track.
          event.transceiver.direction = 'sendrecv';
          void event.transceiver.sender.replaceTrack(this.trackOfKind(event.track.kind)).catch(() => {});
        }
        this.remoteStream.addTrack(event.track);
        events.stream(this.remoteStream);
      });
    }
    this.peer.on('signal', (data) => events.signal(data as PeerSignal));
    this.peer.on('data', (raw) => {
      const message = decodePeerData(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
      if (message) events.data(message);
    });
    this.peer.on('error', () => events.state('failed'));
    this.peer.on('close', () => events.state('closed'));
  }

  get connection(): RTCPeerConnection | null {
    return this.peer._pc;
  }

  /** True while the data channel can carry a message. */
  get canSend(): boolean {
    return this.peer.connected && !this.closed;
  }

  signal(data: PeerSignal): void {
    if (!this.closed) this.peer.signal(data as SignalData);
  }

  send(message: PeerDataMessage): boolean {
    if (!this.canSend) return false;
    try {
      this.peer.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends these tracks on the existing transceivers (null stops sending that kind). */
  setLocalTracks(tracks: LocalTracks): void {
    this.tracks = tracks;
    const pc = this.peer._pc;
    if (!pc) return;
    for (const kind of ['audio', 'video'] as const) {
      const transceiver = pc.getTransceivers().find((t) => t.receiver.track.kind === kind);
      void transceiver?.sender.replaceTrack(this.trackOfKind(kind)).catch(() => {});
    }
  }

  private trackOfKind(kind: string): MediaStreamTrack | null {
    return kind === 'audio' ? this.tracks.audio : kind === 'video' ? this.tracks.video : null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.destroy();
  }
}
