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
import { MixRecorder, type RecorderStop } from '../recording/MixRecorder';
import type { IceCandidate } from '../../protocol/signaling';
import { AudioMixer } from '../../relay/audio/AudioMixer';
import { MeetingRelay } from '../../relay/MeetingRelay';
import type { RelayCounters as RelayStats } from '../../relay/types';
import type { Meeting } from '../meetings/Meeting';
import type { Participant } from '../meetings/Participant';
import type { EventStore } from '../records/EventStore';
import { TopologyController, type TopologyOptions } from '../topology/TopologyController';
import type { TopologyMode } from '../../protocol/rest';
import { emptyRelayedByMode, type RelayCounters, type RelayedByMode } from './RelayCounterSource';

export interface MeetingMediaOptions extends TopologyOptions {
  /** Extra host addresses for the relay's ICE candidates (loopback is skipped by werift otherwise). */
  relayHostAddresses: string[];
  /** Where recordings go (`<dir>/<meeting id>/<recording id>.ogg`), and their size cap. */
  recordingsDir: string;
  recordingMaxBytes: number;
}

/** Said on screen and in the record: why a small meeting is on the relay meanwhile. */
const RECORDING_PIN = 'the meeting is being recorded';

const ZERO: RelayStats = { packetsForwarded: 0, bytesForwarded: 0, packetsReceived: 0, bytesReceived: 0, plisSent: 0, keyframeRequestsReceived: 0 };

export class MeetingMedia {
  readonly topology: TopologyController;
  private relay: MeetingRelay | null = null;
  private mixer: AudioMixer | null = null;
  /** Totals of relays already closed (the meeting went back to P2P). */
  private readonly closedTotals: RelayStats = { ...ZERO };
  private readonly mixerTotals = { ticks: 0, lateTicks: 0 };
  /** Forwarded media attributed to the mode it was forwarded in, up to the last mode change. */
  private readonly relayedByModeSoFar = emptyRelayedByMode();
  private attributedMode: TopologyMode;
  private attributedUpTo = { packets: 0, bytes: 0 };
  private closed = false;
  /** The recording under way, if any. */
  private recording: { id: string; recorder: MixRecorder } | null = null;

  constructor(
    private readonly meeting: Meeting,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly options: MeetingMediaOptions,
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

  /** The UDP endpoints this meeting's relay connections are bound to (none while on P2P). */
  relayEndpoints(): Array<{ address: string; port: number }> {
    return this.relay?.localUdpEndpoints() ?? [];
  }

  /** Membership changed: apply the policy (a newcomer learns the path in its `joined` reply). */
  joined(): void {
    this.topology.setMembers(this.meeting.participants.map((p) => p.id));
  }

  left(participant: Participant): void {
    this.relay?.removeParticipant(participant.id);
    this.mixer?.removeParticipant(participant.id);
    this.topology.setMembers(this.meeting.participants.map((p) => p.id));
  }

  mediaChanged(participant: Participant): void {
    this.relay?.setPublishing(participant.id, { audio: participant.audio, video: participant.video, screen: participant.screen });
    this.mixer?.setMuted(participant.id, !participant.audio);
  }

  async relayOffer(participant: Participant, sdp: string): Promise<string> {
    if (this.topology.snapshot().target !== 'relay') throw new CodedError('WRONG_MODE');
    const relay = this.ensureRelay();
    // Our clients never renegotiate the relay (their video slots are pre-allocated), so an
    // offer from someone the relay knows is a fresh session (a reload, or a restart after
    // a failure): the old connection goes first.
    if (relay.has(participant.id)) relay.replaceParticipant(participant.id);
    this.mixer!.addParticipant(participant.id);
    this.mixer!.setMuted(participant.id, !participant.audio);
    try {
      const answer = await relay.handleOffer(participant.id, sdp);
      relay.setPublishing(participant.id, { audio: participant.audio, video: participant.video, screen: participant.screen });
      return answer;
    } catch (err) {
      this.log.warn({ err, meetingId: this.meeting.id, participantId: participant.id }, 'relay offer failed');
      throw new CodedError('RELAY_FAILED');
    }
  }

  relayCandidate(participant: Participant, candidate: IceCandidate): void {
    if (!this.relay) throw new CodedError('WRONG_MODE');
    this.relay.addCandidate(participant.id, {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? null,
      sdpMLineIndex: candidate.sdpMLineIndex ?? null,
    }).catch((err: unknown) => this.log.debug({ err }, 'relay candidate refused'));
  }

  /** Drops a participant's relay connection as a failure would; false when it has none. */
  dropRelayConnection(participantId: string): boolean {
    if (!this.relay?.has(participantId)) return false;
    this.relay.loseParticipant(participantId);
    return true;
  }

  pathReady(participant: Participant, epoch: number): void {
    this.topology.pathReady(participant.id, epoch);
  }

  /** What the relay forwarded for this meeting, including relays already closed. */
  counters(): RelayCounters {
    const live = this.relay?.counters() ?? ZERO;
    const mixer = this.mixer?.counters;
    return {
      packets: this.closedTotals.packetsForwarded + live.packetsForwarded,
      bytes: this.closedTotals.bytesForwarded + live.bytesForwarded,
      packetsReceived: this.closedTotals.packetsReceived + live.packetsReceived,
      bytesReceived: this.closedTotals.bytesReceived + live.bytesReceived,
      keyframeRequests: this.closedTotals.plisSent + live.plisSent,
      mixTicks: this.mixerTotals.ticks + (mixer?.ticks ?? 0),
      lateTicks: this.mixerTotals.lateTicks + (mixer?.lateTicks ?? 0),
      tickMsP50: mixer?.tickMsP50 ?? 0,
      tickMsP99: mixer?.tickMsP99 ?? 0,
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
    const recorder = new MixRecorder(path, this.options.recordingMaxBytes);
    recorder.onStop = (why) => this.endRecording(why);
    this.recording = { id, recorder };
    this.store.addRecording({ id, meetingId: this.meeting.id, startedAt: new Date().toISOString(), path });
    this.store.record(this.meeting.id, 'recording-started', by.name, { recordingId: id });
    this.meeting.recording = true;
    this.mixer?.setFullMixTap((mix) => recorder.push(mix));
    this.topology.pinToRelay(RECORDING_PIN);
    this.meeting.broadcast({ type: 'recording', active: true, by: by.name });
    this.log.info({ meetingId: this.meeting.id, recordingId: id }, 'recording started');
  }

  private endRecording(why: RecorderStop, by?: string): void {
    const current = this.recording;
    if (!current) return;
    this.recording = null;
    this.mixer?.setFullMixTap(null);
    const { recorder, id } = current;
    void recorder.stop(why).then(() => this.store.finishRecording(id, recorder.durationMs, recorder.bytes));
    this.store.record(this.meeting.id, 'recording-stopped', by, { recordingId: id, reason: why, durationMs: recorder.durationMs, bytes: recorder.bytes });
    this.meeting.recording = false;
    this.log.info({ meetingId: this.meeting.id, recordingId: id, why }, 'recording stopped');
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

  private ensureRelay(): MeetingRelay {
    if (this.relay) return this.relay;
    const meetingId = this.meeting.id;
    const relay = new MeetingRelay(meetingId, {
      addParticipant: (id) => this.mixer?.addParticipant(id),
      removeParticipant: (id) => this.mixer?.removeParticipant(id),
      pushPacket: (id, seq, ts, payload) => this.mixer?.pushPacket(id, seq, ts, payload),
      setMuted: (id, muted) => this.mixer?.setMuted(id, muted),
    }, { hostAddresses: this.options.relayHostAddresses, logger: this.log });
    const mixer = new AudioMixer({
      onFrame: (id, opus, mediaTimeMs) => relay.sendAudio(id, opus, mediaTimeMs),
      onLevels: (levels) => {
        this.meeting.broadcast({ type: 'speakers', levels: Object.fromEntries([...levels].map(([id, l]) => [id, Math.round(l * 1000) / 1000])) });
      },
      onError: (err, participantId) => this.log.debug({ err, meetingId, participantId }, 'mixer error'),
    });
    relay.on('candidate', (id, candidate) => this.meeting.participant(id)?.send({ type: 'relay-candidate', candidate }));
    relay.on('slots', (id, slots) => this.meeting.participant(id)?.send({ type: 'relay-slots', slots }));
    relay.on('closed', (id, reason) => {
      // The connection failed (not removed by us): tell the client, which offers again.
      if (reason !== 'connection lost') return;
      const participant = this.meeting.participant(id);
      if (!participant) return;
      this.store.record(meetingId, 'media-recovery', participant.name, { participantId: id, path: 'relay', phase: 'relay-closed', reason });
      participant.send({ type: 'relay-closed', reason: 'The relay lost its connection to you.' });
    });
    this.relay = relay;
    this.mixer = mixer;
    const recorder = this.recording?.recorder;
    if (recorder) mixer.setFullMixTap((mix) => recorder.push(mix));
    mixer.start();
    this.log.info({ meetingId }, 'relay started');
    return relay;
  }

  private closeRelay(): void {
    if (!this.relay) return;
    const c = this.relay.counters();
    for (const key of Object.keys(ZERO) as (keyof RelayStats)[]) this.closedTotals[key] += c[key];
    if (this.mixer) {
      this.mixerTotals.ticks += this.mixer.counters.ticks;
      this.mixerTotals.lateTicks += this.mixer.counters.lateTicks;
    }
    this.relay.close();
    this.mixer?.close();
    this.relay = null;
    this.mixer = null;
    this.log.info({ meetingId: this.meeting.id }, 'relay stopped');
  }
}
