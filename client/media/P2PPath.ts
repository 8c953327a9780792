/**
 * The peer-to-peer path: one `P2PPeer` per other participant (in practice one, since
 * meetings of three or more use the relay). Implements `MediaConnection`.
 */
import type { ChatMessage, IceServer, PeerSignal } from '../../protocol/signaling';
import type { PeerDataMessage } from '../../protocol/peerData';
import type { LocalTracks, MediaConnection, PathStats, RemoteMedia } from './MediaConnection';
import { applyIceServers } from './iceServers';
import { P2PPeer } from './P2PPeer';
import { inboundPackets, StatsSampler } from './StatsSampler';

export interface P2PPathOptions {
  selfId: string;
  rtcConfig: RTCConfiguration;
  tracks: LocalTracks;
  sendSignal: (to: string, data: PeerSignal) => void;
  onChat: (message: ChatMessage) => void;
}

export class P2PPath implements MediaConnection {
  readonly path = 'p2p' as const;
  onRemote: (media: RemoteMedia) => void = () => {};
  onState: (state: PathStats['state']) => void = () => {};

  private readonly peers = new Map<string, P2PPeer>();
  private readonly streams = new Map<string, MediaStream>();
  private readonly samplers = new Map<string, StatsSampler>();
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
    for (const peer of this.peers.values()) applyIceServers(peer.connection, iceServers);
  }

  /** Connects to another participant; the smaller id makes the offer. */
  addPeer(remoteId: string): void {
    if (this.closed || this.peers.has(remoteId) || remoteId === this.options.selfId) return;
    const peer = new P2PPeer(remoteId, this.options.selfId < remoteId, this.options.rtcConfig, this.tracks, {
      signal: (data) => this.options.sendSignal(remoteId, data),
      stream: (stream) => {
        this.streams.set(remoteId, stream);
        this.emitRemote();
      },
      data: (message: PeerDataMessage) => {
        // The channel is bound to this peer: a message claiming another sender is dropped.
        if (message.kind === 'chat' && message.message.from === remoteId) this.options.onChat(message.message);
      },
      state: () => this.onState(this.overallState()),
    });
    this.peers.set(remoteId, peer);
    this.samplers.set(remoteId, new StatsSampler('p2p'));
    this.onState(this.overallState());
  }

  removePeer(remoteId: string): void {
    this.peers.get(remoteId)?.close();
    this.peers.delete(remoteId);
    this.samplers.delete(remoteId);
    if (this.streams.delete(remoteId)) this.emitRemote();
  }

  /** A signal from another participant; creates the answering side on first contact. */
  handleSignal(from: string, data: PeerSignal): void {
    if (this.closed) return;
    if (!this.peers.has(from)) this.addPeer(from);
    this.peers.get(from)?.signal(data);
  }

  /** Sends a chat line to every peer; false unless every data channel took it. */
  sendChat(message: ChatMessage): boolean {
    if (this.peers.size === 0) return false;
    const ready = [...this.peers.values()].every((p) => p.canSend);
    if (!ready) return false;
    return [...this.peers.values()].map((p) => p.send({ kind: 'chat', message })).every(Boolean);
  }

  setLocalTracks(tracks: LocalTracks): void {
    this.tracks = tracks;
    for (const peer of this.peers.values()) peer.setLocalTracks(tracks);
  }

  async carriesMedia(): Promise<boolean> {
    if (this.peers.size === 0 || this.overallState() !== 'connected') return false;
    for (const peer of this.peers.values()) {
      const pc = peer.connection;
      if (!pc || (await inboundPackets(pc)) === 0) return false;
    }
    return true;
  }

  async stats(): Promise<PathStats> {
    const samples: PathStats[] = [];
    for (const [remoteId, peer] of this.peers) {
      const pc = peer.connection;
      const sampler = this.samplers.get(remoteId);
      if (pc && sampler) samples.push(await sampler.sample(pc, () => remoteId));
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
      inboundVideo: samples.flatMap((s) => s.inboundVideo),
      audioLevels: samples.flatMap((s) => s.audioLevels),
      packetsReceived: samples.reduce((a, s) => a + s.packetsReceived, 0),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.streams.clear();
    this.onState('closed');
  }

  private overallState(): PathStats['state'] {
    const states = [...this.peers.values()].map((p) => p.connection?.connectionState ?? 'closed');
    if (states.length === 0) return 'new';
    if (states.every((s) => s === 'connected')) return 'connected';
    if (states.some((s) => s === 'failed')) return 'failed';
    return 'connecting';
  }

  private emitRemote(): void {
    const videos = new Map<string, MediaStream>();
    const audios = new Map<string, MediaStream>();
    for (const [id, stream] of this.streams) {
      if (stream.getVideoTracks().length > 0) videos.set(id, stream);
      if (stream.getAudioTracks().length > 0) audios.set(id, stream);
    }
    this.onRemote({ videos, audios });
  }
}

function sumDefined(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : known.reduce((a, v) => a + v, 0);
}
