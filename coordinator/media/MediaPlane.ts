/**
 * The media side of the coordinator: one `MeetingMedia` per live meeting (topology,
 * relay, mixer), wired to the registry's meetings, and the counters the HTTP layer reads.
 */
import type { FastifyBaseLogger } from 'fastify';
import { CodedError } from '../../protocol/errors';
import type { IceCandidate, SlotView } from '../../protocol/signaling';
import type { Meeting } from '../meetings/Meeting';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import type { Participant } from '../meetings/Participant';
import type { EventStore } from '../records/EventStore';
import type { MediaSignaling } from '../signaling/SignalingSession';
import { MediaWorkers, type MediaWorkersOptions } from './MediaWorkers';
import { MeetingMedia, type MeetingMediaOptions } from './MeetingMedia';
import {
  addRelayedByMode,
  emptyRelayedByMode,
  type RelayCounterSource,
  type RelayCounters,
  type RelayedByMode,
} from './RelayCounterSource';

const FINISHED_KEPT = 1000;

/** Every live meeting's media, and the process totals that outlive them. */
export class MediaPlane implements MediaSignaling, RelayCounterSource {
  private readonly media = new Map<string, MeetingMedia>();
  /** Final counters of ended meetings, so `/api/meetings/:id` still reports them. */
  private readonly finished = new Map<string, RelayCounters>();
  /** Final figures of every ended meeting, so process totals never go down when one ends. */
  private readonly ended = { relayed: emptyRelayedByMode(), mixTicks: 0, lateTicks: 0, layerSwitches: 0, framesLeftOut: 0 };
  /** The threads that run every meeting's relay and mixer. */
  readonly workers: MediaWorkers;
  /** Meetings closed whose relay's last figures are not in yet (folded in when they are). */
  private readonly closing = new Set<MeetingMedia>();

  constructor(
    registry: MeetingRegistry,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly options: MeetingMediaOptions & { workers: MediaWorkersOptions },
  ) {
    this.workers = new MediaWorkers(options.workers, log);
    registry.on('created', (meeting) => this.attach(meeting));
    registry.on('closed', (meeting) => this.detach(meeting));
  }

  async relayOffer(meeting: Meeting, participant: Participant, sdp: string): Promise<string> {
    return this.of(meeting).relayOffer(participant, sdp);
  }

  relayView(meeting: Meeting, participant: Participant, slots: SlotView[], resync: boolean): void {
    this.of(meeting).relayView(participant, slots, resync);
  }

  relayCandidate(meeting: Meeting, participant: Participant, candidate: IceCandidate): void {
    this.of(meeting).relayCandidate(participant, candidate);
  }

  pathReady(meeting: Meeting, participant: Participant, epoch: number): void {
    this.of(meeting).pathReady(participant, epoch);
  }

  pathFailed(meeting: Meeting, participant: Participant, epoch: number): void {
    this.of(meeting).topology.p2pFailed(participant.id, epoch);
  }

  mediaRecovery(meeting: Meeting, participant: Participant, path: 'p2p' | 'relay', phase: 'restarting' | 'recovered'): void {
    this.of(meeting);
    this.store.record(meeting.id, 'media-recovery', participant.name, { participantId: participant.id, path, phase });
    this.log.info({ meetingId: meeting.id, participantId: participant.id, path, phase }, 'media path recovery');
  }

  /**
   * Operator action: drops one participant's relay connection as if it had failed (their
   * client is told and connects again). Also how the recovery is tested, for real.
   */
  dropRelayConnection(meetingId: string, participantId: string): boolean {
    return this.media.get(meetingId)?.dropRelayConnection(participantId) ?? false;
  }

  setRecording(meeting: Meeting, host: Participant, on: boolean): void {
    this.of(meeting).setRecording(host, on);
  }

  countersFor(meetingId: string): RelayCounters {
    const m = this.counted().find((c) => c.meetingId === meetingId);
    return m?.counters() ?? this.finished.get(meetingId) ?? { packets: 0, bytes: 0 };
  }

  totalsByMode(): RelayedByMode {
    const totals = emptyRelayedByMode();
    const live = this.counted(); // first: it may fold finished meetings into `ended`
    addRelayedByMode(totals, this.ended.relayed);
    for (const m of live) addRelayedByMode(totals, m.relayedByMode());
    return totals;
  }

  mixerStats(): ReturnType<RelayCounterSource['mixerStats']> {
    const live = this.counted(); // first: it may fold finished meetings into `ended`
    let ticks = this.ended.mixTicks;
    let lateTicks = this.ended.lateTicks;
    let tickMsP99Max = 0;
    let departureMsP99Max = 0;
    let departureMsMax = 0;
    for (const m of live) {
      const c = m.counters();
      ticks += c.mixTicks ?? 0;
      lateTicks += c.lateTicks ?? 0;
      tickMsP99Max = Math.max(tickMsP99Max, c.tickMsP99 ?? 0);
      departureMsP99Max = Math.max(departureMsP99Max, c.departureMsP99 ?? 0);
      departureMsMax = Math.max(departureMsMax, c.departureMsMax ?? 0);
    }
    return { ticks, lateTicks, tickMsP99Max, departureMsP99Max, departureMsMax };
  }

  allocationStats(): ReturnType<RelayCounterSource['allocationStats']> {
    const live = this.counted(); // first: it may fold finished meetings into `ended`
    let layerSwitches = this.ended.layerSwitches;
    let framesLeftOut = this.ended.framesLeftOut;
    let pausedSlots = 0;
    let unwatchedLayers = 0;
    for (const m of live) {
      const c = m.counters();
      layerSwitches += c.layerSwitches ?? 0;
      framesLeftOut += c.framesLeftOut ?? 0;
      pausedSlots += c.pausedSlots ?? 0;
      unwatchedLayers += c.unwatchedLayers ?? 0;
    }
    return { layerSwitches, framesLeftOut, pausedSlots, unwatchedLayers };
  }

  workerStats(): ReturnType<RelayCounterSource['workerStats']> {
    return { workers: this.workers.loads(), failures: this.workers.failures, inProcess: this.workers.inProcess };
  }

  /** The UDP endpoints of every live relay connection, for `RelayEndpoints`. */
  relayEndpoints(): Array<{ address: string; port: number }> {
    return [...this.media.values()].flatMap((m) => m.relayEndpoints());
  }

  /** Ends every meeting's media and the workers (after their last figures and recordings). */
  async close(): Promise<void> {
    for (const m of this.media.values()) m.close();
    this.media.clear();
    await this.workers.close();
  }

  private of(meeting: Meeting): MeetingMedia {
    const m = this.media.get(meeting.id);
    if (!m) throw new CodedError('MEETING_NOT_FOUND');
    return m;
  }

  private attach(meeting: Meeting): void {
    const m = new MeetingMedia(meeting, this.store, this.log, this.options, this.workers);
    this.media.set(meeting.id, m);
    meeting.on('participant-joined', () => m.joined());
    meeting.on('participant-left', (p) => m.left(p));
    meeting.on('participant-media', (p) => m.mediaChanged(p));
  }

  private detach(meeting: Meeting): void {
    const m = this.media.get(meeting.id);
    if (!m) return;
    m.close();
    this.media.delete(meeting.id);
    // Its relay's last figures come back from the worker shortly: counted as live till then.
    this.closing.add(m);
    this.settle();
  }

  /** Folds closed meetings whose last figures are in into the process totals; nothing counts after. */
  private settle(): void {
    for (const m of this.closing) {
      if (!m.settled) continue;
      this.closing.delete(m);
      const final = m.counters();
      this.finished.set(m.meetingId, final);
      addRelayedByMode(this.ended.relayed, m.relayedByMode());
      this.ended.mixTicks += final.mixTicks ?? 0;
      this.ended.lateTicks += final.lateTicks ?? 0;
      this.ended.layerSwitches += final.layerSwitches ?? 0;
      this.ended.framesLeftOut += final.framesLeftOut ?? 0;
      // Keep the final counters of recent meetings only; the record holds the history.
      if (this.finished.size > FINISHED_KEPT) this.finished.delete(this.finished.keys().next().value!);
    }
  }

  /** Live meetings and closed ones still waiting for their last figures. */
  private counted(): MeetingMedia[] {
    this.settle();
    return [...this.media.values(), ...this.closing];
  }
}
