/**
 * One participant's WebRTC connection to the relay (a werift RTCPeerConnection): applies the
 * client's offer, taps its incoming audio, camera and screen RTP, owns its video slots and
 * its mixed audio sender, and reads keyframe requests off its transport. It knows nothing of other
 * participants; `MeetingRelay` wires peers together.
 */
import {
  RTCPeerConnection,
  useOPUS,
  useVP8,
  type MediaStreamTrack,
  type RTCDtlsTransport,
  type RTCIceCandidate,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import { RelayError } from './errors';
import { OpusPacketizer } from './OpusPacketizer';
import { NO_EXTENSIONS, PacketRing } from './PacketRing';
import { keyframeRequestTargets, keyframeThrottles, type KeyframeThrottle } from './rtcp';
import { CandidateGate, guarded, PeerLife, type RelayConnection, type RelayPeerHandlers } from './RelayConnection';
import type { IceCandidateInit, RelayLogger, RelayOptions, RelayTrack, RtpIn, VideoSource } from './types';
import { VideoSlot } from './VideoSlot';
import { WeriftSlotOutput } from './WeriftSlotOutput';

const EMPTY = Buffer.alloc(0);

/** One of the client's outgoing video sources as the relay receives it. */
interface SourceIn {
  transceiver: RTCRtpTransceiver;
  /** SSRC of the last packet received (the offer's may be missing or change). */
  ssrc: number | undefined;
}

/** One participant's connection to the relay, on werift. */
export class RelayPeer implements RelayConnection {
  private readonly life: PeerLife;
  private readonly pc: RTCPeerConnection;
  private audio: RTCRtpTransceiver | undefined;
  /** The camera (always, from the first video m-line) and the screen (when the client offers one). */
  private readonly sources = new Map<VideoSource, SourceIn>();
  private videoSlots: VideoSlot[] = [];
  /** werift fires ontrack (and keeps tracks) again on every renegotiation: tap each track once. */
  private readonly tappedTracks = new WeakSet<MediaStreamTrack>();
  private readonly tappedTransports = new WeakSet<RTCDtlsTransport>();
  private remoteDescriptionSet = false;
  private readonly pendingRemoteCandidates: IceCandidateInit[] = [];
  /** Local candidates, held while an offer is being answered. */
  private readonly localCandidates: CandidateGate;
  private negotiations: Promise<unknown> = Promise.resolve();
  private readonly closedSignal: Promise<never>;
  private rejectClosed: (error: RelayError) => void = () => {};
  private readonly packetizer = new OpusPacketizer();
  private readonly keyframes: Record<VideoSource, KeyframeThrottle>;
  /** Packet objects for the mix (see PacketRing); one rejection handler for every send. */
  private readonly audioRing = new PacketRing();
  private readonly onAudioSendFailed = (error: unknown): void => this.log.debug({ err: error }, 'sending audio failed');

  constructor(
    readonly id: string,
    options: RelayOptions,
    private readonly handlers: RelayPeerHandlers,
    private readonly log: RelayLogger,
  ) {
    this.life = new PeerLife(log);
    this.localCandidates = new CandidateGate((candidate) => this.handlers.candidate(candidate), log);
    this.closedSignal = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closedSignal.catch(() => {}); // observed through Promise.race only
    this.keyframes = keyframeThrottles(options.keyframeRequestIntervalMs, (source) => this.guard('keyframe request', () => this.sendPli(source)));
    this.pc = new RTCPeerConnection({
      // One codec per kind: forwarded RTP keeps its payload, so every publisher and every
      // viewer must agree on it (werift rewrites only the payload type number).
      codecs: { audio: [useOPUS()], video: [useVP8()] },
      iceServers: options.iceServers ?? [],
      iceAdditionalHostAddresses: options.hostAddresses,
      icePortRange: options.icePortRange,
      bundlePolicy: 'max-bundle',
    });
    this.pc.onIceCandidate.subscribe((candidate) => this.guard('ice candidate', () => this.onLocalCandidate(candidate)));
    this.pc.connectionStateChange.subscribe((state) => this.guard('connection state', () => this.life.follow(state, () => this.handlers.connected(), () => this.lose())));
  }

  /** The slots the client offered, in m-line order (empty before the first offer). */
  get slots(): readonly VideoSlot[] {
    return this.videoSlots;
  }

  /** Whether `close()` ran or the connection was lost. */
  get isClosed(): boolean {
    return this.life.state === 'closed';
  }

  /** The UDP host endpoints its ICE sockets are bound to: where a client's TURN relay sends to reach us. */
  localUdpEndpoints(): Array<{ address: string; port: number }> {
    if (this.life.state === 'closed') return [];
    return this.pc.iceTransports
      .flatMap((transport) => transport.connection.localCandidates)
      .filter((c) => c.type === 'host' && c.transport.toLowerCase() === 'udp')
      .map((c) => ({ address: c.host, port: c.port }));
  }

  /** Applies the client's offer and returns the answer SDP; offers are applied one at a time. */
  negotiate(offerSdp: string): Promise<string> {
    if (this.life.state === 'closed') return Promise.reject(RelayError.participantClosed(this.id));
    const run = this.negotiations.then(() => this.applyOffer(offerSdp));
    this.negotiations = run.catch(() => undefined).then(() => {
      if (this.life.state === 'closed') this.stopIce();
    });
    // werift parks description calls on a closed connection forever; close() rejects instead.
    return Promise.race([run, this.closedSignal]);
  }

  /** Adds a client ICE candidate, queued until the offer is applied. */
  async addCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.life.state === 'closed') throw RelayError.participantClosed(this.id);
    if (!this.remoteDescriptionSet) {
      this.pendingRemoteCandidates.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      throw RelayError.invalidCandidate(error);
    }
  }

  /**
   * Sends one Opus frame of this participant's mix (`mediaTimeMs`: its place on the mixer's
   * clock); returns its RTP size, or 0 when not sent. `opus` must stay unchanged while werift
   * may retransmit it (the mixer hands out a fresh packet per encode).
   */
  sendAudio(opus: Buffer, mediaTimeMs?: number): number {
    const transceiver = this.audio;
    if (this.life.state !== 'connected' || !transceiver) return 0;
    const sender = transceiver.sender;
    const direction = transceiver.currentDirection;
    if (!sender.codec || (direction !== 'sendrecv' && direction !== 'sendonly')) return 0;
    const packet = this.audioRing.next();
    const header = packet.header;
    this.packetizer.nextInto(header, opus, mediaTimeMs);
    header.payloadType = sender.codec.payloadType;
    header.ssrc = sender.ssrc;
    header.extension = false;
    header.extensions = NO_EXTENSIONS;
    packet.payload = opus;
    sender.sendRtp(packet).catch(this.onAudioSendFailed);
    return 12 + opus.length;
  }

  /**
   * Asks this client's camera (or screen) for a keyframe (coalesced per source); ignored until
   * first connected, when its encoder starts on one anyway. Also sent while `disconnected`:
   * werift reports that when a consent check is late (a busy CPU) while media still flows,
   * and a viewer waiting for its first keyframe would otherwise wait until the state recovers.
   */
  requestKeyframe(source: VideoSource = 'camera'): void {
    if (this.life.state === 'connected' || this.life.state === 'disconnected') this.keyframes[source].request();
  }

  /** Closes the connection; idempotent. */
  close(): void {
    if (this.life.state === 'closed') return;
    this.life.move('closed');
    this.shutdown();
  }

  private shutdown(): void {
    this.keyframes.camera.close();
    this.keyframes.screen.close();
    this.rejectClosed(RelayError.participantClosed(this.id));
    for (const slot of this.videoSlots) slot.assign(null);
    this.pendingRemoteCandidates.length = 0;
    this.localCandidates.clear();
    this.pc.close().catch((error: unknown) => this.log.warn({ err: error }, 'closing the peer connection failed'));
    this.stopIce();
  }

  /**
   * Stops every ICE agent and DTLS handshake of the connection. werift's close() misses an
   * ICE agent whose checks a negotiation still in flight starts afterwards (its 20 ms check
   * loop then runs forever), and a DTLS handshake cut short keeps retransmitting its flight
   * for half a minute whatever the transport's state: so this runs at close, and again when
   * such a negotiation ends.
   */
  private stopIce(): void {
    for (const transport of this.pc.iceTransports) {
      transport.connection.close().catch((error: unknown) => this.log.debug({ err: error }, 'stopping ICE failed'));
    }
    for (const transport of this.pc.dtlsTransports) {
      // The retransmit loop ends once the handshake has "reached" a later flight.
      const context = transport.dtls?.dtls;
      if (context) context.flight = Number.MAX_SAFE_INTEGER;
    }
  }

  private async applyOffer(sdp: string): Promise<string> {
    if (this.life.state === 'closed') throw RelayError.participantClosed(this.id);
    // Candidates gathered while answering go out after the answer: a browser rejects
    // addIceCandidate before it has the remote description.
    this.localCandidates.hold();
    try {
      try {
        await this.pc.setRemoteDescription({ type: 'offer', sdp });
      } catch (error) {
        throw RelayError.invalidOffer(error instanceof Error ? error.message : String(error), error);
      }
      this.remoteDescriptionSet = true;
      await this.flushRemoteCandidates();
      this.adoptTransceivers();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.tapTransports();
      if (this.life.state === 'new') this.life.move('connecting');
      const local = this.pc.localDescription;
      if (!local) throw RelayError.invalidOffer('no local description after answering');
      return local.sdp;
    } finally {
      // After the caller's continuation, which sends the answer.
      setImmediate(() => {
        if (!this.isClosed) this.localCandidates.release();
      });
    }
  }

  /**
   * Maps the offer's m-lines to roles: the first audio is the mic (the mix goes back on it),
   * the first video the camera; a second video the client sends on (offered `sendonly` or
   * `sendrecv`) is its screen share; every other video is a slot the relay sends on.
   */
  private adoptTransceivers(): void {
    const transceivers = this.pc
      .getTransceivers()
      .filter((t) => !t.stopped && t.mid !== null)
      .sort((a, b) => (a.mLineIndex ?? 0) - (b.mLineIndex ?? 0));
    const audio = transceivers.find((t) => t.kind === 'audio');
    const videos = transceivers.filter((t) => t.kind === 'video');
    const camera = videos[0];
    if (!audio || !camera) throw RelayError.invalidOffer('needs an audio and a camera video m-line first');
    // `offerDirection` is the offer's direction seen from here: `recvonly` when the client sends.
    const second = videos[1];
    const screen = second && (second.offerDirection === 'recvonly' || second.offerDirection === 'sendrecv') ? second : undefined;
    // werift creates transceivers for a remote offer as recvonly; the answer direction is
    // this direction ANDed with the offer's, so set what the relay wants to do.
    audio.setDirection('sendrecv');
    camera.setDirection('recvonly');
    screen?.setDirection('recvonly');
    const byMid = new Map(this.videoSlots.map((slot) => [slot.mid, slot]));
    this.videoSlots = videos.slice(screen ? 2 : 1).map((transceiver) => {
      transceiver.setDirection('sendonly');
      const mid = transceiver.mid ?? '';
      return byMid.get(mid) ?? new VideoSlot(this.id, mid, new WeriftSlotOutput(transceiver.sender, this.log));
    });
    this.audio = audio;
    this.adoptSource('camera', camera);
    if (screen) this.adoptSource('screen', screen);
    else this.sources.delete('screen');
    this.tapTracks(audio, 'audio');
    this.tapTracks(camera, 'camera');
    if (screen) this.tapTracks(screen, 'screen');
  }

  private adoptSource(source: VideoSource, transceiver: RTCRtpTransceiver): void {
    if (this.sources.get(source)?.transceiver !== transceiver) this.sources.set(source, { transceiver, ssrc: undefined });
  }

  /** Subscribes to every receive track of a transceiver not yet subscribed (one per SSRC). */
  private tapTracks(transceiver: RTCRtpTransceiver, track: RelayTrack): void {
    for (const received of transceiver.receiver.tracks) {
      if (this.tappedTracks.has(received)) continue;
      this.tappedTracks.add(received);
      // One listener and one packet view per track, built once: nothing is allocated per packet.
      const view: RtpIn = { ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 0, payload: EMPTY, size: 0 };
      const listener = (packet: RtpPacket): void => {
        try {
          const header = packet.header;
          view.ssrc = header.ssrc;
          view.sequenceNumber = header.sequenceNumber;
          view.timestamp = header.timestamp;
          view.marker = header.marker;
          view.payloadType = header.payloadType;
          view.payload = packet.payload;
          view.size = packet.serializeSize;
          if (track !== 'audio') {
            const source = this.sources.get(track);
            if (source) source.ssrc = header.ssrc;
          }
          this.handlers.rtp(track, view);
        } catch (error) {
          this.log.error({ err: error, track }, 'relay peer rtp handler failed');
        }
      };
      received.onReceiveRtp.subscribe(listener);
    }
  }

  /**
   * Reads keyframe requests off each transport (see rtcp.ts for why not werift's routing, nor
   * its parsed `onRtcp` packets): taps the transport's incoming datagrams and decrypts the
   * SRTCP ones with the transport's own session, as werift does next to it (decryption is
   * stateless and copies, and RTCP comes a few times a second).
   */
  private tapTransports(): void {
    for (const transport of this.pc.dtlsTransports) {
      if (this.tappedTransports.has(transport)) continue;
      this.tappedTransports.add(transport);
      transport.iceTransport.connection.onData.subscribe((data) => {
        // Every datagram passes here (RTP too): return before allocating anything unless it is RTCP.
        // RFC 5761 §4: RTCP packet types 192–223 in the second byte (RTP: payload types < 128 with the marker bit).
        if (data.length < 8 || data[0]! >> 6 !== 2 || data[1]! < 192 || data[1]! > 223) return;
        this.guard('rtcp', () => this.onRtcpDatagram(transport, data));
      });
    }
  }

  /** A (compound) SRTCP datagram from the client: routes the keyframe requests it carries. */
  private onRtcpDatagram(transport: RTCDtlsTransport, data: Buffer): void {
    // Unset until DTLS has produced the SRTP keys.
    const srtcp = transport.srtcp as typeof transport.srtcp | undefined;
    if (!srtcp) return;
    let datagram: Buffer;
    try {
      datagram = srtcp.decrypt(data);
    } catch {
      return; // not authentic, or not SRTCP at all: werift drops it too
    }
    for (const ssrc of keyframeRequestTargets(datagram)) {
      const slot = this.videoSlots.find((s) => s.output.ssrc === ssrc);
      if (slot) this.handlers.keyframeRequest(slot);
    }
  }

  private sendPli(source: VideoSource): void {
    const incoming = this.sources.get(source);
    const receiver = incoming?.transceiver.receiver;
    const ssrc = incoming?.ssrc ?? receiver?.track.ssrc;
    // `disconnected` too: werift says so while media still flows (see requestKeyframe), and a
    // viewer waiting for its first keyframe would wait until it says connected again.
    if (!receiver || ssrc === undefined || (this.life.state !== 'connected' && this.life.state !== 'disconnected')) return;
    receiver.sendRtcpPLI(ssrc).catch((error: unknown) => this.log.debug({ err: error }, 'sending a PLI failed'));
    this.handlers.pliSent();
  }

  private async flushRemoteCandidates(): Promise<void> {
    for (const candidate of this.pendingRemoteCandidates.splice(0)) {
      try {
        await this.pc.addIceCandidate(candidate);
      } catch (error) {
        this.log.debug({ err: error, candidate: candidate.candidate }, 'dropping a queued ICE candidate');
      }
    }
  }

  private onLocalCandidate(candidate: RTCIceCandidate | undefined): void {
    // End of gathering needs no message: the answer already lists every host candidate.
    if (!candidate || this.life.state === 'closed') return;
    const init: IceCandidateInit = {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? null,
      sdpMLineIndex: candidate.sdpMLineIndex ?? null,
    };
    this.localCandidates.push(init);
  }

  /** The connection failed or closed by itself. */
  private lose(): void {
    this.shutdown();
    this.handlers.lost();
  }

  private guard(what: string, fn: () => void): void {
    guarded(this.log, what, fn);
  }
}
