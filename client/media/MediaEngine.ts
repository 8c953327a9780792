/**
 * Owns the local devices and the media paths of one room, and exposes what the UI
 * renders: remote media, the active path and its stats. It follows the coordinator's
 * topology messages make-before-break: when told to prepare a path it brings it up while
 * the old one keeps playing, reports `path-ready` once media arrives on it, and switches
 * playback (closing the old path) only when the coordinator commits. A switch to the relay
 * that commits on its timeout finds some members not yet on the relay: each keeps playing
 * P2P until its relay carries media, and keeps P2P open (and its peers' P2P audio audible)
 * until every peer said it plays the relay too (`handOverToRelay`).
 */
import { signal } from '@preact/signals';
import type { ServerMessage, ServerMessageOf, VideoSource } from '../../protocol/signaling';
import { SPEAKING_LEVEL } from '../../protocol/speaking';
import type { RoomSession } from '../room/RoomSession';
import { LocalMedia } from './LocalMedia';
import { DISCONNECTED_COUNTS_AS_FAILED_MS, type MediaConnection, type MediaPath, type PathStats, type RemoteMedia } from './MediaConnection';
import { P2PPath } from './P2PPath';
import { PathLife, type PathLifeState } from './PathLife';
import { RelayPath } from './RelayPath';
import { videoKey, type RenderSize } from './RelayView';

const STATS_INTERVAL_MS = 1000;
/** How often a preparing path is checked for arriving media. */
const READY_POLL_MS = 50;
const RELAY_RETRY_MS = 2000;
/** A P2P path not connected after this long counts as failed (the server then uses the relay). */
const P2P_CONNECT_TIMEOUT_MS = 12_000;
/** A P2P path that worked gets longer to heal (ICE restarts) before the meeting moves to the relay. */
const P2P_HEAL_TIMEOUT_MS = 20_000;
/** After a committed switch to the relay, P2P stays at most this long for peers that cannot play the relay yet. */
const P2P_HANDOVER_MAX_MS = 60_000;
const EMPTY: RemoteMedia = { videos: new Map(), audios: new Map(), screens: new Map() };

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
  /** Said on screen while the path that plays is healing (never silent without a word). */
  readonly mediaTrouble = signal<string | null>(null);
  /** Media path recoveries in this room (shown in the stats overlay). */
  readonly recoveries = signal<{ count: number; last: string | null }>({ count: 0, last: null });

  private p2p: P2PPath | null = null;
  private relay: RelayPath | null = null;
  private readonly lastRemote: Record<MediaPath, RemoteMedia> = { p2p: EMPTY, relay: EMPTY };
  /** Each path's connection life; the relay's outlives the connections it replaces. */
  private readonly lives: Partial<Record<MediaPath, PathLife>> = {};
  /** Ends a P2P life that does not connect in time (`failed`: the meeting moves to the relay). */
  private p2pDeadline: ReturnType<typeof setTimeout> | null = null;
  private relayDisconnectedTimer: ReturnType<typeof setTimeout> | null = null;
  private relayRetryTimer: ReturnType<typeof setTimeout> | null = null;
  private selfId = '';
  private topology: ServerMessageOf<'topology'> | null = null;
  /** The switch epoch whose `path-ready` was sent (one report per switch). */
  private readyReported = -1;
  /** How large the UI shows each remote video (by `videoKey`), told to every relay connection. */
  private renderSizes: ReadonlyMap<string, RenderSize> = new Map();
  private unsubscribe: (() => void) | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private readyTimer: ReturnType<typeof setInterval> | null = null;
  /** A committed switch to the relay handing over from P2P (see handOverToRelay). */
  private handover: { timer: ReturnType<typeof setInterval> } | null = null;
  private closed = false;

  constructor(private readonly session: RoomSession) {
    // A device switched or unplugged: the new track goes out on every path by replaceTrack.
    this.local.onTracksChanged = () => this.publish();
  }

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

  /**
   * Starts sharing a screen (the browser asks which) or stops it. The screen goes out on
   * every path by `replaceTrack` (it has its own transceiver), and the others are told by
   * `media-state`; `LocalMedia` reports the change, including the browser's own "Stop sharing".
   */
  async toggleScreen(): Promise<void> {
    if (this.local.screenOn.value) this.local.stopScreen();
    else await this.local.startScreen();
  }

  /**
   * The size (device pixels) at which the UI shows a participant's camera or screen, null
   * when it is not shown; the relay sends no larger a layer than that.
   */
  setRenderSize(participantId: string, source: VideoSource, size: RenderSize | null): void {
    const key = videoKey(participantId, source);
    const before = this.renderSizes.get(key);
    if (size ? before?.width === size.width && before.height === size.height : !before) return;
    const next = new Map(this.renderSizes);
    if (size) next.set(key, size);
    else next.delete(key);
    this.renderSizes = next;
    this.relay?.setRenderSizes(next);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.readyTimer) clearInterval(this.readyTimer);
    if (this.relayRetryTimer) clearTimeout(this.relayRetryTimer);
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
    // `?ice=relay` forces every connection of this browser through TURN (strict firewalls,
    // impaired-network tests); `?ice=relay-p2p` only the P2P path (diagnostics).
    const ice = new URLSearchParams(location.search).get('ice');
    const forceTurn = ice === 'relay' || (ice === 'relay-p2p' && path === 'p2p');
    return { iceServers: this.session.iceServers, iceTransportPolicy: forceTurn ? 'relay' : 'all' };
  }

  private onMessage(message: ServerMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case 'joined':
        this.onJoined(message);
        break;
      case 'topology':
        // One sent before our `joined` reply is already reflected in that reply.
        if (this.selfId && message.epoch >= (this.topology?.epoch ?? 0)) this.onTopology(message);
        break;
      case 'participant-joined':
        if (this.topology?.target === 'p2p') this.p2p?.addPeer(message.participant.id);
        break;
      case 'relay-closed':
        if (this.topology?.target === 'relay') this.restartRelay('the relay closed the connection');
        break;
      case 'participant-left':
        this.p2p?.removePeer(message.participantId);
        break;
      case 'signal':
        // Only meaningful while P2P is the target; a stale signal after a switch is dropped.
        if (this.topology?.target === 'p2p') this.ensureP2P().handleSignal(message.from, message.conn, message.data);
        break;
      case 'speakers':
        if (this.activePath.value === 'relay') this.setSpeaking(Object.entries(message.levels).map(([id, level]) => ({ participantId: id, level })));
        break;
      case 'relay-candidate':
      case 'relay-slots':
      case 'relay-downlink':
      case 'relay-camera-layers':
        this.relay?.handle(message);
        break;
      case 'ice-servers':
        // Fresh TURN credentials: for connections made from now on, and the open ones.
        this.session.iceServers = message.iceServers;
        this.p2p?.setIceServers(message.iceServers);
        this.relay?.setIceServers(message.iceServers);
        break;
      case 'meeting-closed':
      case 'removed-by-host':
        this.close();
        break;
      case 'muted-by-host':
        // The server already counts the microphone as off; the sender stops too.
        this.local.setAudio(false);
        this.publish();
        break;
      default:
        break;
    }
  }

  /**
   * The join reply: the first one; a resumed one (same participant, after a dropped
   * socket or a reload of this page); or a fresh one after the server forgot us (it
   * restarted): then every path starts over, with the local devices kept.
   */
  private onJoined(message: ServerMessageOf<'joined'>): void {
    const firstForThisPage = this.selfId === '';
    if (!firstForThisPage && message.self.id !== this.selfId) {
      this.closeP2P();
      this.closeRelay();
      this.activePath.value = null;
      this.topology = null;
      this.readyReported = -1;
    }
    const known = this.selfId === message.self.id;
    this.selfId = message.self.id;
    const { mode, target, epoch } = message.meeting;
    // A resumed page that was reloaded: the others may still hold connections to the old
    // page, so ask for fresh ones (the relay replaces ours when we offer again).
    const askRestart = message.resumed && firstForThisPage;
    if (known) {
      // The join reply carries fresh credentials: for the open connections' next ICE restart too.
      this.p2p?.setIceServers(message.iceServers);
      this.relay?.setIceServers(message.iceServers);
      // A new socket: the relay may not have kept what this page told it on the old one.
      this.relay?.resendView();
    }
    if (!this.topology || epoch !== this.topology.epoch || mode !== this.topology.mode) {
      this.onTopology({ type: 'topology', mode, target, epoch }, askRestart);
    }
    if (target === 'p2p' && this.p2p) {
      const present = new Set(message.participants.map((p) => p.id));
      for (const id of this.p2p.peerIds()) if (!present.has(id)) this.p2p.removePeer(id);
      for (const id of present) this.p2p.addPeer(id, askRestart);
      // Signals may have been lost while we were away: connections that are not up start over.
      if (known) this.p2p.healStale();
    }
    if (target === 'relay' && known && this.relay && this.relay.connectionState !== 'connected') {
      this.restartRelay('signaling came back while the relay was down');
    }
    this.publish();
    this.statsTimer ??= setInterval(() => void this.sampleStats(), STATS_INTERVAL_MS);
  }

  private onTopology(message: ServerMessageOf<'topology'>, askRestart = false): void {
    this.topology = message;
    const target = message.target;
    if (target === 'relay') this.ensureRelay();
    else {
      const p2p = this.ensureP2P();
      for (const p of this.session.others.value) p2p.addPeer(p.id, askRestart);
    }
    const settled = message.mode !== 'switching';
    if (settled && target === 'relay' && this.activePath.value === 'p2p' && this.p2p) {
      // Committed, perhaps on its timeout before this page's relay carried media: P2P plays
      // until the relay does, and stays for the peers that still need it.
      this.handOverToRelay();
    } else if (settled || this.activePath.value === null) {
      // Settled (commit), or nothing plays yet (a newcomer): play the target now.
      this.activate(target);
    }
    if (!settled) this.watchReady();
    else if (target === 'p2p') {
      this.stopHandover();
      this.closeRelay();
    } else if (!this.handover) this.closeP2P();
  }

  /**
   * After a committed switch to the relay: play P2P until the relay carries media, then play
   * the relay and say so to every P2P peer; close P2P once every peer said the same (or is
   * gone), or after P2P_HANDOVER_MAX_MS. Meanwhile the audio of peers not yet on the relay
   * stays audible on P2P (the relay's mix cannot carry them), so a pair who talked on P2P
   * keeps hearing each other whoever's relay comes up first.
   */
  private handOverToRelay(): void {
    if (this.handover) return;
    const started = Date.now();
    let playing = false;
    let busy = false;
    const step = async (): Promise<void> => {
      if (busy || this.handover !== handover) return;
      busy = true;
      try {
        const p2p = this.p2p;
        if (this.topology?.target !== 'relay' || !p2p) return this.stopHandover();
        if (!playing && this.relay && (await this.relay.carriesMedia()) && this.handover === handover) {
          playing = true;
          console.info('relay carries media: playing it, P2P stays for peers not on the relay yet');
          this.activate('relay');
          p2p.announceRelayPlaying();
        }
        if (playing && this.handover === handover && (p2p.neededByNobody() || Date.now() - started > P2P_HANDOVER_MAX_MS)) {
          this.stopHandover();
          this.closeP2P();
        }
      } finally {
        busy = false;
      }
    };
    const handover = { timer: setInterval(() => void step(), READY_POLL_MS) };
    this.handover = handover;
    void step();
  }

  private stopHandover(): void {
    if (!this.handover) return;
    clearInterval(this.handover.timer);
    this.handover = null;
    this.updateOutputs();
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
    this.refreshTrouble();
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
      sendSignal: (to, conn, data) => this.session.signaling.send({ type: 'signal', to, conn, data }),
      onChat: (from, m) => this.session.receivePeerChat(from, m),
      onRestart: (why) => this.lives.p2p?.set('reconnecting', why),
      onChatAcked: (id) => this.session.chatDelivered(id),
      // Its P2P audio goes quiet here: the relay's mix carries it now.
      onPeerOnRelay: () => this.updateOutputs(),
    });
    path.onRemote = (media) => this.setRemote('p2p', media);
    const life = this.startLife('p2p');
    path.onState = (state) => {
      if (state === 'connected') life.set('connected', 'every peer connected');
      else if (state === 'connecting' || state === 'failed') life.set('connecting', 'connecting to the peer');
    };
    this.p2p = path;
    return path;
  }

  /** A new connection life for `path`, reported and watched as it changes. */
  private startLife(path: MediaPath): PathLife {
    const life = new PathLife(path);
    life.onChange = (next, previous, why) => this.onLifeChange(life, next, previous, why);
    this.lives[path] = life;
    return life;
  }

  private onLifeChange(life: PathLife, next: PathLifeState, previous: PathLifeState, why: string): void {
    if (next === 'reconnecting') this.reportRecovery(life.path, 'restarting', why);
    if (next === 'connected' && previous === 'reconnecting') this.reportRecovery(life.path, 'recovered', why);
    this.refreshTrouble();
    if (life.path !== 'p2p') return;
    if (this.p2pDeadline) clearTimeout(this.p2pDeadline);
    this.p2pDeadline = null;
    if (next === 'connecting' || next === 'reconnecting') {
      // A path that worked gets longer: its ICE restarts may bring it back.
      const limit = life.everConnected ? P2P_HEAL_TIMEOUT_MS : P2P_CONNECT_TIMEOUT_MS;
      this.p2pDeadline = setTimeout(() => {
        this.p2pDeadline = null;
        life.set('failed', `not connected within ${limit / 1000} s`);
      }, limit);
    } else if (next === 'failed') {
      // No direct route (not even through TURN): the server moves the meeting to the relay.
      const t = this.topology;
      if (t && t.target === 'p2p' && this.lives.p2p === life) this.session.signaling.send({ type: 'path-failed', epoch: t.epoch });
    }
  }

  private ensureRelay(): RelayPath {
    if (this.relay) return this.relay;
    const life = this.lives.relay ?? this.startLife('relay');
    life.set('connecting', 'offering to the relay');
    const path = new RelayPath(this.rtcConfig('relay'), this.local.tracks(), this.session.signaling, this.local.cameraSize());
    path.setRenderSizes(this.renderSizes);
    path.onRemote = (media) => this.setRemote('relay', media);
    path.onState = (state) => this.onRelayState(path, state);
    this.relay = path;
    path.connect().catch(() => {
      // The relay refused or the socket dropped: try again while the relay is still wanted.
      if (this.relay === path) this.restartRelay(null);
    });
    return path;
  }

  /** Watches the relay connection: `failed`, or `disconnected` for a few seconds, starts a new one. */
  private onRelayState(path: RelayPath, state: PathStats['state'] | 'disconnected'): void {
    if (this.relay !== path) return;
    if (this.relayDisconnectedTimer) clearTimeout(this.relayDisconnectedTimer);
    this.relayDisconnectedTimer = null;
    if (state === 'connected') {
      this.lives.relay?.set('connected', 'the relay connection is up');
    } else if (state === 'failed') {
      this.restartRelay('the relay connection failed');
    } else if (state === 'disconnected') {
      this.relayDisconnectedTimer = setTimeout(() => {
        this.relayDisconnectedTimer = null;
        if (this.relay === path && path.connectionState !== 'connected') this.restartRelay('the relay connection was lost');
      }, DISCONNECTED_COUNTS_AS_FAILED_MS);
    }
  }

  /**
   * Replaces the relay connection with a fresh offer (the server drops the old one when it
   * sees it). `why` null: a retry of a connection that could not be set up (no new report).
   */
  private restartRelay(why: string | null): void {
    if (why !== null) this.lives.relay?.set('reconnecting', why);
    // Keep what the old connection showed until the new one replaces it: no blank tiles.
    this.relay?.close();
    this.relay = null;
    if (this.relayRetryTimer) return;
    this.relayRetryTimer = setTimeout(() => {
      this.relayRetryTimer = null;
      if (!this.closed && this.topology?.target === 'relay' && !this.relay) this.ensureRelay();
    }, why === null ? RELAY_RETRY_MS : 0);
  }

  /** The notice follows the life of the path that plays. */
  private refreshTrouble(): void {
    const active = this.activePath.value;
    this.mediaTrouble.value = active && this.lives[active]?.state === 'reconnecting' ? 'Reconnecting audio and video…' : null;
  }

  /** Says in the stats overlay, and in the server's record, that a media path is healing. */
  private reportRecovery(path: MediaPath, phase: 'restarting' | 'recovered', why: string): void {
    const now = new Date().toLocaleTimeString();
    const { count } = this.recoveries.value;
    this.recoveries.value = {
      count: phase === 'restarting' ? count + 1 : count,
      last: phase === 'restarting' ? `${path} restarting since ${now}: ${why}` : `${path} recovered at ${now}`,
    };
    this.session.signaling.send({ type: 'media-recovery', path, phase });
  }

  private closeP2P(): void {
    if (this.handover) clearInterval(this.handover.timer);
    this.handover = null;
    this.endLife('p2p');
    this.p2p?.close();
    this.p2p = null;
    this.lastRemote.p2p = EMPTY;
    this.updateOutputs();
  }

  /** The path is closed on purpose (a switch away, leaving): its life ends without a report. */
  private endLife(path: MediaPath): void {
    this.lives[path]?.set('closed', 'closed');
    delete this.lives[path];
    this.refreshTrouble();
    if (path === 'p2p' && this.p2pDeadline) clearTimeout(this.p2pDeadline);
    if (path === 'p2p') this.p2pDeadline = null;
  }

  private closeRelay(): void {
    this.endLife('relay');
    if (this.relayDisconnectedTimer) clearTimeout(this.relayDisconnectedTimer);
    this.relayDisconnectedTimer = null;
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
    // Handing over to the relay: a P2P peer not on the relay yet is heard on P2P still.
    const heardOnP2P = (peerId: string) => this.handover !== null && active === 'relay' && !(this.p2p?.peerOnRelay(peerId) ?? true);
    for (const path of ['p2p', 'relay'] as const) {
      for (const [key, stream] of this.lastRemote[path].audios) outputs.push({ key: `${path}:${key}`, stream, audible: path === active || (path === 'p2p' && heardOnP2P(key)) });
      if (path !== active) prewarm.push(...this.lastRemote[path].videos.values(), ...this.lastRemote[path].screens.values());
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
      this.session.signaling.send({ type: 'media-state', audio: this.local.audioOn.value, video: this.local.videoOn.value, screen: this.local.screenOn.value });
    }
  }

  private setSpeaking(levels: { participantId: string; level: number }[]): void {
    const now = new Set(levels.filter((l) => l.level > SPEAKING_LEVEL).map((l) => l.participantId));
    const before = this.speaking.value;
    if (now.size !== before.size || [...now].some((id) => !before.has(id))) this.speaking.value = now;
  }

  private async sampleStats(): Promise<void> {
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
