/**
 * The peer-to-peer path: one `P2PPeer` per other participant (in practice one, since
 * meetings of three or more use the relay). Implements `MediaConnection`.
 *
 * It heals itself: a peer connection that fails (or stays `disconnected` for a few
 * seconds) is replaced by a fresh one. The smaller id always offers, so it restarts by
 * itself; the other side asks it to (`restart` signal). Each connection has an id
 * (`conn`, chosen by its offerer), so signals of a replaced connection are ignored.
 */
import type { ChatMessage, IceServer, PeerSignal } from '../../protocol/signaling';
import type { PeerDataMessage } from '../../protocol/peerData';
import { DISCONNECTED_COUNTS_AS_FAILED_MS, type LocalTracks, type MediaConnection, type PathStats, type RemoteMedia } from './MediaConnection';
import { applyIceServers } from './iceServers';
import { P2PPeer } from './P2PPeer';
import { inboundPackets, StatsSampler } from './StatsSampler';

export interface P2PPathOptions {
  selfId: string;
  rtcConfig: RTCConfiguration;
  tracks: LocalTracks;
  sendSignal: (to: string, conn: string, data: PeerSignal) => void;
  /** A chat line from peer `from` (the data channel's owner; the line's own fields are unverified). */
  onChat: (from: string, message: ChatMessage) => void;
  /** A connection failed and is being replaced (`why` says how it failed). */
  onRestart: (why: string) => void;
  /** Every peer confirmed chat line `id` (or left): it needs no resend. */
  onChatAcked: (id: string) => void;
  /** A peer says it plays the relay now (after a switch that committed before it could). */
  onPeerOnRelay?: (remoteId: string) => void;
}

/** A restarted connection not up after this long is restarted again. */
const RESTART_RETRY_MS = 8000;

/** One other participant: the current connection and its recovery. */
interface PeerEntry {
  peer: P2PPeer;
  conn: string;
  sampler: StatsSampler;
  /** Set while the connection is being replaced after a failure. */
  recovering: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

export class P2PPath implements MediaConnection {
  readonly path = 'p2p' as const;
  onRemote: (media: RemoteMedia) => void = () => {};
  onState: (state: PathStats['state']) => void = () => {};

  private readonly peers = new Map<string, PeerEntry>();
  private readonly streams = new Map<string, MediaStream>();
  /** Each peer's screen track (shown by the room only while that peer shares). */
  private readonly screens = new Map<string, MediaStream>();
  /** Chat line id → peers that have not confirmed it yet. */
  private readonly awaitingAck = new Map<string, Set<string>>();
  /** Peers that said they play the relay now (`relay-playing`). */
  private readonly onRelay = new Set<string>();
  private tracks: LocalTracks;
  private closed = false;

  constructor(private readonly options: P2PPathOptions) {
    this.tracks = options.tracks;
  }

  /** The connection state over all peers; `new` while there is nobody to connect to. */
  get state(): PathStats['state'] {
    return this.overallState();
  }

  /** Fresh ICE servers (credentials) for the open peers and the ones added later. */
  setIceServers(iceServers: IceServer[]): void {
    this.options.rtcConfig = { ...this.options.rtcConfig, iceServers };
    for (const entry of this.peers.values()) applyIceServers(entry.peer.connection, iceServers);
  }

  /**
   * Connects to another participant; the smaller id makes the offer. `askRestart`: we
   * are the answering side of a connection the other end may still think is alive (this
   * page was reloaded), so ask it for a fresh one.
   */
  addPeer(remoteId: string, askRestart = false): void {
    if (this.closed || this.peers.has(remoteId) || remoteId === this.options.selfId) return;
    const initiator = this.isOfferer(remoteId);
    this.startPeer(remoteId, initiator ? newConnId() : '', false);
    if (askRestart && !initiator) this.options.sendSignal(remoteId, 'restart', { type: 'restart' });
  }

  removePeer(remoteId: string): void {
    const entry = this.peers.get(remoteId);
    if (entry) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.peer.close();
    }
    this.peers.delete(remoteId);
    this.onRelay.delete(remoteId);
    // Someone who left needs no resend.
    for (const id of [...this.awaitingAck.keys()]) this.acked(id, remoteId);
    const hadScreen = this.screens.delete(remoteId);
    if (this.streams.delete(remoteId) || hadScreen) this.emitRemote();
  }

  /** A signal from another participant; creates the answering side on first contact. */
  handleSignal(from: string, conn: string, data: PeerSignal): void {
    if (this.closed || from === this.options.selfId) return;
    const entry = this.peers.get(from);
    const offerer = this.isOfferer(from);
    if (data.type === 'restart') {
      // Only the offering side starts connections: it replaces its own at once.
      if (offerer) this.restart(from);
      return;
    }
    if (offerer) {
      // We chose the connection id: anything else belongs to a connection we replaced.
      if (entry && entry.conn === conn) entry.peer.signal(data);
      return;
    }
    if (entry && entry.conn === '' && !entry.recovering) {
      entry.conn = conn; // the first offer names the connection we were waiting for
    } else if (!entry || (entry.conn !== conn && data.type === 'offer')) {
      // A new connection from the offerer (first contact, or it restarted): answer it. When
      // the offerer noticed the loss first, this side's own countdown had not run out yet:
      // the restart is still a restart here (the page says so, and the retry is armed).
      const restarted = entry !== undefined && entry.conn !== '';
      if (restarted && !entry.recovering) this.options.onRestart('the other side started a fresh connection');
      this.startPeer(from, conn, restarted || (entry?.recovering ?? false));
    } else if (entry.conn !== conn) {
      return; // a late signal of a replaced connection
    }
    this.peers.get(from)?.peer.signal(data);
  }

  /** Tells every peer this page plays the relay now; false unless every data channel took it. */
  announceRelayPlaying(): boolean {
    return [...this.peers.values()].map((e) => e.peer.send({ kind: 'relay-playing' })).every(Boolean);
  }

  /** Whether `remoteId` said it plays the relay now. */
  peerOnRelay(remoteId: string): boolean {
    return this.onRelay.has(remoteId);
  }

  /** Whether no peer needs this path any more: each said it plays the relay, or is not connected. */
  neededByNobody(): boolean {
    return [...this.peers].every(([id, e]) => this.onRelay.has(id) || e.peer.connection?.connectionState !== 'connected');
  }

  /** The participants this path has a connection for. */
  peerIds(): string[] {
    return [...this.peers.keys()];
  }

  /** Replaces every connection that is not up (the page's signaling came back after a loss). */
  healStale(): void {
    for (const [remoteId, entry] of this.peers) {
      if (entry.peer.connection?.connectionState !== 'connected') this.recover(remoteId, 'signals may have been lost while signaling was down');
    }
  }

  /**
   * Sends a chat line to every peer; false unless every data channel took it. A channel
   * can take a line and still lose it (its connection fails and is replaced), so the
   * line counts as delivered only when every peer acknowledged it (`onChatAcked`).
   */
  sendChat(message: ChatMessage): boolean {
    if (this.peers.size === 0) return false;
    const peers = [...this.peers.values()].map((e) => e.peer);
    if (!peers.every((p) => p.canSend)) return false;
    this.awaitingAck.set(message.id, new Set(this.peers.keys()));
    return peers.map((p) => p.send({ kind: 'chat', message })).every(Boolean);
  }

  private acked(id: string, remoteId: string): void {
    const waiting = this.awaitingAck.get(id);
    if (!waiting) return;
    waiting.delete(remoteId);
    if (waiting.size > 0) return;
    this.awaitingAck.delete(id);
    this.options.onChatAcked(id);
  }

  setLocalTracks(tracks: LocalTracks): void {
    this.tracks = tracks;
    for (const entry of this.peers.values()) entry.peer.setLocalTracks(tracks);
  }

  async carriesMedia(): Promise<boolean> {
    if (this.peers.size === 0 || this.overallState() !== 'connected') return false;
    for (const entry of this.peers.values()) {
      const pc = entry.peer.connection;
      if (!pc || (await inboundPackets(pc)) === 0) return false;
    }
    return true;
  }

  async stats(): Promise<PathStats> {
    const samples: PathStats[] = [];
    for (const [remoteId, entry] of this.peers) {
      const pc = entry.peer.connection;
      if (pc) samples.push(await entry.sampler.sample(pc, () => remoteId, (mid) => entry.peer.sourceOfMid(mid)));
    }
    const first = samples[0];
    if (!first) return { path: 'p2p', state: 'new', loss: 0, inboundVideo: [], audioLevels: [], packetsReceived: 0 };
    // Several peers (rare): addresses of the first, sums of the rates.
    return {
      ...first,
      state: this.overallState(),
      bitrateUp: sumDefined(samples.map((s) => s.bitrateUp)),
      bitrateDown: sumDefined(samples.map((s) => s.bitrateDown)),
      loss: Math.max(...samples.map((s) => s.loss)),
      audioBuffer: samples.map((s) => s.audioBuffer).reduce((a, b) => (!a || (b && b.delayMs > a.delayMs) ? b : a), undefined),
      inboundVideo: samples.flatMap((s) => s.inboundVideo),
      audioLevels: samples.flatMap((s) => s.audioLevels),
      packetsReceived: samples.reduce((a, s) => a + s.packetsReceived, 0),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.peers.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.peer.close();
    }
    this.peers.clear();
    this.streams.clear();
    this.screens.clear();
    this.onState('closed');
  }

  private overallState(): PathStats['state'] {
    const states = [...this.peers.values()].map((e) => e.peer.connection?.connectionState ?? 'closed');
    if (states.length === 0) return 'new';
    if (states.every((s) => s === 'connected')) return 'connected';
    if (states.some((s) => s === 'failed')) return 'failed';
    return 'connecting';
  }

  private isOfferer(remoteId: string): boolean {
    return this.options.selfId < remoteId;
  }

  /** Creates (or replaces) the connection to `remoteId` with connection id `conn`. */
  private startPeer(remoteId: string, conn: string, recovering: boolean): void {
    const old = this.peers.get(remoteId);
    if (old) {
      if (old.timer) clearTimeout(old.timer);
      old.peer.close();
    }
    const initiator = this.isOfferer(remoteId);
    // The callbacks read `entry` when they fire, after it is assigned below.
    let entry: PeerEntry;
    const peer = new P2PPeer(remoteId, initiator, this.options.rtcConfig, this.tracks, {
      signal: (data) => this.options.sendSignal(remoteId, entry.conn, data),
      stream: (stream) => {
        if (this.peers.get(remoteId) !== entry) return;
        this.streams.set(remoteId, stream);
        this.emitRemote();
      },
      screen: (stream) => {
        if (this.peers.get(remoteId) !== entry) return;
        this.screens.set(remoteId, stream);
        this.emitRemote();
      },
      data: (message: PeerDataMessage) => {
        if (message.kind === 'chat-ack') {
          this.acked(message.id, remoteId);
          return;
        }
        if (message.kind === 'relay-playing') {
          this.onRelay.add(remoteId);
          this.options.onPeerOnRelay?.(remoteId);
          return;
        }
        // The channel is bound to this peer: the receiver names the sender from the meeting's list.
        this.options.onChat(remoteId, message.message);
        // Acknowledged even when it is a repeat: the first acknowledgement may have been lost.
        peer.send({ kind: 'chat-ack', id: message.message.id });
      },
      state: (state) => {
        if (this.peers.get(remoteId) === entry) this.onPeerState(remoteId, entry, state);
      },
    });
    entry = { peer, conn, sampler: new StatsSampler('p2p'), recovering, timer: null };
    this.peers.set(remoteId, entry);
    if (recovering) this.armRetry(remoteId, entry);
    this.onState(this.overallState());
  }

  private onPeerState(remoteId: string, entry: PeerEntry, state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      // Up again: no disconnect countdown, no restart retry.
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
      entry.recovering = false;
    } else if (state === 'failed') {
      this.recover(remoteId, 'the connection failed');
    } else if (state === 'disconnected' && !entry.timer) {
      entry.timer = setTimeout(() => {
        entry.timer = null;
        if (this.peers.get(remoteId) === entry && entry.peer.connection?.connectionState !== 'connected') this.recover(remoteId, 'the connection was lost');
      }, DISCONNECTED_COUNTS_AS_FAILED_MS);
    }
    this.onState(this.overallState());
  }

  /** The connection to `remoteId` is down: replace it (offerer) or ask for that (answerer). */
  private recover(remoteId: string, why: string): void {
    const entry = this.peers.get(remoteId);
    if (!entry || this.closed) return;
    if (!entry.recovering) {
      entry.recovering = true;
      this.options.onRestart(why);
    }
    if (this.isOfferer(remoteId)) this.startPeer(remoteId, newConnId(), true);
    else {
      this.options.sendSignal(remoteId, entry.conn || 'restart', { type: 'restart' });
      this.armRetry(remoteId, entry);
    }
  }

  /** Asked by the answering side: start a fresh connection. */
  private restart(remoteId: string): void {
    const entry = this.peers.get(remoteId);
    if (!entry) {
      this.startPeer(remoteId, newConnId(), false);
      return;
    }
    if (!entry.recovering) {
      entry.recovering = true;
      this.options.onRestart('the other side asked for a fresh connection');
    }
    this.startPeer(remoteId, newConnId(), true);
  }

  /** Tries again if the recovering connection is not up in time. */
  private armRetry(remoteId: string, entry: PeerEntry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (this.peers.get(remoteId) === entry && entry.peer.connection?.connectionState !== 'connected') this.recover(remoteId, 'the new connection did not come up');
    }, RESTART_RETRY_MS);
  }

  private emitRemote(): void {
    const videos = new Map<string, MediaStream>();
    const audios = new Map<string, MediaStream>();
    for (const [id, stream] of this.streams) {
      if (stream.getVideoTracks().length > 0) videos.set(id, stream);
      if (stream.getAudioTracks().length > 0) audios.set(id, stream);
    }
    this.onRemote({ videos, audios, screens: new Map(this.screens) });
  }
}

/** A connection id: random, unique enough within one pair of participants. */
function newConnId(): string {
  return crypto.randomUUID().slice(0, 13);
}

function sumDefined(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : known.reduce((a, v) => a + v, 0);
}
