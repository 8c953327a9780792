/**
 * The one small interface both media paths implement (P2P and relay), so the media
 * engine does not care which path is in use: publish local tracks, receive remote
 * media per participant, report stats, close.
 */
import type { DownlinkReport, RelaySlot, VideoSource } from '../../protocol/signaling';

export type MediaPath = 'p2p' | 'relay';

/** What a path delivers: video per participant, and audio per participant (P2P) or one mix (relay). */
export interface RemoteMedia {
  /** Cameras, by participant id. */
  videos: ReadonlyMap<string, MediaStream>;
  /** Shared screens, by participant id (a second video track from the same person). */
  screens: ReadonlyMap<string, MediaStream>;
  /** Keyed by participant id, or `mix` for the relay's single mixed stream. */
  audios: ReadonlyMap<string, MediaStream>;
  /** Relay only: how the relay serves each received video (by `videoKey`): its layer, or paused. */
  relayVideo?: ReadonlyMap<string, RelayVideoState>;
  /** Relay only: every video slot of this client carries someone, so a camera without one is not shown for lack of room. */
  slotsFull?: boolean;
}

/** How the relay serves one received video: which of the publisher's layers and why, or paused for this viewer's downlink. */
export type RelayVideoState = Pick<RelaySlot, 'paused' | 'waiting' | 'layer'>;

export const MIX_KEY = 'mix';

/**
 * A connection (P2P or relay) `disconnected` this long counts as failed and is replaced:
 * Chrome says `failed` only after ~30 s, and a real loss shows as `disconnected` within
 * 2–5 s of silence, while a brief hiccup (Wi-Fi roaming) comes back within a second or two.
 */
export const DISCONNECTED_COUNTS_AS_FAILED_MS = 3000;

/** Local tracks to send; null sends nothing of that kind (device off, no screen shared). */
export interface LocalTracks {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  /** The shared screen: a second video track, on its own transceiver. */
  screen: MediaStreamTrack | null;
}

/** One sample of a path's health, for the badge and the stats overlay. */
export interface PathStats {
  path: MediaPath;
  /** ICE state of the path's transport(s): `connected` once media can flow. */
  state: 'new' | 'connecting' | 'connected' | 'failed' | 'closed';
  transport?: string;
  localCandidateType?: string;
  remoteCandidateType?: string;
  localAddress?: string;
  remoteAddress?: string;
  /** Bits per second since the previous sample; undefined on a path's first sample. */
  bitrateUp?: number;
  bitrateDown?: number;
  /** Fraction of inbound packets lost since the previous sample, 0..1. */
  loss: number;
  rttMs?: number;
  jitterMs?: number;
  /**
   * What the browser's jitter buffer holds the audio you hear for, since the previous sample
   * (ms; the largest over received audio streams): `delayMs` as played, `targetMs` as aimed at.
   */
  audioBuffer?: { delayMs: number; targetMs: number };
  audioCodec?: string;
  videoCodec?: string;
  /** Per received video (by participant id and source): resolution and frame rate, and on the relay its layer or pause. */
  inboundVideo: ({ participantId: string; source: VideoSource; width: number; height: number; fps: number } & RelayVideoState)[];
  /** Relay only: the relay's view of this client's downlink (`relay-downlink`), bits per second. */
  downlink?: DownlinkReport;
  /** The camera as sent (its largest layer when it sends several). */
  outboundVideo?: { width: number; height: number; fps: number };
  /** Every camera layer sending now, smallest first (one entry without simulcast). */
  outboundLayers?: { width: number; height: number; fps: number }[];
  /** Relay only: camera layers paused (of how many) because nobody's tile of you is large enough to need them, or nobody has room to show you. */
  unwatchedLayers?: { paused: number; of: number };
  /** The shared screen as sent, while sharing. */
  outboundScreen?: { width: number; height: number; fps: number };
  /** Received audio level (0..1) per participant, where the path knows who it is (P2P). */
  audioLevels: { participantId: string; level: number }[];
  packetsReceived: number;
}

export interface MediaConnection {
  readonly path: MediaPath;
  /** Called whenever the remote media changes. */
  onRemote: (media: RemoteMedia) => void;
  /** Called when the path's connection state changes. */
  onState: (state: PathStats['state']) => void;
  setLocalTracks(tracks: LocalTracks): void;
  /** True once the path is connected and media from the other side arrives on it. */
  carriesMedia(): Promise<boolean>;
  stats(): Promise<PathStats>;
  close(): void;
}
