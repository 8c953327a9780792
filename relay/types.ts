/**
 * The relay's public vocabulary: what the coordinator passes in (offers, candidates, publish
 * state, options, an audio sink) and what it gets back (answers, events, counters).
 */

import { LIMITS } from '../protocol/limits';
import type { DownlinkReport, RelaySlot } from '../protocol/signaling';

export type { VideoSource } from '../protocol/signaling';

/**
 * One RTP packet received from a participant, as the relay reads it: the header fields it
 * routes on and the payload (padding and header extensions excluded). The relay peer fills
 * one such object per track and reuses it packet after packet, so a reader must not keep it
 * past the call (the payload Buffer may be kept: it is the packet's own).
 */
export interface RtpIn {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payloadType: number;
  payload: Buffer;
  /** The packet's RTP size (header and payload, before SRTP). */
  size: number;
}

/** Number of pre-allocated `recvonly` video transceivers a client puts in its offer (one number for both sides). */
export const VIDEO_SLOTS = LIMITS.relayVideoSlots;

/** An ICE candidate as it crosses the signaling socket (the browser's `RTCIceCandidateInit`). */
export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** Which participant's camera or screen a client's slot (identified by its `mid`) carries now, and at which layer (see protocol `RelaySlot`). */
export type { SlotView } from '../protocol/signaling';
export type SlotAssignment = RelaySlot;

/** What a participant currently sends, as the coordinator knows it (mic and camera toggles, screen share). */
export interface PublishState {
  audio: boolean;
  video: boolean;
  /** Sharing a screen; absent counts as not. */
  screen?: boolean;
}

/** Why the relay closed a participant's connection: only `connection lost` was not asked for. */
export type RelayCloseReason = 'removed' | 'replaced' | 'relay closed' | 'connection lost';

/** Events a `MeetingRelay` emits; listeners are isolated (a throwing listener is logged, not propagated). */
export interface RelayEvents {
  /** A server-side ICE candidate to send to that client (always emitted after its answer). */
  candidate: (participantId: string, candidate: IceCandidateInit) => void;
  /** The full current slot table of that client. */
  slots: (participantId: string, slots: SlotAssignment[]) => void;
  /** ICE and DTLS are connected for that participant. */
  connected: (participantId: string) => void;
  /** The first RTP packet arrived from that participant (used to commit a topology switch). */
  mediaFlowing: (participantId: string) => void;
  /** That participant's connection is gone (removed, failed, or the relay closed). */
  closed: (participantId: string, reason: RelayCloseReason) => void;
  /** About once a second per participant: the relay's view of its link (DownlinkReport). */
  downlink: (participantId: string, report: DownlinkReport) => void;
  /** Which of that publisher's camera layers (lowest first) it should send: the others nobody watches (PublisherLayers). */
  cameraLayers: (participantId: string, active: boolean[]) => void;
}

/**
 * Receives every participant's Opus packets and produces their N−1 mixes (the mixer in
 * `relay/audio/`); it sends each mix back through `MeetingRelay.sendAudio`.
 */
export interface AudioSink {
  addParticipant(id: string): void;
  removeParticipant(id: string): void;
  pushPacket(id: string, seq: number, timestamp: number, payload: Uint8Array): void;
  setMuted(id: string, muted: boolean): void;
}

/** Structured logger, call-compatible with pino (and so with Fastify's `log`). */
export interface RelayLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Tuning of one `MeetingRelay`; every field is optional. */
export interface RelayOptions {
  /**
   * Extra addresses offered as host candidates. libjuice does not gather loopback, so tests
   * and single-machine setups pass `['127.0.0.1']`.
   */
  hostAddresses?: string[];
  /** UDP port range for ICE, `[min, max]` with min < max; default any free port. Ignored with `udpMuxPort`. */
  icePortRange?: [number, number];
  /**
   * Every connection of the process on this one UDP port (libjuice's ICE UDP mux: one socket,
   * incoming STUN routed to its connection by ICE ufrag, then by remote address); 0 = one free
   * port, shared until the process's last connection closes. Unset: a fresh port per connection.
   * One process per port: libjuice sets no SO_REUSEPORT, so each media worker needs its own.
   */
  udpMuxPort?: number;
  /**
   * The one address the relay's candidates carry instead of its interface addresses (a server
   * behind 1:1 NAT, as mediasoup's `announcedAddress`); the port stays the local one.
   */
  announcedAddress?: string;
  /** The one local address the relay's sockets bind (default every address). */
  bindAddress?: string;
  /**
   * Minimum gap between two keyframe requests sent to one publisher (ms); default 500.
   * libwebrtc drops requests that come within 300 ms of the previous one, so a shorter gap
   * could lose the coalesced request a new viewer is waiting for.
   */
  keyframeRequestIntervalMs?: number;
  /** Where to log; default warnings and errors to stderr, nothing else. */
  logger?: RelayLogger;
}

export type { RelayCounters } from './counters';
