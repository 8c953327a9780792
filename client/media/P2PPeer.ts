/**
 * The WebRTC connection to one other browser, on simple-peer (the maintained fork; see
 * the README for why). Both sides know both ids, so the smaller id offers and the other
 * answers: no glare, no coordination. Signals go through the coordinator, which passes
 * them only to members of the same meeting.
 *
 * Three transceivers from the start, in this m-line order on both sides: audio, camera,
 * screen. The second video is the screen by position, so a share starting or stopping is
 * a `replaceTrack`, never a renegotiation; whether to show it follows the sharer's
 * `screen` flag from signaling.
 */
import SimplePeer, { type SignalData } from '@thaunknown/simple-peer';
import { decodePeerData, type PeerDataMessage } from '../../protocol/peerData';
import type { PeerSignal, VideoSource } from '../../protocol/signaling';
import type { LocalTracks } from './MediaConnection';

/** What one of the connection's transceivers carries. */
type Role = 'audio' | VideoSource;

export interface P2PPeerEvents {
  signal: (data: PeerSignal) => void;
  /** The peer's microphone and camera (one stream). */
  stream: (stream: MediaStream) => void;
  /** The peer's screen track (shown only while they say they share). */
  screen: (stream: MediaStream) => void;
  data: (message: PeerDataMessage) => void;
  state: (state: RTCPeerConnectionState) => void;
}

export class P2PPeer {
  private readonly peer: SimplePeer;
  private readonly remoteStream = new MediaStream();
  private readonly screenStream = new MediaStream();
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
        pc.addTransceiver(tracks.screen ?? 'video', { direction: 'sendrecv' });
      }
      pc.addEventListener('connectionstatechange', () => events.state(pc.connectionState));
      pc.addEventListener('track', (event) => {
        const role = this.roleOf(event.transceiver);
        if (!initiator) {
          // Fires inside setRemoteDescription(offer), before the answer is created, so the
          // answer already says sendrecv and carries our track.
          event.transceiver.direction = 'sendrecv';
          if (role) void event.transceiver.sender.replaceTrack(this.trackOf(role)).catch(() => {});
        }
        if (role === 'screen') {
          this.screenStream.addTrack(event.track);
          events.screen(this.screenStream);
        } else {
          this.remoteStream.addTrack(event.track);
          events.stream(this.remoteStream);
        }
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

  /** Sends these tracks on the existing transceivers (null stops sending that one). */
  setLocalTracks(tracks: LocalTracks): void {
    this.tracks = tracks;
    const pc = this.peer._pc;
    if (!pc) return;
    for (const transceiver of pc.getTransceivers()) {
      const role = this.roleOf(transceiver);
      if (role && transceiver.sender.track !== this.trackOf(role)) void transceiver.sender.replaceTrack(this.trackOf(role)).catch(() => {});
    }
  }

  /** Whether the video on `mid` (both directions) is the camera or the screen. */
  sourceOfMid(mid: string | undefined): VideoSource {
    const transceiver = this.peer._pc?.getTransceivers().find((t) => t.mid === mid);
    return transceiver && this.roleOf(transceiver) === 'screen' ? 'screen' : 'camera';
  }

  /**
   * The transceiver's role by position: the first audio, the first video (camera), the
   * second video (screen). Both sides create them in m-line order (the offerer by
   * addTransceiver, the answerer from the offer), and `getTransceivers()` keeps that order.
   */
  private roleOf(transceiver: RTCRtpTransceiver): Role | null {
    const pc = this.peer._pc;
    if (!pc) return null;
    const kind = transceiver.receiver.track.kind;
    const sameKind = pc.getTransceivers().filter((t) => t.receiver.track.kind === kind);
    const index = sameKind.indexOf(transceiver);
    if (kind === 'audio') return index === 0 ? 'audio' : null;
    if (kind === 'video') return index === 0 ? 'camera' : index === 1 ? 'screen' : null;
    return null;
  }

  private trackOf(role: Role): MediaStreamTrack | null {
    return role === 'audio' ? this.tracks.audio : role === 'camera' ? this.tracks.video : this.tracks.screen;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.destroy();
  }
}
