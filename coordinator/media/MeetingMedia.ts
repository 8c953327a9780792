/**
 * The media side of one meeting: its topology controller, and — while the meeting uses
 * the relay — its `MeetingRelay` (video forwarding) and `AudioMixer` (N−1 mixes). Everything
 * here is per meeting, so one meeting's media can only ever reach its own members.
 */
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { CodedError } from '../../protocol/errors';
import { guard } from '../faults';
import { newRecordingId } from '../ids';
import type { IceCandidate, SlotView } from '../../protocol/signaling';
import { addTotals, zeroMixerFigures, zeroRelayCounters } from '../../relay/counters';
import type { MeetingFigures } from '../../relay/worker/channel';
import type { Meeting } from '../meetings/Meeting';
import type { Participant } from '../meetings/Participant';
import type { EventStore } from '../records/EventStore';
import { TopologyController, type TopologyOptions } from '../topology/TopologyController';
import type { TopologyMode } from '../../protocol/rest';
import type { MediaWorkers } from './MediaWorkers';
import type { RemoteRelay } from './RemoteRelay';
import { emptyRelayedByMode, type RelayCounters, type RelayedByMode } from './RelayCounterSource';

export interface MeetingMediaOptions extends TopologyOptions {
  /** Extra host addresses for the relay's ICE candidates (libjuice does not gather loopback). */
  relayHostAddresses: string[];
  /** Where recordings go (`<dir>/<meeting id>/<recording id>.ogg`), and their size cap. */
  recordingsDir: string;
  recordingMaxBytes: number;
}

/** Said on screen and in the record: why a small meeting is on the relay meanwhile. */
const RECORDING_PIN = 'the meeting is being recorded';


export class MeetingMedia {
  readonly topology: TopologyController;
  /** This meeting's relay and mixer, in a media worker, while the meeting uses the relay. */
  private relay: RemoteRelay | null = null;
  /** Relays closed whose last figures have not come back yet. */
  private retired: RemoteRelay[] = [];
  /** Totals of relays already closed and accounted for (their gauges mean nothing). */
  private readonly closedTotals: MeetingFigures = { relay: zeroRelayCounters(), mixer: zeroMixerFigures() };
  /** Forwarded media attributed to the mode it was forwarded in, up to the last mode change. */
  private readonly relayedByModeSoFar = emptyRelayedByMode();
  private attributedMode: TopologyMode;
  private attributedUpTo = { packets: 0, bytes: 0 };
  private closed = false;
  /** The recording under way, if any, and the relay it is written by (none yet while switching). */
  private recording: { id: string; path: string; on: RemoteRelay | null } | null = null;
  /** The speaker levels last sent, serialized. */
  private lastLevels = '';
  /** Recordings asked to stop whose final figures the worker has yet to send. */
  private readonly stopping = new Map<string, { why: string; by: string | undefined }>();

  constructor(
    private readonly meeting: Meeting,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly options: MeetingMediaOptions,
    private readonly workers: MediaWorkers,
  ) {
    this.topology = new TopologyController(meeting.topology, options, meeting.path.mode === 'relay' ? 'relay' : 'p2p');
    this.attributedMode = this.topology.snapshot().mode;
    // Topology changes also fire from the controller's timers: guarded at this boundary.
    this.topology.on('change', (snapshot, reason) => guard(this.log, 'topology change', () => {
      // Everything counted so far was forwarded in the mode that is ending now.
      this.attributeRelayed(snapshot.mode);
      meeting.path = { mode: snapshot.mode, target: snapshot.target, epoch: snapshot.epoch };
      this.log.info({ meetingId: meeting.id, state: snapshot.state, epoch: snapshot.epoch, reason }, `topology -> ${snapshot.state}`);
      meeting.broadcast({ type: 'topology', mode: snapshot.mode, target: snapshot.target, epoch: snapshot.epoch, reason });
      // Back on P2P: the relay has nothing left to do (break after make).
      if (snapshot.state === 'p2p') this.closeRelay();
    }, { meetingId: meeting.id }));
    this.topology.on('switched', (record) => guard(this.log, 'topology record', () => {
      this.store.record(meeting.id, 'mode-switched', undefined, { ...record });
    }, { meetingId: meeting.id }));
  }

  get meetingId(): string {
    return this.meeting.id;
  }

  /** Closed, and every relay it had has reported its last figures. */
  get settled(): boolean {
    this.foldRetired();
    return this.closed && this.retired.length === 0;
  }

  /** The UDP endpoints this meeting's relay connections are bound to (none while on P2P). */
  relayEndpoints(): Array<{ address: string; port: number }> {
    return this.relay?.endpoints ?? [];
  }

  /** Membership changed: apply the policy (a newcomer learns the path in its `joined` reply). */
  joined(): void {
    this.topology.setMembers(this.meeting.participants.map((p) => p.id));
  }

  left(participant: Participant): void {
    this.relay?.removeParticipant(participant.id);
    this.topology.setMembers(this.meeting.participants.map((p) => p.id));
  }

  mediaChanged(participant: Participant): void {
    this.relay?.setPublishing(participant.id, { audio: participant.audio, video: participant.video, screen: participant.screen });
  }

  async relayOffer(participant: Participant, sdp: string): Promise<string> {
    if (this.topology.snapshot().target !== 'relay') throw new CodedError('WRONG_MODE');
    const relay = this.ensureRelay();
    try {
      return await relay.offer(participant.id, sdp, { audio: participant.audio, video: participant.video, screen: participant.screen });
    } catch (err) {
      this.log.warn({ err, meetingId: this.meeting.id, participantId: participant.id }, 'relay offer failed');
      // A coded error keeps its code (a client's bad offer is INVALID_OFFER, not a server failure).
      throw err instanceof CodedError ? err : new CodedError('RELAY_FAILED');
    }
  }

  /** The sizes a participant renders its relay slots at; ignored while the meeting has no relay (the client sends them again on its next connection). */
  relayView(participant: Participant, slots: SlotView[], resync: boolean): void {
    this.relay?.view(participant.id, slots, resync);
  }

  relayCandidate(participant: Participant, candidate: IceCandidate): void {
    if (!this.relay) throw new CodedError('WRONG_MODE');
    this.relay.candidate(participant.id, candidate);
  }

  /** Drops a participant's relay connection as a failure would; false when it has none. */
  dropRelayConnection(participantId: string): boolean {
    return this.relay?.loseParticipant(participantId) ?? false;
  }

  pathReady(participant: Participant, epoch: number): void {
    this.topology.pathReady(participant.id, epoch);
  }

  /** What the relay forwarded for this meeting, including relays already closed. */
  counters(): RelayCounters {
    this.foldRetired();
    const sum: MeetingFigures = { relay: { ...this.closedTotals.relay }, mixer: { ...this.closedTotals.mixer } };
    for (const r of [...this.retired, ...(this.relay ? [this.relay] : [])]) addTotals(sum, r.figures);
    const { relay, mixer } = sum;
    const now = this.relay?.figures.mixer;
    return {
      packets: relay.packetsForwarded,
      bytes: relay.bytesForwarded,
      packetsReceived: relay.packetsReceived,
      bytesReceived: relay.bytesReceived,
      keyframeRequests: relay.plisSent,
      packetsAskedAgain: relay.packetsAskedAgain,
      packetsRecovered: relay.packetsRecovered,
      forwardingEntries: this.relay?.figures.relay.forwardingEntries ?? 0,
      layerSwitches: relay.layerSwitches,
      framesLeftOut: relay.framesLeftOut,
      pausedSlots: this.relay?.figures.relay.pausedSlots ?? 0,
      unwatchedLayers: this.relay?.figures.relay.unwatchedLayers ?? 0,
      mixTicks: mixer.ticks,
      lateTicks: mixer.lateTicks,
      /** Mixer input frames concealed (lost or late packets) and packets that came too late to play. */
      concealedFrames: mixer.concealed,
      latePackets: mixer.latePackets,
      tickMsP50: now?.tickMsP50 ?? 0,
      tickMsP99: now?.tickMsP99 ?? 0,
      departureMsP50: now?.departureMsP50 ?? 0,
      departureMsP99: now?.departureMsP99 ?? 0,
      departureMsMax: now?.departureMsMax ?? 0,
      inputHeldMs: now?.inputHeldMs ?? 0,
      ...(now?.complexity !== undefined ? { mixComplexity: now.complexity } : {}),
    };
  }

  /** What the relay forwarded for this meeting, by the mode the meeting was in at the time (monotonic per mode). */
  relayedByMode(): RelayedByMode {
    const byMode = emptyRelayedByMode();
    for (const mode of Object.keys(byMode) as TopologyMode[]) byMode[mode] = { ...this.relayedByModeSoFar[mode] };
    const now = this.counters();
    byMode[this.attributedMode].packets += now.packets - this.attributedUpTo.packets;
    byMode[this.attributedMode].bytes += now.bytes - this.attributedUpTo.bytes;
    return byMode;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endRecording('meeting over');
    this.topology.close();
    this.closeRelay();
  }

  /**
   * A host starts or stops recording. The recording is the mixer's full mix, so a meeting
   * on P2P moves to the relay for as long as it runs (and back after it, by the usual policy).
   */
  setRecording(by: Participant, on: boolean): void {
    if (on === (this.recording !== null)) return;
    if (!on) {
      this.endRecording('stopped', by.name);
      return;
    }
    const id = newRecordingId();
    const path = join(this.options.recordingsDir, this.meeting.id, `${id}.ogg`);
    this.recording = { id, path, on: null };
    this.store.addRecording({ id, meetingId: this.meeting.id, startedAt: new Date().toISOString(), path });
    this.store.record(this.meeting.id, 'recording-started', by.name, { recordingId: id });
    this.meeting.recording = true;
    if (this.relay) this.recordOn(this.relay);
    this.topology.pinToRelay(RECORDING_PIN);
    this.meeting.broadcast({ type: 'recording', active: true, by: by.name });
    this.log.info({ meetingId: this.meeting.id, recordingId: id }, 'recording started');
  }

  private recordOn(relay: RemoteRelay): void {
    if (!this.recording || this.recording.on) return;
    this.recording.on = relay;
    relay.startRecording(this.recording.id, this.recording.path, this.options.recordingMaxBytes);
  }

  /** Ends the recording we asked for; its figures are final when the worker has flushed the file. */
  private endRecording(why: string, by?: string): void {
    const current = this.recording;
    if (!current) return;
    this.recording = null;
    const writer = current.on;
    if (writer && writer === this.relay && writer.alive) {
      this.stopping.set(current.id, { why, by });
      writer.stopRecording(why);
    } else {
      // Never started on a relay, or the relay writing it is gone: what was reported is all there is.
      const figures = writer?.figures.recording;
      this.finishRecording(current.id, why, by, figures?.durationMs ?? 0, figures?.bytes ?? 0);
    }
    this.recordingOver(why, by);
  }

  /** The worker's final figures of a recording: asked to stop, or ended on its own (size cap, disk). */
  private recordingEnded(id: string, reason: string, durationMs: number, bytes: number): void {
    const asked = this.stopping.get(id);
    if (asked) {
      this.stopping.delete(id);
      this.finishRecording(id, asked.why, asked.by, durationMs, bytes);
    } else if (this.recording?.id === id) {
      this.recording = null;
      this.finishRecording(id, reason, undefined, durationMs, bytes);
      this.recordingOver(reason);
    }
  }

  private finishRecording(id: string, why: string, by: string | undefined, durationMs: number, bytes: number): void {
    this.store.finishRecording(id, durationMs, bytes);
    this.store.record(this.meeting.id, 'recording-stopped', by, { recordingId: id, reason: why, durationMs, bytes });
  }

  private recordingOver(why: string, by?: string): void {
    this.meeting.recording = false;
    this.log.info({ meetingId: this.meeting.id, why }, 'recording stopped');
    if (this.closed) return;
    this.topology.pinToRelay(null);
    this.meeting.broadcast({ type: 'recording', active: false, by: by ?? 'the server' });
  }

  /** Books what was forwarded since the last mode change under the old mode, then follows `next`. */
  private attributeRelayed(next: TopologyMode): void {
    const now = this.counters();
    const sofar = this.relayedByModeSoFar[this.attributedMode];
    sofar.packets += now.packets - this.attributedUpTo.packets;
    sofar.bytes += now.bytes - this.attributedUpTo.bytes;
    this.attributedUpTo = { packets: now.packets, bytes: now.bytes };
    this.attributedMode = next;
  }

  private ensureRelay(): RemoteRelay {
    if (this.relay) return this.relay;
    const meetingId = this.meeting.id;
    const guarded = <A extends unknown[]>(what: string, fn: (...args: A) => void) =>
      (...args: A): void => guard(this.log, what, () => fn(...args), { meetingId });
    const relay: RemoteRelay = this.workers.open(meetingId, { hostAddresses: this.options.relayHostAddresses }, {
      candidate: guarded('relay candidate', (id, candidate) => this.meeting.participant(id)?.send({ type: 'relay-candidate', candidate })),
      slots: guarded('relay slots', (id, slots) => this.meeting.participant(id)?.send({ type: 'relay-slots', slots })),
      downlink: guarded('relay downlink', (id, report) => this.meeting.participant(id)?.send({ type: 'relay-downlink', report })),
      cameraLayers: guarded('relay camera layers', (id, active) => this.meeting.participant(id)?.send({ type: 'relay-camera-layers', active })),
      closed: guarded('relay closed', (id, reason) => {
        // The connection failed (not removed by us): tell the client, which offers again.
        if (reason === 'connection lost') this.tellRelayClosed(id, reason, 'The relay lost its connection to you.');
      }),
      levels: guarded('speaker levels', (levels) => {
        // Every 200 ms from the mixer; only a change is worth a message to everyone.
        const key = JSON.stringify(levels);
        if (key === this.lastLevels) return;
        this.lastLevels = key;
        this.meeting.broadcast({ type: 'speakers', levels });
      }),
      recordingEnded: guarded('recording ended', (id, reason, durationMs, bytes) => this.recordingEnded(id, reason, durationMs, bytes)),
      failed: guarded('media worker failed', (ids) => this.relayFailed(relay, ids)),
    });
    this.relay = relay;
    this.recordOn(relay);
    this.log.info({ meetingId, worker: relay.worker.index }, 'relay started');
    return relay;
  }

  /**
   * The worker holding this meeting's relay died: a relay failure for everyone on it. Each
   * client is told and offers again, which places the meeting on a live worker.
   */
  private relayFailed(relay: RemoteRelay, participantIds: string[]): void {
    if (relay !== this.relay) return;
    this.endRecording('media worker failed');
    this.closeRelay();
    for (const id of participantIds) this.tellRelayClosed(id, 'media worker failed', 'The media server restarted your connection.');
  }

  private tellRelayClosed(participantId: string, reason: string, text: string): void {
    const participant = this.meeting.participant(participantId);
    if (!participant) return;
    this.store.record(this.meeting.id, 'media-recovery', participant.name, { participantId, path: 'relay', phase: 'relay-closed', reason });
    participant.send({ type: 'relay-closed', reason: text });
  }

  /** Relays whose last figures are in: into the totals, and forgotten. */
  private foldRetired(): void {
    if (this.retired.length === 0) return;
    this.retired = this.retired.filter((r) => {
      if (!r.final) return true;
      addTotals(this.closedTotals, r.figures);
      return false;
    });
  }

  private closeRelay(): void {
    const relay = this.relay;
    if (!relay) return;
    this.relay = null;
    relay.close();
    this.retired.push(relay);
    this.log.info({ meetingId: this.meeting.id }, 'relay stopped');
  }
}
