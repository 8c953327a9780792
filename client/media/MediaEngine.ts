/**
 * Owns the local devices and the media path(s) of one room, and exposes what the UI
 * renders: remote media, the active path and its stats. It follows the meeting's
 * topology from signaling; the paths behind `MediaConnection` do the WebRTC work.
 */
import { signal } from '@preact/signals';
import type { ServerMessage } from '../../protocol/signaling';
import type { RoomSession } from '../room/RoomSession';
import { LocalMedia } from './LocalMedia';
import type { MediaConnection, MediaPath, PathStats, RemoteMedia } from './MediaConnection';
import { P2PPath } from './P2PPath';

const STATS_INTERVAL_MS = 1000;
const EMPTY: RemoteMedia = { videos: new Map(), audios: new Map() };

export class MediaEngine {
  readonly local = new LocalMedia();
  readonly remote = signal<RemoteMedia>(EMPTY);
  readonly stats = signal<PathStats | null>(null);
  readonly activePath = signal<MediaPath | null>(null);

  private p2p: P2PPath | null = null;
  private unsubscribe: (() => void) | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  constructor(private readonly session: RoomSession) {}

  /** Acquires the devices and starts listening; call before joining so no signal is missed. */
  async prepare(): Promise<void> {
    this.unsubscribe = this.session.subscribe((m) => this.onMessage(m));
    await this.local.acquire();
  }

  toggleAudio(): void {
    this.local.setAudio(!this.local.audioOn.value);
    this.publish();
  }

  toggleVideo(): void {
    this.local.setVideo(!this.local.videoOn.value);
    this.publish();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.p2p?.close();
    this.p2p = null;
    this.session.chatPath = null;
    this.local.close();
    this.remote.value = EMPTY;
  }

  private get current(): MediaConnection | null {
    return this.p2p;
  }

  private rtcConfig(): RTCConfiguration {
    // `?ice=relay` forces the TURN path (diagnostics, and the TURN tests).
    const forceRelay = new URLSearchParams(location.search).get('ice') === 'relay';
    return { iceServers: this.session.iceServers, iceTransportPolicy: forceRelay ? 'relay' : 'all' };
  }

  private onMessage(message: ServerMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case 'joined':
        this.startP2P(message.self.id);
        for (const p of message.participants) this.p2p?.addPeer(p.id);
        this.publish();
        this.statsTimer = setInterval(() => void this.sampleStats(), STATS_INTERVAL_MS);
        break;
      case 'participant-joined':
        this.p2p?.addPeer(message.participant.id);
        break;
      case 'participant-left':
        this.p2p?.removePeer(message.participantId);
        break;
      case 'signal':
        this.p2p?.handleSignal(message.from, message.data);
        break;
      case 'meeting-closed':
        this.close();
        break;
      default:
        break;
    }
  }

  private startP2P(selfId: string): void {
    const path = new P2PPath({
      selfId,
      rtcConfig: this.rtcConfig(),
      tracks: this.local.tracks(),
      sendSignal: (to, data) => this.session.signaling.send({ type: 'signal', to, data }),
      onChat: (m) => this.session.receiveChat(m),
    });
    path.onRemote = (media) => (this.remote.value = media);
    this.p2p = path;
    this.activePath.value = 'p2p';
    this.session.chatPath = { trySend: (m) => this.p2p?.sendChat(m) ?? false };
  }

  /** Sends the current device state on the path and tells the others (tiles, list). */
  private publish(): void {
    this.current?.setLocalTracks(this.local.tracks());
    if (this.session.phase.value === 'joined') {
      this.session.signaling.send({ type: 'media-state', audio: this.local.audioOn.value, video: this.local.videoOn.value });
    }
  }

  private async sampleStats(): Promise<void> {
    const current = this.current;
    if (!current) return;
    try {
      this.stats.value = await current.stats();
    } catch {
      // A path closing mid-sample: the next tick samples the new one.
    }
  }
}
