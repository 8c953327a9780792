/**
 * One participant's connection to the relay on node-datachannel (libdatachannel: ICE by
 * libjuice, DTLS and SRTP by OpenSSL and libsrtp, in native threads). JavaScript sees each
 * received packet once and each sent packet once; keyframe requests, receiver reports, NACK
 * retransmissions and SRTP stay native (README "Which transport").
 *
 * The client's offer is answered with one local track per m-line, created by mid before the
 * offer is applied: the first audio is the mic and carries the mix back, the first video is
 * the camera, a second video the client sends on is its screen, every other video a slot.
 * A connection is negotiated once (the client offers again on a new connection).
 *
 * libdatachannel serves one JavaScript thread per process: load it only where no other thread
 * does (a media worker process, or the main thread with `MEDIA_WORKERS=0`).
 */
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import type NodeDataChannel from 'node-datachannel';
import type { Audio, MediaHandler, PeerConnection, Track, Video } from 'node-datachannel';
import { DownlinkDelivery } from './allocation/DownlinkDelivery';
import { DownlinkMeter } from './allocation/DownlinkMeter';
import { DownlinkPacer } from './allocation/DownlinkPacer';
import { TemporalValve } from './allocation/TemporalValve';
import { RelayError } from './errors';
import { OpusPacketizer } from './OpusPacketizer';
import { CandidateGate, guarded, PeerLife, type RelayConnection, type RelayPeerHandlers } from './RelayConnection';
import { KeyframeThrottle, keyframeRequestTargets, nackedSequences, nackPacket, pliPacket, receiverReport, senderReports, type ReportBlock } from './rtcp';
import { SourceStreams, type InputStream } from './InputStreams';
import { SlotNumbering } from './SlotNumbering';
import { offeredMedia, type OfferedMedia } from './OfferedMedia';
import { isRtcp, MAX_RTP_BYTES, readExtension16, readRtp, TRANSPORT_CC_URI, writeRtp } from './rtpBytes';
import { TrackSlotOutput } from './TrackSlotOutput';
import { TransportFeedback } from './uplink/TransportFeedback';
import type { DownlinkReport } from '../protocol/signaling';
import type { IceCandidateInit, RelayLogger, RelayOptions, RtpIn, VideoSource } from './types';
import { VideoSlot } from './VideoSlot';

type Native = typeof NodeDataChannel;
let native: Native | undefined;
/** Loaded on first use, so a process that never hosts a relay (the coordinator) never loads the addon. */
function nativeStack(): Native {
  native ??= createRequire(import.meta.url)('node-datachannel') as Native;
  return native;
}

/** Ends libdatachannel's threads and its callbacks into JavaScript; call once every connection of the process is closed. */
export function releaseNativeRelay(): void {
  native?.cleanup();
}

const CNAME = 'meetmesh-relay';
/** The sender SSRC of the relay's own feedback to publishers (PLIs, receiver reports, transport-wide feedback; RFC 4585 §6.1: any constant of its own will do). */
const FEEDBACK_SENDER_SSRC = 1;
/** Signalled remote candidates given to libjuice, of its 30 (ICE_MAX_CANDIDATES_COUNT): the rest stay for peer-reflexive ones. */
const SIGNALLED_CANDIDATES_MAX = 12;
/** Opus as the relay sends it: mono mix, in-band FEC welcome (no `stereo=1`: a mic encoder would honour it). */
const OPUS_FMTP = 'minptime=10;useinbandfec=1';
/** How often a publisher gets transport-wide feedback (libwebrtc's receivers send it every 50–250 ms, 100 by default). */
const TRANSPORT_FEEDBACK_INTERVAL_MS = 50;

/**
 * The transport-wide sequence number's extension ID on an m-line the client sends on, when
 * its offer takes transport-wide feedback for the codec; the answer then carries both (the
 * browser runs its send-side estimator on the relay's feedback, see TransportFeedback).
 */
function answerTransportCc(description: Audio | Video, offered: OfferedMedia): number | undefined {
  const id = offered.extensions.get(TRANSPORT_CC_URI);
  if (id === undefined || offered.payloadType === undefined || !offered.feedback.has('transport-cc')) return undefined;
  description.parseSdpLine(`a=extmap:${id} ${TRANSPORT_CC_URI}`);
  description.parseSdpLine(`a=rtcp-fb:${offered.payloadType} transport-cc`);
  return id;
}

/** A packet view to be filled by `readRtp` (its payload is replaced by each packet's). */
function emptyRtpIn(payload: Buffer): RtpIn {
  return { ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 0, payload, size: 0 };
}

/** The PeerConnection's port settings: one mux port, a range, or libjuice's default (any free port). */
function portConfig(options: RelayOptions): { enableIceUdpMux?: boolean; portRangeBegin?: number; portRangeEnd?: number; bindAddress?: string } {
  if (options.bindAddress !== undefined) return { ...portConfig({ ...options, bindAddress: undefined }), bindAddress: options.bindAddress };
  if (options.udpMuxPort !== undefined) {
    // Port 0: no range, so libjuice binds a free port for the first connection and hands the
    // same mux socket to every later one (its registry matches any port then).
    return options.udpMuxPort === 0
      ? { enableIceUdpMux: true }
      : { enableIceUdpMux: true, portRangeBegin: options.udpMuxPort, portRangeEnd: options.udpMuxPort };
  }
  const [portRangeBegin, portRangeEnd] = options.icePortRange ?? [];
  return portRangeBegin !== undefined && portRangeEnd !== undefined ? { portRangeBegin, portRangeEnd } : {};
}

/** One participant's connection to the relay, on node-datachannel. */
export class RelayPeer implements RelayConnection {
  private readonly life: PeerLife;
  private readonly pc: PeerConnection;
  /** Held so they live: a Track the script drops is destroyed, and its m-line with it. */
  private readonly tracks: Track[] = [];
  private mic: { track: Track; payloadType: number; ssrc: number } | undefined;
  private videoSlots: VideoSlot[] = [];
  private negotiated = false;
  private remoteDescriptionSet = false;
  private readonly pendingRemoteCandidates: IceCandidateInit[] = [];
  /** The client's signalled UDP endpoints handed to libjuice (`address port`). */
  private readonly remoteEndpoints = new Set<string>();
  /** Local candidates are held until the answer has gone out (a browser rejects them before). */
  private readonly localCandidates: CandidateGate;
  private readonly udpEndpoints: Array<{ address: string; port: number }> = [];
  private readonly extraHostAddresses: readonly string[];
  private readonly announcedAddress: string | undefined;
  private readonly packetizer = new OpusPacketizer();
  /** Keyframe requests to this publisher, coalesced per stream (`source:layer`). */
  private readonly keyframes = new Map<string, KeyframeThrottle>();
  private readonly keyframeIntervalMs: number;
  private readonly streams = new Map<VideoSource, SourceStreams>();
  /** Outgoing packets are written here, then copied by libdatachannel (one send at a time). */
  private readonly scratch = Buffer.alloc(MAX_RTP_BYTES);
  /** What this connection's slots send the client, and what it loses of it. */
  readonly downlinkMeter = new DownlinkMeter();
  /** When this connection's slots' packets go out. */
  readonly downlinkPacer = new DownlinkPacer();
  readonly temporalValve: TemporalValve;
  /** When this connection's slots' packets reached the client (its transport-wide feedback). */
  readonly downlinkDelivery = new DownlinkDelivery();
  /** The client's video as it reaches the relay, per reception report interval. */
  private uplinkReport: DownlinkReport['uplink'];
  /** When the client's packets arrive, for its send-side estimator (when negotiated). */
  private readonly transportFeedback = new TransportFeedback();
  private transportFeedbackTimer: NodeJS.Timeout | undefined;
  private rejectNegotiation: ((error: RelayError) => void) | undefined;

  constructor(
    readonly id: string,
    options: RelayOptions,
    private readonly handlers: RelayPeerHandlers,
    private readonly log: RelayLogger,
  ) {
    this.life = new PeerLife(log);
    this.temporalValve = new TemporalValve(this.downlinkPacer, () => this.handlers.frameLeftOut());
    this.localCandidates = new CandidateGate((candidate) => this.handlers.candidate(candidate), log);
    // Nothing goes out before the answer.
    this.localCandidates.hold();
    this.keyframeIntervalMs = options.keyframeRequestIntervalMs ?? 500;
    this.announcedAddress = options.announcedAddress;
    // An announced address replaces every other one: a browser must not pick a private one.
    this.extraHostAddresses = options.announcedAddress === undefined ? options.hostAddresses ?? [] : [];
    // No bind address (unless the announced address is local): libjuice's socket (one per
    // connection, or the process's one mux socket) listens on every address (dual-stack), so
    // the extra host addresses (loopback, which libjuice does not gather) and an announced
    // address reach it on the same port.
    this.pc = new (nativeStack().PeerConnection)(`relay-${id}`, { iceServers: [], ...portConfig(options) });
    this.pc.onLocalCandidate((candidate, mid) => this.guard('ice candidate', () => this.onLocalCandidate(candidate, mid)));
    this.pc.onStateChange((state) => this.guard('connection state', () => this.life.follow(state, () => this.handlers.connected(), () => this.lose())));
  }

  get uplink(): DownlinkReport['uplink'] {
    return this.uplinkReport;
  }

  get slots(): readonly VideoSlot[] {
    return this.videoSlots;
  }

  get isClosed(): boolean {
    return this.life.state === 'closed';
  }

  /** ICE and DTLS are up (also while a consent check is late: media may still flow). */
  get isConnected(): boolean {
    return this.life.state === 'connected' || this.life.state === 'disconnected';
  }

  localUdpEndpoints(): Array<{ address: string; port: number }> {
    return this.isClosed ? [] : [...this.udpEndpoints];
  }

  negotiate(offerSdp: string): Promise<string> {
    if (this.isClosed) return Promise.reject(RelayError.participantClosed(this.id));
    if (this.negotiated) return Promise.reject(RelayError.invalidOffer('this connection is already negotiated: offer on a new one'));
    this.negotiated = true;
    return new Promise<string>((resolve, reject) => {
      this.rejectNegotiation = reject;
      try {
        this.addTracksFor(offeredMedia(offerSdp));
      } catch (error) {
        reject(error instanceof RelayError ? error : RelayError.invalidOffer(String(error), error));
        return;
      }
      this.pc.onLocalDescription((sdp, type) => {
        if (type !== 'answer' || this.isClosed) return;
        this.rejectNegotiation = undefined;
        if (this.life.state === 'new') this.life.move('connecting');
        resolve(sdp);
        // After the caller's continuation, which sends the answer.
        setImmediate(() => {
          if (!this.isClosed) this.localCandidates.release();
        });
      });
      try {
        this.pc.setRemoteDescription(offerSdp, 'offer');
      } catch (error) {
        this.rejectNegotiation = undefined;
        reject(RelayError.invalidOffer(error instanceof Error ? error.message : String(error), error));
        return;
      }
      this.remoteDescriptionSet = true;
      for (const candidate of this.pendingRemoteCandidates.splice(0)) this.applyRemoteCandidate(candidate);
    });
  }

  async addCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.isClosed) throw RelayError.participantClosed(this.id);
    if (!this.remoteDescriptionSet) this.pendingRemoteCandidates.push(candidate);
    else this.applyRemoteCandidate(candidate);
  }

  private readonly audioFields = { sequenceNumber: 0, timestamp: 0, marker: false };

  sendAudio(opus: Buffer, mediaTimeMs?: number): number {
    const mic = this.mic;
    if (this.life.state !== 'connected' || !mic || opus.length + 12 > MAX_RTP_BYTES || !mic.track.isOpen()) return 0;
    const fields = this.audioFields;
    this.packetizer.nextInto(fields, opus, mediaTimeMs);
    const out = writeRtp(this.scratch, mic.payloadType, fields.marker, fields.sequenceNumber, fields.timestamp, mic.ssrc, opus);
    return mic.track.sendMessageBinary(out) ? out.length : 0;
  }

  requestKeyframe(source: VideoSource = 'camera', layer = 0): void {
    if (!this.isConnected) return;
    const key = `${source}:${layer}`;
    let throttle = this.keyframes.get(key);
    if (!throttle) {
      throttle = new KeyframeThrottle(this.keyframeIntervalMs, () => this.guard('keyframe request', () => this.sendPli(source, layer)));
      this.keyframes.set(key, throttle);
    }
    throttle.request();
  }

  streamsOf(source: VideoSource): readonly InputStream[] {
    return this.streams.get(source)?.layers() ?? [];
  }

  close(): void {
    if (this.isClosed) return;
    this.life.move('closed');
    this.shutdown();
  }

  private shutdown(): void {
    this.downlinkPacer.close();
    clearInterval(this.transportFeedbackTimer);
    for (const throttle of this.keyframes.values()) throttle.close();
    this.rejectNegotiation?.(RelayError.participantClosed(this.id));
    this.rejectNegotiation = undefined;
    // Its slots are the relay's to empty (MeetingRelay owns every assignment and its index).
    this.pendingRemoteCandidates.length = 0;
    this.localCandidates.clear();
    try {
      this.pc.close();
    } catch (error) {
      this.log.warn({ err: error }, 'closing the peer connection failed');
    }
  }

  /** One local track per m-line of the offer, by mid, so the answer takes them (see the file comment). */
  private addTracksFor(media: OfferedMedia[]): void {
    const stack = nativeStack();
    const audio = media.find((m) => m.kind === 'audio');
    const videos = media.filter((m) => m.kind === 'video');
    const camera = videos[0];
    if (!audio || !camera) throw RelayError.invalidOffer('needs an audio and a camera video m-line first');
    if (audio.payloadType === undefined) throw RelayError.invalidOffer('the audio m-line offers no Opus');
    if (camera.payloadType === undefined) throw RelayError.invalidOffer('the camera m-line offers no VP8');
    const second = videos[1];
    const screen = second && (second.direction === 'sendonly' || second.direction === 'sendrecv') ? second : undefined;

    const micSsrc = randomInt(1, 0xffff_ffff);
    const micDescription = new stack.Audio(audio.mid, 'SendRecv');
    micDescription.addOpusCodec(audio.payloadType, OPUS_FMTP);
    micDescription.addSSRC(micSsrc, CNAME, 'relay', 'mix');
    const micTransportCc = answerTransportCc(micDescription, audio);
    const micTrack = this.addTrack(micDescription, new stack.RtcpReceivingSession());
    this.mic = { track: micTrack, payloadType: audio.payloadType, ssrc: micSsrc };
    this.tapAudio(micTrack, micTransportCc);
    let transportCc = micTransportCc !== undefined;

    for (const [source, offered] of [['camera', camera], ['screen', screen]] as const) {
      if (!offered || offered.payloadType === undefined) continue;
      const description = new stack.Video(offered.mid, 'RecvOnly');
      description.addVP8Codec(offered.payloadType);
      const transportCcId = answerTransportCc(description, offered);
      transportCc ||= transportCcId !== undefined;
      // No media handler: libdatachannel's receiver reports follow one sequence per m-line,
      // which simulcast layers make nonsense of; the relay reports per SSRC itself
      // (`sendReceptionReports`) and writes its own keyframe requests.
      const track = this.addTrack(description);
      const streams = new SourceStreams(this.id, source, offered.ssrcs);
      this.streams.set(source, streams);
      this.tapVideo(track, streams, transportCcId);
    }
    if (transportCc) {
      this.transportFeedbackTimer = setInterval(() => this.guard('transport feedback', () => this.sendTransportFeedback()), TRANSPORT_FEEDBACK_INTERVAL_MS);
      this.transportFeedbackTimer.unref();
    }

    this.videoSlots = videos
      .slice(screen ? 2 : 1)
      .filter((m) => m.payloadType !== undefined && (m.direction === 'recvonly' || m.direction === 'sendrecv'))
      .map((offered) => {
        const description = new stack.Video(offered.mid, 'SendOnly');
        description.addVP8Codec(offered.payloadType!);
        const ssrc = randomInt(1, 0xffff_ffff);
        description.addSSRC(ssrc, CNAME, `slot-${offered.mid}`, `slot-${offered.mid}`);
        // Transport-wide sequence numbers on what the relay sends: the browser reports when
        // each arrived (DownlinkDelivery), the per-viewer allocation's input.
        const transportCcId = answerTransportCc(description, offered);
        // No media handler: the relay answers NACKs itself, within a budget (RetransmitHistory).
        const track = this.addTrack(description);
        const slot = new VideoSlot(this.id, offered.mid, new TrackSlotOutput(this, track, ssrc, offered.payloadType!, this.scratch, this.downlinkMeter, this.downlinkPacer, this.downlinkDelivery, this.temporalValve, transportCcId));
        track.onMessage((message) => {
          if (isRtcp(message)) this.guard('rtcp', () => this.onSlotRtcp(slot, message));
        });
        return slot;
      });
  }

  private addTrack(description: Audio | Video, handler?: MediaHandler): Track {
    const track = this.pc.addTrack(description);
    if (handler) track.setMediaHandler(handler);
    this.tracks.push(track);
    return track;
  }

  /**
   * Hands the client's mic RTP to the relay; one packet view per track, reused (nothing
   * allocated but the payload view). Padding-only packets — the browser's estimator probing
   * on the mic when it sends no camera — count for the estimator and go no further, and the
   * mic's numbering toward the mixer closes their gaps: the mixer's jitter buffer plays a
   * slot per sequence number, so each would have become 20 ms of concealment in the talker's
   * voice, and that much more delay until the buffer shed it.
   */
  private tapAudio(track: Track, transportCcId: number | undefined): void {
    const view = emptyRtpIn(this.scratch);
    const numbering = new SlotNumbering(0);
    track.onMessage((message) => {
      if (!readRtp(message, view)) return;
      if (transportCcId !== undefined) this.recordTransportSequence(message, view.ssrc, transportCcId);
      if (view.payload.length === 0) {
        numbering.skip(view.sequenceNumber);
        return;
      }
      view.sequenceNumber = numbering.map(view.sequenceNumber);
      try {
        this.handlers.audio(view);
      } catch (error) {
        this.log.error({ err: error }, 'relay peer audio handler failed');
      }
    });
  }

  /** Hands the client's camera or screen RTP to the relay with the stream (layer) its SSRC is; unknown SSRCs are dropped here. */
  private tapVideo(track: Track, streams: SourceStreams, transportCcId: number | undefined): void {
    const view = emptyRtpIn(this.scratch);
    track.onMessage((message) => {
      if (isRtcp(message)) {
        // The publisher's sender reports: their times go back in the relay's reports (round-trip time).
        for (const { ssrc, ntpMiddle } of senderReports(message)) streams.known(ssrc)?.reception.senderReport(ntpMiddle, performance.now());
        return;
      }
      if (!readRtp(message, view)) return;
      // Every packet counts for the estimator, padding-only probes and unknown SSRCs too.
      if (transportCcId !== undefined) this.recordTransportSequence(message, view.ssrc, transportCcId);
      const stream = streams.lookup(view.ssrc);
      if (!stream) return;
      if (view.payload.length === 0) {
        // Padding only (the browser's estimator probing, on the SSRC of a layer it may have
        // stopped): counted as received for the reports, never as a layer that still flows.
        stream.measurePadding(view, performance.now());
        this.askAgain(stream);
        this.handlers.videoPadding(stream, view);
        return;
      }
      stream.measure(view, performance.now());
      this.askAgain(stream);
      try {
        this.handlers.video(stream, view);
      } catch (error) {
        this.log.error({ err: error, source: stream.source }, 'relay peer video handler failed');
      }
    });
  }

  /** RTCP from the viewer about one slot (libdatachannel routes it by SSRC, decrypted; NACKs are answered natively). */
  private onSlotRtcp(slot: VideoSlot, rtcp: Buffer): void {
    const ssrc = slot.output.ssrc;
    if (ssrc !== undefined) {
      const lost = nackedSequences(rtcp, ssrc);
      if (lost.length > 0) slot.output.resend(lost);
    }
    if (this.downlinkDelivery.onFeedback(rtcp, performance.now())) this.handlers.downlinkFeedback();
    for (const ssrc of keyframeRequestTargets(rtcp)) {
      if (ssrc === slot.output.ssrc) {
        this.handlers.keyframeRequest(slot);
        return;
      }
    }
  }

  /**
   * Asks the publisher for a keyframe on one stream: a PLI naming the layer's SSRC (libwebrtc
   * answers a PLI with a keyframe on that layer only). It goes out on
   * the mic's track: a receive-only track sends only libdatachannel's own control messages,
   * and every track shares the one bundled transport, where the browser routes RTCP by SSRC.
   */
  private sendPli(source: VideoSource, layer: number): void {
    const mic = this.mic?.track;
    if (!mic || !this.isConnected) return;
    const layers = this.streamsOf(source);
    const stream = layers[Math.min(layer, layers.length - 1)];
    if (!stream) return;
    try {
      if (!mic.sendMessageBinary(pliPacket(FEEDBACK_SENDER_SSRC, stream.ssrc))) return;
      this.handlers.pliSent();
      this.log.debug({ source, layer: stream.layer, ssrc: stream.ssrc }, 'keyframe asked');
    } catch (error) {
      this.log.debug({ err: error }, 'sending a PLI failed');
    }
  }

  /** NACKs the packets of the publisher's stream that are missing and due (MissingPackets), on the mic's track (see `sendPli`). */
  private askAgain(stream: InputStream): void {
    const seqs = stream.missing.due(performance.now());
    const mic = this.mic?.track;
    if (seqs.length === 0 || !mic || !this.isConnected) return;
    try {
      mic.sendMessageBinary(nackPacket(FEEDBACK_SENDER_SSRC, stream.ssrc, seqs));
    } catch (error) {
      this.log.debug({ err: error }, 'sending a NACK failed');
    }
  }

  /**
   * Tells the publisher what reaches the relay of its video: a receiver report per stream
   * (loss, jitter, round-trip time), on the mic's track (see `sendPli`). Its rate is the
   * browser's own, from the relay's transport-wide feedback (README "Feedback to each
   * publisher": a REMB ceiling of the relay's is no longer needed).
   */
  sendReceptionReports(nowMs: number): void {
    const mic = this.mic?.track;
    if (!mic || this.life.state !== 'connected' || !mic.isOpen()) return;
    const blocks: ReportBlock[] = [];
    let expected = 0;
    let lost = 0;
    let arrivingBps = 0;
    for (const streams of this.streams.values()) {
      for (const stream of streams.layers()) {
        // What was asked for again and came, counted here twice a second rather than per packet.
        const { asked, recovered } = stream.missing.takeCounts();
        if (asked > 0 || recovered > 0) this.handlers.uplinkRepair(asked, recovered);
        const report = stream.reception.report(stream.ssrc, nowMs);
        if (!report) continue;
        blocks.push(report.block);
        expected += report.expected;
        lost += report.lost;
        arrivingBps += stream.rate.bitrate(nowMs);
      }
    }
    if (blocks.length === 0) return;
    this.uplinkReport = { videoBps: Math.round(arrivingBps), lossPercent: expected > 0 ? Math.round((1000 * lost) / expected) / 10 : 0 };
    try {
      mic.sendMessageBinary(receiverReport(FEEDBACK_SENDER_SSRC, blocks));
    } catch (error) {
      this.log.debug({ err: error }, 'sending reception reports failed');
    }
  }

  private recordTransportSequence(packet: Buffer, ssrc: number, extensionId: number): void {
    const sequence = readExtension16(packet, extensionId);
    if (sequence !== undefined) this.transportFeedback.record(sequence, ssrc, performance.now());
  }

  /** Transport-wide feedback for what arrived since the last (on the mic's track, see `sendPli`). */
  private sendTransportFeedback(): void {
    const mic = this.mic?.track;
    if (!mic || this.life.state !== 'connected' || !mic.isOpen() || !this.transportFeedback.pending) return;
    for (const packet of this.transportFeedback.feedback(FEEDBACK_SENDER_SSRC)) {
      try {
        mic.sendMessageBinary(packet);
      } catch (error) {
        this.log.debug({ err: error }, 'sending transport feedback failed');
        return;
      }
    }
  }

  private applyRemoteCandidate(candidate: IceCandidateInit): void {
    const line = candidate.candidate.replace(/^a=/, '');
    // mDNS names (`….local`) cannot be resolved here; the client's checks reach us anyway (peer-reflexive).
    if (line === '' || /\s\S+\.local\s/i.test(line)) return;
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
    const [, , transport, , address, port] = line.split(' ');
    // libjuice is UDP only, and keeps at most 30 remote candidates, peer-reflexive ones
    // included: a browser with many addresses (each once per m-line before bundling) would
    // fill them, and the checks of a browser behind NAT (which arrive from an address it never
    // signalled) could then not be answered. Each UDP endpoint once, a few slots always left.
    if (transport?.toLowerCase() !== 'udp') return;
    const key = `${address} ${port}`;
    if (this.remoteEndpoints.has(key) || this.remoteEndpoints.size >= SIGNALLED_CANDIDATES_MAX) return;
    this.remoteEndpoints.add(key);
    try {
      this.pc.addRemoteCandidate(line, candidate.sdpMid ?? this.mic?.track.mid() ?? '0');
    } catch (error) {
      this.log.debug({ err: error, candidate: line }, 'dropping an ICE candidate');
    }
  }

  private onLocalCandidate(candidate: string, mid: string): void {
    if (this.isClosed) return;
    const line = candidate.replace(/^a=/, '');
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
    const fields = line.split(' ');
    const address = fields[4];
    const port = Number(fields[5]);
    const isUdpHost = fields[2]?.toLowerCase() === 'udp' && fields[7] === 'host' && address !== undefined && port > 0;
    const firstHost = isUdpHost && this.udpEndpoints.length === 0;
    if (isUdpHost) this.udpEndpoints.push({ address, port });
    if (this.announcedAddress !== undefined) {
      // One candidate, the announced address on the local port (1:1 NAT keeps ports); the
      // gathered ones are private and never offered. Its endpoint lets TURN reach it too.
      if (!firstHost) return;
      this.udpEndpoints.push({ address: this.announcedAddress, port });
      const priority = 126 * 2 ** 24 + 1000 * 2 ** 8 + 255;
      this.localCandidates.push({ candidate: `candidate:80 1 UDP ${priority} ${this.announcedAddress} ${port} typ host`, sdpMid: mid, sdpMLineIndex: 0 });
      return;
    }
    this.localCandidates.push({ candidate: line, sdpMid: mid, sdpMLineIndex: 0 });
    if (!firstHost) return;
    for (const [index, extra] of this.extraHostAddresses.entries()) {
      if (this.udpEndpoints.some((e) => e.address === extra)) continue;
      this.udpEndpoints.push({ address: extra, port });
      // RFC 8445 §5.1.2.1: host type preference 126, below the gathered ones; component 1.
      const priority = 126 * 2 ** 24 + (1000 - index) * 2 ** 8 + 255;
      this.localCandidates.push({ candidate: `candidate:${90 + index} 1 UDP ${priority} ${extra} ${port} typ host`, sdpMid: mid, sdpMLineIndex: 0 });
    }
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
