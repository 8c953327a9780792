/**
 * The server-side media endpoint of one relay-mode meeting: one `RelayPeer` per participant,
 * each publisher's camera and shared screen forwarded into the other participants' video
 * slots (a screen takes a slot like a camera), each
 * participant's mic handed to the audio sink and its mix sent back. A relay knows only its
 * own participants; nothing routes across meetings.
 */
import { SPEAKING_LEVEL } from '../protocol/speaking';
import { RelayError } from './errors';
import { candidateProblem, offerProblem } from './inputChecks';
import { stderrLogger, withBindings } from './log';
import type { RelayConnection, RelayPeerHandlers } from './RelayConnection';
import { RelayPeer } from './RelayPeer';
import { highestNeededLayer, PublisherLayers } from './allocation/PublisherLayers';
import { ViewerDownlink } from './allocation/ViewerDownlink';
import { zeroRelayCounters } from './counters';
import type { InputStream } from './InputStreams';
import { featuredSlot, speakerSwaps, type SlotCandidate } from './SpeakerSlots';
import { TypedEmitter } from './TypedEmitter';
import type {
  AudioSink,
  IceCandidateInit,
  PublishState,
  RelayCloseReason,
  RelayCounters,
  RelayEvents,
  RelayLogger,
  RelayOptions,
  RtpIn,
  SlotView,
  SlotAssignment,
  VideoSource,
} from './types';
import { FORWARD_WANTS_KEYFRAME, type VideoSlot } from './VideoSlot';

export { RelayError, type RelayErrorCode } from './errors';
export { VIDEO_SLOTS } from './types';
export type {
  AudioSink,
  IceCandidateInit,
  PublishState,
  RelayCounters,
  RelayEvents,
  RelayLogger,
  RelayOptions,
  SlotAssignment,
  VideoSource,
} from './types';

/** How often every viewer's allocation runs (and on each transport-wide feedback while a probe runs). */
const ALLOCATION_INTERVAL_MS = 250;
/** Every this many allocation runs, each viewer's downlink is reported (about once a second). */
const DOWNLINK_REPORT_TICKS = 4;
/** Every this many, each publisher gets the relay's reception reports (twice a second: libwebrtc's loss-based control reacts per report). */
const RECEPTION_REPORT_TICKS = 2;

/** Candidates kept for a participant whose offer has not arrived yet (a bound, not a quota). */
const MAX_EARLY_CANDIDATES = 64;

/** What the relay knows of one participant; created by the first call naming it. */
interface Participant {
  readonly id: string;
  peer: RelayConnection | undefined;
  publishing: Required<PublishState>;
  earlyCandidates: IceCandidateInit[];
  /** The client has its answer, so slot tables may go out. */
  answered: boolean;
  /** RTP of that source has arrived at least once (a slot for a silent camera would stay black). */
  videoSeen: Record<VideoSource, boolean>;
  mediaFlowing: boolean;
  /** The slot table last emitted to this client, serialized, to emit only changes. */
  lastSlots: string | undefined;
  /** Its downlink as a viewer (estimate, rendered sizes) and the allocation over its slots. */
  readonly downlink: ViewerDownlink;
  /** Its sources' keys in the viewers index, made once (not a string per forwarded packet). */
  readonly sourceKeys: Readonly<Record<VideoSource, string>>;
  /** Which of its camera's layers anyone watches (the others paused at its browser). */
  readonly cameraLayers: PublisherLayers;
  /** When the mixer last heard it speak (−Infinity: not yet): who gets a slot when there are more cameras than slots. */
  lastSpokeAt: number;
}

/** Key of one video source in the viewers index. */
function sourceKey(publisherId: string, source: VideoSource): string {
  return `${source}:${publisherId}`;
}

/** Whether a participant sends this source now. */
function publishes(participant: Participant, source: VideoSource): boolean {
  return source === 'camera' ? participant.publishing.video : participant.publishing.screen;
}

/** The media relay of one meeting. */
export class MeetingRelay {
  private readonly participants = new Map<string, Participant>();
  /** Publisher's source (`sourceKey`) → the slots (of any viewer) showing it. */
  private readonly viewersOf = new Map<string, Set<VideoSlot>>();
  /** When each filled slot started showing what it shows. */
  private readonly shownSince = new Map<VideoSlot, number>();
  private readonly stats: RelayCounters = zeroRelayCounters();
  private readonly events: TypedEmitter<RelayEvents>;
  private readonly log: RelayLogger;
  private closed = false;
  /** Runs every viewer's allocation (and reports their downlinks). */
  private readonly allocationTimer: NodeJS.Timeout;
  private allocationTicks = 0;
  /** The mix packet last sent and its Buffer view (see sendAudio). */
  private lastOpus: Uint8Array | undefined;
  private lastOpusBuffer: Buffer = Buffer.alloc(0);

  constructor(
    readonly meetingId: string,
    private readonly audio: AudioSink,
    private readonly options: RelayOptions = {},
  ) {
    this.log = withBindings(options.logger ?? stderrLogger, { meetingId });
    this.events = new TypedEmitter<RelayEvents>((event, error) =>
      this.log.error({ event, err: error }, 'relay event listener failed'),
    );
    this.allocationTimer = setInterval(() => this.allocateAll(), ALLOCATION_INTERVAL_MS);
    this.allocationTimer.unref();
  }

  /** Adds a listener; listeners that throw are logged and never break the relay. */
  on<E extends keyof RelayEvents>(event: E, listener: RelayEvents[E]): this {
    this.events.on(event, listener);
    return this;
  }

  /** Removes a listener. */
  off<E extends keyof RelayEvents>(event: E, listener: RelayEvents[E]): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Creates the participant's peer if needed, applies the offer, returns the answer SDP.
   * Rejects with a `RelayError` (`INVALID_OFFER`, `PARTICIPANT_CLOSED`, `RELAY_CLOSED`); the
   * participant stays known after a bad offer, so a corrected one may follow.
   */
  async handleOffer(participantId: string, sdp: string): Promise<string> {
    this.assertOpen();
    // Checked before a peer connection (sockets, certificates) exists for it.
    const problem = offerProblem(sdp);
    if (problem) throw RelayError.invalidOffer(problem);
    const participant = this.participant(participantId);
    const fresh = participant.peer === undefined;
    const peer = participant.peer ?? this.createPeer(participant);
    let answer: string;
    try {
      answer = await peer.negotiate(sdp);
    } catch (error) {
      // A connection whose first offer failed is half built and cannot be negotiated again:
      // it goes, the participant stays (a corrected offer starts a new one).
      if (fresh && participant.peer === peer) this.discardPeer(participant, peer);
      throw error;
    }
    if (this.closed) throw RelayError.closed(this.meetingId);
    // Slot tables follow the answer (the caller sends the answer as soon as this resolves).
    setImmediate(() => {
      if (this.closed || peer.isClosed) return;
      participant.answered = true;
      this.refreshSlots();
    });
    return answer;
  }

  /**
   * Adds a client ICE candidate; candidates arriving before the offer are queued. Rejects with
   * `INVALID_CANDIDATE` when the line is unusable (see inputChecks.ts); an empty line (end of
   * candidates) is accepted and ignored.
   */
  async addCandidate(participantId: string, candidate: IceCandidateInit): Promise<void> {
    this.assertOpen();
    const problem = candidateProblem(candidate.candidate);
    if (problem) throw RelayError.invalidCandidate(problem);
    if (candidate.candidate === '') return;
    const participant = this.participant(participantId);
    if (participant.peer) return participant.peer.addCandidate(candidate);
    if (participant.earlyCandidates.length < MAX_EARLY_CANDIDATES) participant.earlyCandidates.push(candidate);
  }

  /** Records what a participant sends; camera (or screen) off empties every slot showing it at once. */
  setPublishing(participantId: string, state: PublishState): void {
    if (this.closed) return;
    const participant = this.participant(participantId);
    const previous = participant.publishing;
    participant.publishing = { audio: state.audio, video: state.video, screen: state.screen ?? false };
    if (participant.peer && previous.audio !== state.audio) {
      this.toSink('setMuted', () => this.audio.setMuted(participantId, !state.audio));
    }
    const changed = (['camera', 'screen'] as const).filter((source) => publishes(participant, source) !== (source === 'camera' ? previous.video : previous.screen));
    if (changed.length === 0) return;
    this.log.info({ participant: participantId, video: participant.publishing.video, screen: participant.publishing.screen }, 'video publishing changed');
    this.refreshSlots();
    // The forward restarts on a keyframe; ask for one now rather than wait for the encoder's.
    for (const source of changed) if (publishes(participant, source)) participant.peer?.requestKeyframe(source);
  }

  /** Sends one Opus frame of the participant's mix (called by the mixer, every 20 ms, with the tick's media time). */
  sendAudio(participantId: string, opus: Uint8Array, mediaTimeMs?: number): void {
    if (this.closed) return;
    // Listeners who share a mix get the same array: one Buffer view of it serves them all.
    if (opus !== this.lastOpus) {
      this.lastOpus = opus;
      this.lastOpusBuffer = Buffer.isBuffer(opus) ? opus : Buffer.from(opus.buffer, opus.byteOffset, opus.byteLength);
    }
    const bytes = this.participants.get(participantId)?.peer?.sendAudio(this.lastOpusBuffer, mediaTimeMs) ?? 0;
    if (bytes > 0) {
      this.stats.packetsForwarded += 1;
      this.stats.bytesForwarded += bytes;
    }
  }

  /**
   * The sizes a viewer renders its slots at: its allocation runs again at once, and so does
   * the choice of the layers each publisher sends. `resync`: the client's signaling came
   * back, and what was sent it meanwhile was lost: its slot table and its own camera's
   * layers are sent again even if unchanged.
   */
  setView(participantId: string, slots: readonly SlotView[], resync = false): void {
    const viewer = this.participants.get(participantId);
    if (this.closed || !viewer) return;
    viewer.downlink.setViews(slots);
    if (resync) {
      viewer.lastSlots = undefined;
      viewer.cameraLayers.forget();
    }
    const now = performance.now();
    this.allocate(viewer, now);
    this.emitTable(viewer);
    this.chooseCameraLayers(now);
  }

  /**
   * The mixer's audio levels (every 200 ms): whoever speaks while a viewer with full slots
   * does not show their camera takes the slot of someone who spoke longer ago (SpeakerSlots).
   */
  setLevels(levels: ReadonlyMap<string, number>): void {
    if (this.closed) return;
    const now = performance.now();
    let unseenSpeaker = false;
    for (const [id, level] of levels) {
      const participant = this.participants.get(id);
      if (!participant || level <= SPEAKING_LEVEL) continue;
      participant.lastSpokeAt = now;
      if (!unseenSpeaker && !this.shownToEveryone(participant)) unseenSpeaker = true;
    }
    // Every 200 ms while a speaker is not shown everywhere (the swap may wait for a slot's 3 s):
    // only the swaps, not a refresh of every viewer's slots and allocation.
    if (unseenSpeaker) this.giveSlotsToSpeakersEverywhere();
  }

  /** Closes the participant's connection and removes it from every slot at once. */
  removeParticipant(participantId: string): void {
    if (this.closed) return;
    this.dropParticipant(participantId, 'removed');
  }

  /** Whether the relay knows this participant (it offered, or sent a candidate). */
  has(participantId: string): boolean {
    return this.participants.has(participantId);
  }

  /** Closes the participant's connection so a fresh offer starts a new one. */
  replaceParticipant(participantId: string): void {
    if (this.closed) return;
    this.dropParticipant(participantId, 'replaced');
  }

  /** Closes the participant's connection as a lost connection (the owner tells the client). */
  loseParticipant(participantId: string): void {
    if (this.closed) return;
    this.dropParticipant(participantId, 'connection lost');
  }

  /** The UDP host endpoints of every participant's connection (for the TURN peer policy). */
  localUdpEndpoints(): Array<{ address: string; port: number }> {
    return [...this.participants.values()].flatMap((p) => p.peer?.localUdpEndpoints() ?? []);
  }

  /** A snapshot of this meeting's media counters. */
  counters(): RelayCounters {
    let forwardingEntries = 0;
    for (const slots of this.viewersOf.values()) forwardingEntries += slots.size;
    let pausedSlots = 0;
    for (const viewer of this.participants.values()) for (const slot of viewer.peer?.slots ?? []) if (slot.publisherId !== null && slot.targetLayer === 'paused') pausedSlots += 1;
    let unwatchedLayers = 0;
    for (const publisher of this.participants.values()) if (publisher.peer && !publisher.peer.isClosed) unwatchedLayers += publisher.cameraLayers.paused;
    return { ...this.stats, forwardingEntries, pausedSlots, unwatchedLayers };
  }

  /** Closes every participant's connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.allocationTimer);
    const ids = [...this.participants.keys()];
    for (const id of ids) this.dropParticipant(id, 'relay closed');
    this.viewersOf.clear();
    this.events.removeAllListeners();
    this.log.info({ participants: ids.length }, 'relay closed');
  }

  private createPeer(participant: Participant): RelayConnection {
    const id = participant.id;
    const log = withBindings(this.log, { participant: id });
    const handlers: RelayPeerHandlers = {
      candidate: (candidate) => this.events.emit('candidate', id, candidate),
      connected: () => this.onConnected(participant),
      lost: () => this.dropParticipant(id, 'connection lost'),
      audio: (packet) => this.onAudio(participant, packet),
      video: (stream, packet) => this.onVideo(participant, stream, packet),
      videoPadding: (stream, packet) => {
        for (const slot of this.viewersOf.get(participant.sourceKeys[stream.source]) ?? []) slot.skip(packet, stream);
      },
      keyframeRequest: (slot) => this.onKeyframeRequest(slot),
      pliSent: () => {
        this.stats.plisSent += 1;
      },
      uplinkRepair: (asked, recovered) => {
        this.stats.packetsAskedAgain += asked;
        this.stats.packetsRecovered += recovered;
      },
      frameLeftOut: () => {
        this.stats.framesLeftOut += 1;
      },
      // A running probe is judged on every feedback (one that fills the queue stops at once), and a due one starts on it.
      downlinkFeedback: () => {
        const now = performance.now();
        if (participant.downlink.wantsFeedback(now)) this.allocate(participant, now);
      },
    };
    const peer = new RelayPeer(id, this.options, handlers, log);
    participant.peer = peer;
    participant.cameraLayers.restart();
    this.toSink('addParticipant', () => this.audio.addParticipant(id));
    if (!participant.publishing.audio) this.toSink('setMuted', () => this.audio.setMuted(id, true));
    for (const candidate of participant.earlyCandidates.splice(0)) {
      peer.addCandidate(candidate).catch((error: unknown) => log.debug({ err: error }, 'dropping an early ICE candidate'));
    }
    log.info({}, 'participant joined the relay');
    return peer;
  }

  private onConnected(participant: Participant): void {
    this.events.emit('connected', participant.id);
    // Slots filled before the viewer could receive missed their keyframe: ask again.
    for (const slot of participant.peer?.slots ?? []) {
      if (slot.publisherId) this.requestKeyframe(slot.publisherId, slot.source);
    }
  }

  private onAudio(participant: Participant, packet: RtpIn): void {
    this.received(participant, packet);
    if (participant.publishing.audio) this.pushAudio(participant.id, packet);
  }

  private onVideo(participant: Participant, stream: InputStream, packet: RtpIn): void {
    this.received(participant, packet);
    const source = stream.source;
    if (!participant.videoSeen[source]) {
      participant.videoSeen[source] = true;
      this.refreshSlots();
    }
    if (publishes(participant, source)) this.forwardVideo(participant, stream, packet);
  }

  /** Counts a packet from a participant; the first one means their media flows. */
  private received(participant: Participant, packet: RtpIn): void {
    this.stats.packetsReceived += 1;
    this.stats.bytesReceived += packet.size;
    if (!participant.mediaFlowing) {
      participant.mediaFlowing = true;
      this.events.emit('mediaFlowing', participant.id);
    }
  }

  /** Hands a mic packet to the sink; its exceptions stay out of the media path (no closure per packet, unlike `toSink`). */
  private pushAudio(participantId: string, packet: RtpIn): void {
    try {
      this.audio.pushPacket(participantId, packet.sequenceNumber, packet.timestamp, packet.payload);
    } catch (error) {
      this.log.error({ err: error }, 'audio sink pushPacket failed');
    }
  }

  private forwardVideo(publisher: Participant, stream: InputStream, packet: RtpIn): void {
    const source = stream.source;
    const slots = this.viewersOf.get(publisher.sourceKeys[source]);
    if (!slots) return;
    const publisherId = publisher.id;
    for (const slot of slots) {
      try {
        const result = slot.forward(packet, stream);
        if (result > 0) {
          this.stats.packetsForwarded += 1;
          this.stats.bytesForwarded += result;
          // Its tile may hold the previous source's picture until told this one's is coming.
          if (slot.takeFirstPicture()) this.emitTableOf(slot.viewerId);
        } else if (result === FORWARD_WANTS_KEYFRAME) {
          this.requestKeyframe(publisherId, source, stream.layer);
        }
      } catch (error) {
        this.log.error({ viewer: slot.viewerId, publisher: publisherId, err: error }, 'forwarding video failed');
      }
    }
  }

  private onKeyframeRequest(slot: VideoSlot): void {
    this.stats.keyframeRequestsReceived += 1;
    this.log.debug({ viewer: slot.viewerId, publisher: slot.publisherId, layer: slot.forwardedLayer }, 'viewer asked a keyframe');
    if (slot.publisherId) this.requestKeyframe(slot.publisherId, slot.source, slot.forwardedLayer);
  }

  private requestKeyframe(publisherId: string, source: VideoSource, layer?: number): void {
    this.participants.get(publisherId)?.peer?.requestKeyframe(source, layer);
  }

  /** The streams (layers) of the source a slot shows. */
  private readonly layersOf = (slot: VideoSlot): readonly InputStream[] =>
    (slot.publisherId === null ? undefined : this.participants.get(slot.publisherId)?.peer?.streamsOf(slot.source)) ?? [];

  /**
   * Every viewer's allocation, its slot table if that changed, and (every second) its
   * downlink report; every publisher's reception reports (twice a second).
   */
  private allocateAll(): void {
    if (this.closed) return;
    const now = performance.now();
    const report = ++this.allocationTicks % DOWNLINK_REPORT_TICKS === 0;
    const receptionReports = this.allocationTicks % RECEPTION_REPORT_TICKS === 0;
    for (const viewer of this.participants.values()) {
      const peer = viewer.peer;
      if (!peer || peer.isClosed || !viewer.answered) continue;
      if (receptionReports) peer.sendReceptionReports(now);
      this.allocate(viewer, now);
      this.emitTable(viewer);
      if (report) {
        const uplink = peer.uplink;
        const framesLeftOut = peer.temporalValve.takeLeftOut();
        const downlink = { ...viewer.downlink.report(peer.downlinkMeter, peer.downlinkDelivery, now), ...(framesLeftOut > 0 ? { framesLeftOut } : {}) };
        // The debug trace of decisions (ViewerDownlink) reads better with what they were made on.
        this.log.debug({ participant: viewer.id, feedbacks: peer.downlinkDelivery.feedbacks, pacerPeakMs: Math.round(peer.downlinkPacer.takePeakQueueMs()), ...downlink }, 'downlink report');
        this.events.emit('downlink', viewer.id, { ...downlink, ...(uplink ? { uplink } : {}) });
      }
    }
    this.chooseCameraLayers(now);
  }

  /**
   * Each publisher's camera layers that someone watches (PublisherLayers): the largest any
   * tile showing it needs and those below stay on, the rest go off once unwatched for a while
   * (all of them when no viewer has a slot for it); a publisher is told when that changes. A
   * layer asked back is marked, so that viewers waiting for it take it as soon as it flows.
   * A camera that is off, or not seen yet (slots are given to cameras seen), is left alone.
   */
  private chooseCameraLayers(now: number): void {
    for (const publisher of this.participants.values()) {
      const peer = publisher.peer;
      if (!peer || peer.isClosed || !publisher.answered || !publisher.publishing.video || !publisher.videoSeen.camera) continue;
      const streams = peer.streamsOf('camera');
      if (streams.length === 0) continue;
      const views = [...(this.viewersOf.get(publisher.sourceKeys.camera) ?? [])].map((slot) => this.participants.get(slot.viewerId)?.downlink.viewOf(slot.mid));
      const active = publisher.cameraLayers.update(streams.length, highestNeededLayer(streams, views), now);
      if (!active) continue;
      streams.forEach((stream, i) => {
        if (active[i] && !stream.steadyFor(0, now)) stream.resumeAsked(now);
      });
      this.log.debug({ participant: publisher.id, active }, 'camera layers watched changed');
      this.events.emit('cameraLayers', publisher.id, active);
    }
  }

  private allocate(viewer: Participant, now: number): void {
    const peer = viewer.peer;
    if (!peer || peer.isClosed) return;
    this.stats.layerSwitches += viewer.downlink.allocate(peer.slots, this.layersOf, peer.downlinkMeter, peer.downlinkDelivery, now);
    peer.downlinkPacer.setRate(viewer.downlink.pacingBps(peer.downlinkMeter, now));
  }

  private emitTableOf(viewerId: string): void {
    const viewer = this.participants.get(viewerId);
    if (viewer) this.emitTable(viewer);
  }

  /** Emits the viewer's slot table (whose layer each slot gets) when it changed. */
  private emitTable(viewer: Participant): void {
    const peer = viewer.peer;
    if (!peer || peer.isClosed || !viewer.answered) return;
    const table: SlotAssignment[] = peer.slots.map((slot) => slot.toAssignment(this.layersOf(slot)));
    const serialized = JSON.stringify(table);
    if (serialized === viewer.lastSlots) return;
    viewer.lastSlots = serialized;
    this.events.emit('slots', viewer.id, table);
  }

  /**
   * Brings every answered viewer's slot table in line with what is published now: slots of
   * publishers gone, camera-off or no longer sharing are emptied, sources not yet shown take
   * free slots (shared screens first in join order, then cameras, the latest speakers first), a
   * speaker takes a full viewer's slot from whoever spoke longest ago (SpeakerSlots), and changed tables
   * are emitted. Runs on every change; it is O(viewers × slots).
   */
  private refreshSlots(): void {
    const sources = this.shownSources();
    for (const viewer of this.participants.values()) {
      const peer = viewer.peer;
      if (!peer || peer.isClosed || !viewer.answered) continue;
      const wanted = sources.filter((s) => s.publisher !== viewer);
      const wantedKeys = new Set(wanted.map((s) => sourceKey(s.publisher.id, s.source)));
      for (const slot of peer.slots) {
        if (slot.publisherId !== null && !wantedKeys.has(sourceKey(slot.publisherId, slot.source))) this.assign(slot, null);
      }
      for (const { publisher, source } of wanted) {
        if (peer.slots.some((slot) => slot.shows(publisher.id, source))) continue;
        const free = peer.slots.find((slot) => slot.publisherId === null);
        if (!free) {
          this.log.debug({ viewer: viewer.id, publisher: publisher.id, source }, 'no free slot for a video source');
          break;
        }
        this.assign(free, publisher.id, source);
        if (free.connected) this.requestKeyframe(publisher.id, source, 0);
      }
      this.giveSlotsToSpeakers(peer, wanted);
      this.allocate(viewer, performance.now());
      this.emitTable(viewer);
    }
  }

  /**
   * The sources a slot may show, in the order free slots take them: shared screens in join
   * order, then cameras of people who spoke last first (a stable sort: join order among the rest).
   */
  private shownSources(): Array<{ publisher: Participant; source: VideoSource }> {
    const live = [...this.participants.values()].filter((p) => p.peer && !p.peer.isClosed);
    return (['screen', 'camera'] as const).flatMap((source) =>
      live
        .filter((p) => publishes(p, source) && p.videoSeen[source])
        .sort((a, b) => (source === 'camera' && a.lastSpokeAt !== b.lastSpokeAt ? b.lastSpokeAt - a.lastSpokeAt : 0))
        .map((p) => ({ publisher: p, source })),
    );
  }

  /** Only the swaps for speakers (SpeakerSlots), and the tables and allocations of the viewers whose slots changed. */
  private giveSlotsToSpeakersEverywhere(): void {
    const sources = this.shownSources();
    const now = performance.now();
    for (const viewer of this.participants.values()) {
      const peer = viewer.peer;
      if (!peer || peer.isClosed || !viewer.answered) continue;
      if (this.giveSlotsToSpeakers(peer, sources.filter((s) => s.publisher !== viewer)) === 0) continue;
      this.allocate(viewer, now);
      this.emitTable(viewer);
    }
  }

  /** Whether every other answered viewer's slots show this participant's camera (true when it shows none). */
  private shownToEveryone(participant: Participant): boolean {
    if (!participant.publishing.video || !participant.videoSeen.camera) return true;
    let viewers = 0;
    for (const viewer of this.participants.values()) if (viewer !== participant && viewer.answered && viewer.peer && !viewer.peer.isClosed) viewers += 1;
    return (this.viewersOf.get(participant.sourceKeys.camera)?.size ?? 0) >= viewers;
  }

  /**
   * With a viewer's slots full, cameras of people speaking now take the slots of those who
   * spoke longest ago (SpeakerSlots). Returns how many slots changed.
   */
  private giveSlotsToSpeakers(peer: RelayConnection, wanted: ReadonlyArray<{ publisher: Participant; source: VideoSource }>): number {
    if (peer.slots.some((slot) => slot.publisherId === null)) return 0;
    const waiting = wanted.filter((w) => w.source === 'camera' && !peer.slots.some((slot) => slot.shows(w.publisher.id, 'camera')));
    if (waiting.length === 0) return 0;
    const now = performance.now();
    const order = [...this.participants.keys()];
    const candidate = (p: Participant): SlotCandidate => ({ publisherId: p.id, lastSpokeAt: p.lastSpokeAt, order: order.indexOf(p.id) });
    const viewer = this.participants.get(peer.id);
    const featured = featuredSlot(peer.slots.map((slot) => {
      const view = viewer?.downlink.viewOf(slot.mid);
      return view && { slot: slot.mid, ...view };
    }));
    const shown = peer.slots.flatMap((slot) => {
      const publisher = slot.publisherId === null || slot.source !== 'camera' ? undefined : this.participants.get(slot.publisherId);
      return publisher ? [{ ...candidate(publisher), slot: slot.mid, shownSince: this.shownSince.get(slot) ?? now, featured: slot.mid === featured }] : [];
    });
    let swapped = 0;
    for (const swap of speakerSwaps(shown, waiting.map((w) => candidate(w.publisher)), now)) {
      const slot = peer.slots.find((s) => s.mid === swap.slot);
      if (!slot) continue;
      this.log.debug({ viewer: peer.id, out: slot.publisherId, in: swap.publisherId }, 'a speaker takes a slot');
      this.assign(slot, swap.publisherId, 'camera');
      if (slot.connected) this.requestKeyframe(swap.publisherId, 'camera', 0);
      swapped += 1;
    }
    return swapped;
  }

  /** Points a slot at a publisher's source (or nothing), keeping the source → slots index in step. */
  private assign(slot: VideoSlot, publisherId: string | null, source: VideoSource = 'camera'): void {
    const previous = slot.publisherId;
    if (previous !== null) {
      const key = sourceKey(previous, slot.source);
      const set = this.viewersOf.get(key);
      set?.delete(slot);
      if (set?.size === 0) this.viewersOf.delete(key);
    }
    slot.assign(publisherId, source);
    if (publisherId === null) this.shownSince.delete(slot);
    else if (previous !== publisherId) this.shownSince.set(slot, performance.now());
    if (publisherId !== null) {
      const key = sourceKey(publisherId, source);
      let set = this.viewersOf.get(key);
      if (!set) this.viewersOf.set(key, (set = new Set()));
      set.add(slot);
    }
  }

  /** Closes a participant's connection that never worked, keeping the participant. */
  private discardPeer(participant: Participant, peer: RelayConnection): void {
    participant.peer = undefined;
    for (const slot of peer.slots) this.assign(slot, null);
    peer.close();
    this.toSink('removeParticipant', () => this.audio.removeParticipant(participant.id));
  }

  private dropParticipant(participantId: string, reason: RelayCloseReason): void {
    const participant = this.participants.get(participantId);
    if (!participant) return;
    this.participants.delete(participantId);
    const peer = participant.peer;
    if (!peer) return;
    for (const slot of peer.slots) this.assign(slot, null);
    peer.close();
    this.toSink('removeParticipant', () => this.audio.removeParticipant(participantId));
    if (!this.closed) this.refreshSlots();
    this.log.info({ participant: participantId, reason }, 'participant left the relay');
    this.events.emit('closed', participantId, reason);
  }

  private participant(participantId: string): Participant {
    let participant = this.participants.get(participantId);
    if (!participant) {
      participant = {
        id: participantId,
        peer: undefined,
        publishing: { audio: true, video: true, screen: false },
        earlyCandidates: [],
        answered: false,
        videoSeen: { camera: false, screen: false },
        mediaFlowing: false,
        lastSlots: undefined,
        downlink: new ViewerDownlink((details, msg) => this.log.debug({ participant: participantId, ...details }, msg)),
        sourceKeys: { camera: sourceKey(participantId, 'camera'), screen: sourceKey(participantId, 'screen') },
        cameraLayers: new PublisherLayers(),
        lastSpokeAt: Number.NEGATIVE_INFINITY,
      };
      this.participants.set(participantId, participant);
    }
    return participant;
  }

  /** Calls the audio sink so that its exceptions stay out of the media path. */
  private toSink(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: error }, `audio sink ${what} failed`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw RelayError.closed(this.meetingId);
  }
}
