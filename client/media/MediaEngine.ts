/**
 * Owns the local devices and the media paths of one room, and exposes what the UI
 * renders: remote media, the active path and its stats. It follows the coordinator's
 * topology messages make-before-break: when told to prepare a path it brings it up while
 * the old one keeps playing, reports `path-ready` once media arrives on it, and switches
 * playback (closing the old path) only when the coordinator commits.
 */
import { signal } from '@preact/signals';
import type { ServerMessage, ServerMessageOf } from '../../protocol/signaling';
import type { RoomSession } from '../room/RoomSession';
import { LocalMedia } from './LocalMedia';
import type { MediaConnection, MediaPath, PathStats, RemoteMedia } from './MediaConnection';
import { P2PPath } from './P2PPath';
import { RelayPath } from './RelayPath';

const STATS_INTERVAL_MS = 1000;
/** How often a preparing path is checked for arriving media. */
const READY_POLL_MS = 50;
const RELAY_RETRY_MS = 2000;
/** A P2P path not connected after this long counts as failed (the server then uses the relay). */
const P2P_CONNECT_TIMEOUT_MS = 12_000;
/** About -34 dBFS: speech, not background noise. */
const SPEAKING_LEVEL = 0.02;
const EMPTY: RemoteMedia = { videos: new Map(), audios: new Map() };

/** One received audio stream and whether it is heard. */
export interface AudioOutput {
  /** Stable across a switch's commit: `<path>:<participant id | mix>`. */
  key: string;
  stream: MediaStream;
  audible: boolean;
}

export class MediaEngine {
  readonly local = new LocalMedia();
  readonly remote = signal<RemoteMedia>(EMPTY);
  /**
   * Every received audio stream, of both paths while a switch is under way: the inactive
   * path's streams play muted, so flipping `audible` at the commit is instant (no new
   * element, no audio pipeline to start).
   */
  readonly audioOutputs = signal<AudioOutput[]>([]);
  /** The preparing path's videos, decoded off-screen so the tiles switch without a freeze. */
  readonly prewarmVideos = signal<MediaStream[]>([]);
  readonly stats = signal<PathStats | null>(null);
  readonly activePath = signal<MediaPath | null>(null);
  /** Who is talking now (tile highlight): the relay's mixer levels, or received levels on P2P. */
  readonly speaking = signal<ReadonlySet<string>>(new Set());

  private p2p: P2PPath | null = null;
  private relay: RelayPath | null = null;
  private readonly lastRemote: Record<MediaPath, RemoteMedia> = { p2p: EMPTY, relay: EMPTY };
  private selfId = '';
  private topology: ServerMessageOf<'topology'> | null = null;
  private readyReported = -1;
  private failureReported = -1;
  private p2pWaitingSince: number | null = null;
  private unsubscribe: (() => void) | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private readyTimer: ReturnType<typeof setInterval> | null = null;
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
    if (this.readyTimer) clearInterval(this.readyTimer);
    this.closeP2P();
    this.closeRelay();
    this.session.chatPath = null;
    this.local.close();
    this.remote.value = EMPTY;
    this.audioOutputs.value = [];
    this.prewarmVideos.value = [];
  }

  private get active(): MediaConnection | null {
    return this.activePath.value === 'p2p' ? this.p2p : this.activePath.value === 'relay' ? this.relay : null;
  }

  private rtcConfig(path: MediaPath): RTCConfiguration {
    // `?ice=relay` forces the P2P path through TURN (diagnostics, and the TURN tests).
    const forceTurn = path === 'p2p' && new URLSearchParams(location.search).get('ice') === 'relay';
    return { iceServers: this.session.iceServers, iceTransportPolicy: forceTurn ? 'relay' : 'all' };
  }

  /** Tells the server when the P2P path cannot connect, so the meeting moves to the relay. */
  private checkP2P(): void {
    const t = this.topology;
    const state = this.p2p?.state ?? 'new';
    if (!t || t.target !== 'p2p' || state === 'new' || state === 'connected') {
      this.p2pWaitingSince = null;
      return;
    }
    this.p2pWaitingSince ??= Date.now();
    const timedOut = Date.now() - this.p2pWaitingSince > P2P_CONNECT_TIMEOUT_MS;
    if ((state === 'failed' || timedOut) && this.failureReported !== t.epoch) {
      this.failureReported = t.epoch;
      this.session.signaling.send({ type: 'path-failed', epoch: t.epoch });
    }
  }

  private onMessage(message: ServerMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case 'joined': {
        this.selfId = message.self.id;
        const { mode, target, epoch } = message.meeting;
        this.onTopology({ type: 'topology', mode, target, epoch });
        this.publish();
        this.statsTimer = setInterval(() => void this.sampleStats(), STATS_INTERVAL_MS);
        break;
      }
      case 'topology':
        // One sent before our `joined` reply is already reflected in that reply.
        if (this.selfId && message.epoch >= (this.topology?.epoch ?? 0)) this.onTopology(message);
        break;
      case 'participant-joined':
        if (this.topology?.target === 'p2p') this.p2p?.addPeer(message.participant.id);
        break;
      case 'participant-left':
        this.p2p?.removePeer(message.participantId);
        break;
      case 'signal':
        // Only meaningful while P2P is the target; a stale signal after a switch is dropped.
        if (this.topology?.target === 'p2p') this.ensureP2P().handleSignal(message.from, message.data);
        break;
      case 'speakers':
        if (this.activePath.value === 'relay') this.setSpeaking(Object.entries(message.levels).map(([id, level]) => ({ participantId: id, level })));
        break;
      case 'relay-candidate':
      case 'relay-slots':
        this.relay?.handle(message);
        break;
      case 'ice-servers':
        // Fresh TURN credentials: for connections made from now on, and the open ones.
        this.session.iceServers = message.iceServers;
        this.p2p?.setIceServers(message.iceServers);
        this.relay?.setIceServers(message.iceServers);
        break;
      case 'meeting-closed':
        this.close();
        break;
      default:
        break;
    }
  }

  private onTopology(message: ServerMessageOf<'topology'>): void {
    this.topology = message;
    const target = message.target;
    if (target === 'relay') this.ensureRelay();
    else {
      const p2p = this.ensureP2P();
      for (const p of this.session.others.value) p2p.addPeer(p.id);
    }
    if (message.mode !== 'switching' || this.activePath.value === null) {
      // Settled (commit), or nothing plays yet (a newcomer): play the target now.
      this.activate(target);
    }
    if (message.mode === 'switching') this.watchReady();
    else {
      if (target === 'relay') this.closeP2P();
      else this.closeRelay();
    }
  }

  /** While switching: report `path-ready` once the prepared path carries media. */
  private watchReady(): void {
    if (this.readyTimer) return;
    this.readyTimer = setInterval(async () => {
      const t = this.topology;
      if (!t || t.mode !== 'switching' || this.readyReported === t.epoch) {
        if (this.readyTimer) clearInterval(this.readyTimer);
        this.readyTimer = null;
        return;
      }
      const path = t.target === 'p2p' ? this.p2p : this.relay;
      if (path && (await path.carriesMedia()) && this.topology?.epoch === t.epoch && this.readyReported !== t.epoch) {
        this.readyReported = t.epoch;
        this.session.signaling.send({ type: 'path-ready', epoch: t.epoch });
      }
    }, READY_POLL_MS);
  }

  private activate(path: MediaPath): void {
    if (this.activePath.value === path) return;
    this.activePath.value = path;
    this.remote.value = this.lastRemote[path];
    this.updateOutputs();
    this.session.chatPath = path === 'p2p' ? { trySend: (m) => this.p2p?.sendChat(m) ?? false } : null;
  }

  private ensureP2P(): P2PPath {
    if (this.p2p) return this.p2p;
    const path = new P2PPath({
      selfId: this.selfId,
      rtcConfig: this.rtcConfig('p2p'),
      tracks: this.local.tracks(),
      sendSignal: (to, data) => this.session.signaling.send({ type: 'signal', to, data }),
      onChat: (m) => this.session.receiveChat(m),
    });
    path.onRemote = (media) => this.setRemote('p2p', media);
    this.p2p = path;
    return path;
  }

  private ensureRelay(): RelayPath {
    if (this.relay) return this.relay;
    const path = new RelayPath(this.rtcConfig('relay'), this.local.tracks(), this.session.signaling);
    path.onRemote = (media) => this.setRemote('relay', media);
    this.relay = path;
    path.connect().catch(() => {
      // The relay refused or the socket dropped: try again while the relay is still wanted.
      if (this.relay !== path) return;
      this.closeRelay();
      setTimeout(() => {
        if (!this.closed && this.topology?.target === 'relay') this.ensureRelay();
      }, RELAY_RETRY_MS);
    });
    return path;
  }

  private closeP2P(): void {
    this.p2p?.close();
    this.p2p = null;
    this.lastRemote.p2p = EMPTY;
    this.updateOutputs();
  }

  private closeRelay(): void {
    this.relay?.close();
    this.relay = null;
    this.lastRemote.relay = EMPTY;
    this.updateOutputs();
  }

  private setRemote(path: MediaPath, media: RemoteMedia): void {
    this.lastRemote[path] = media;
    if (this.activePath.value === path) this.remote.value = media;
    this.updateOutputs();
  }

  private updateOutputs(): void {
    const active = this.activePath.value;
    const outputs: AudioOutput[] = [];
    const prewarm: MediaStream[] = [];
    for (const path of ['p2p', 'relay'] as const) {
      for (const [key, stream] of this.lastRemote[path].audios) outputs.push({ key: `${path}:${key}`, stream, audible: path === active });
      if (path !== active) prewarm.push(...this.lastRemote[path].videos.values());
    }
    this.audioOutputs.value = outputs;
    this.prewarmVideos.value = prewarm;
  }

  /** Sends the current device state on every path and tells the others (tiles, list). */
  private publish(): void {
    const tracks = this.local.tracks();
    this.p2p?.setLocalTracks(tracks);
    this.relay?.setLocalTracks(tracks);
    if (this.session.phase.value === 'joined') {
      this.session.signaling.send({ type: 'media-state', audio: this.local.audioOn.value, video: this.local.videoOn.value });
    }
  }

  private setSpeaking(levels: { participantId: string; level: number }[]): void {
    const now = new Set(levels.filter((l) => l.level > SPEAKING_LEVEL).map((l) => l.participantId));
    const before = this.speaking.value;
    if (now.size !== before.size || [...now].some((id) => !before.has(id))) this.speaking.value = now;
  }

  private async sampleStats(): Promise<void> {
    this.checkP2P();
    const active = this.active;
    if (!active) return;
    try {
      const stats = await active.stats();
      this.stats.value = stats;
      if (stats.path === 'p2p') this.setSpeaking(stats.audioLevels);
    } catch {
      // A path closing mid-sample: the next tick samples the new one.
    }
  }
}
