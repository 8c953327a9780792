/**
 * What `MeetingRelay` needs of one participant's connection (`RelayPeer`, on node-datachannel),
 * and the life it follows.
 */
import type { DownlinkReport } from '../protocol/signaling';
import type { DownlinkDelivery } from './allocation/DownlinkDelivery';
import type { DownlinkMeter } from './allocation/DownlinkMeter';
import type { DownlinkPacer } from './allocation/DownlinkPacer';
import type { TemporalValve } from './allocation/TemporalValve';
import type { InputStream } from './InputStreams';
import type { IceCandidateInit, RelayLogger, RtpIn, VideoSource } from './types';
import type { VideoSlot } from './VideoSlot';

/** How a connection speaks to its owner; each call is made inside a try/catch. */
export interface RelayPeerHandlers {
  /** A local ICE candidate to send to the client (never before its answer). */
  candidate(candidate: IceCandidateInit): void;
  /** ICE and DTLS are up. */
  connected(): void;
  /** The connection failed or closed without `close()` being called. */
  lost(): void;
  /** An RTP packet arrived from the client's mic (a view reused per packet). */
  audio(packet: RtpIn): void;
  /** An RTP packet arrived from the client's camera or screen, on `stream` (a view reused per packet). */
  video(stream: InputStream, packet: RtpIn): void;
  /** A padding-only packet arrived on `stream` (the browser's estimator probing): no picture, but a sequence number. */
  videoPadding(stream: InputStream, packet: RtpIn): void;
  /** The client asked for a keyframe on one of its slots. */
  keyframeRequest(slot: VideoSlot): void;
  /** A keyframe request (PLI) went to this client's camera or screen. */
  pliSent(): void;
  /** Packets of the client's video the relay asked for again (NACK), and asked-for packets that came. */
  uplinkRepair(asked: number, recovered: number): void;
  /** The client's browser reported when the relay's packets reached it (transport-wide feedback, in `downlinkDelivery`). */
  downlinkFeedback(): void;
  /** One of the client's slots left out a frame of a higher temporal layer (its video queued at the relay). */
  frameLeftOut(): void;
}

/** One participant's connection to the relay. */
export interface RelayConnection {
  readonly id: string;
  /** The slots the client offered, in m-line order (empty before the first offer). */
  readonly slots: readonly VideoSlot[];
  /** Whether `close()` ran or the connection was lost. */
  readonly isClosed: boolean;
  /** What its slots send the client and what the client loses of it (and the probe of its link). */
  readonly downlinkMeter: DownlinkMeter;
  /** When its slots' packets go out: at a pace while the client's downlink is limited. */
  readonly downlinkPacer: DownlinkPacer;
  /** When its slots' packets reached the client, from its transport-wide feedback. */
  readonly downlinkDelivery: DownlinkDelivery;
  /** How many temporal layers its slots forward now (fewer while its video queues at the relay). */
  readonly temporalValve: TemporalValve;
  /** The client's video as it reaches the relay (its last reception report's interval), undefined before any. */
  readonly uplink: DownlinkReport['uplink'];
  /** The UDP host endpoints its ICE sockets are bound to: where a client's TURN relay sends to reach us. */
  localUdpEndpoints(): Array<{ address: string; port: number }>;
  /** Applies the client's offer and returns the answer SDP; offers are applied one at a time. */
  negotiate(offerSdp: string): Promise<string>;
  /** Adds a client ICE candidate, queued until the offer is applied. */
  addCandidate(candidate: IceCandidateInit): Promise<void>;
  /** Sends one Opus frame of this participant's mix; returns its RTP size, or 0 when not sent. */
  sendAudio(opus: Buffer, mediaTimeMs?: number): number;
  /** Sends the client the relay's receiver reports on its video. */
  sendReceptionReports(nowMs: number): void;
  /** Asks the client's camera (or screen) for a keyframe on one layer (default the lowest), coalesced per stream. */
  requestKeyframe(source?: VideoSource, layer?: number): void;
  /** The streams the client sends of a source, lowest layer first (empty before its offer). */
  streamsOf(source: VideoSource): readonly InputStream[];
  /** Closes the connection; idempotent. */
  close(): void;
}

/** Life of a connection; changed only through `PeerLife.move`, along `TRANSITIONS`. */
export type PeerState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'closed';

const TRANSITIONS: Record<PeerState, readonly PeerState[]> = {
  new: ['connecting', 'connected', 'closed'],
  connecting: ['connected', 'closed'],
  connected: ['disconnected', 'closed'],
  disconnected: ['connected', 'closed'],
  closed: [],
};

/** Runs a callback of the WebRTC stack so that an exception stays inside this participant. */
export function guarded(log: RelayLogger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    log.error({ err: error }, `relay peer ${what} handler failed`);
  }
}

/**
 * Local ICE candidates on their way to the client, held while an answer is being made and
 * until it has gone out: a browser rejects `addIceCandidate` before it has the remote
 * description. Holds are counted.
 */
export class CandidateGate {
  private holds = 0;
  private readonly held: IceCandidateInit[] = [];

  constructor(
    private readonly emit: (candidate: IceCandidateInit) => void,
    private readonly log: RelayLogger,
  ) {}

  /** Sends the candidate now, or after the last hold is released. */
  push(candidate: IceCandidateInit): void {
    if (this.holds > 0) this.held.push(candidate);
    else this.emit(candidate);
  }

  hold(): void {
    this.holds += 1;
  }

  /** Ends one hold; at the last, sends what was held. */
  release(): void {
    this.holds = Math.max(0, this.holds - 1);
    if (this.holds > 0) return;
    for (const candidate of this.held.splice(0)) guarded(this.log, 'ice candidate', () => this.emit(candidate));
  }

  /** Forgets what is held (the connection closed). */
  clear(): void {
    this.held.length = 0;
  }
}

/** A connection's state, moved only along the allowed transitions. */
export class PeerLife {
  private current: PeerState = 'new';

  constructor(private readonly log: RelayLogger) {}

  get state(): PeerState {
    return this.current;
  }

  /**
   * Follows the WebRTC stack's connection state: `connected` (again) calls `onConnected` once
   * per change; `failed` or `closed`, unless already closed, closes and calls `onLost`.
   */
  follow(state: string, onConnected: () => void, onLost: () => void): void {
    if (state === 'connected') {
      if (this.move('connected')) onConnected();
    } else if (state === 'disconnected') {
      this.move('disconnected');
    } else if ((state === 'failed' || state === 'closed') && this.current !== 'closed') {
      this.move('closed');
      onLost();
    }
  }

  /** Moves along TRANSITIONS; returns whether the state changed. */
  move(next: PeerState): boolean {
    const previous = this.current;
    if (previous === next) return false;
    if (!TRANSITIONS[previous].includes(next)) {
      this.log.debug({ from: previous, to: next }, 'ignoring peer state change');
      return false;
    }
    this.current = next;
    this.log.info({ from: previous, to: next }, `peer ${previous} -> ${next}`);
    return true;
  }
}
