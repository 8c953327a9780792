/**
 * The coordinator's handle on one meeting's relay and mixer, which live in a media worker:
 * calls become `ToWorker` messages, the worker's events come back to `RelayHandlers`, and
 * the figures it reports a few times a second are kept here for counters and `/metrics`.
 */
import { CodedError } from '../../protocol/errors';
import type { DownlinkReport, IceCandidate } from '../../protocol/signaling';
import { zeroMixerFigures, zeroRelayCounters } from '../../relay/counters';
import type { SlotAssignment, SlotView, PublishState, RelayCloseReason } from '../../relay/types';
import type { FromWorker, MeetingFigures, ToWorker } from '../../relay/worker/channel';

/** What the owner of a meeting's media hears from its relay. */
export interface RelayHandlers {
  candidate(participantId: string, candidate: IceCandidate): void;
  slots(participantId: string, slots: SlotAssignment[]): void;
  downlink(participantId: string, report: DownlinkReport): void;
  cameraLayers(participantId: string, active: boolean[]): void;
  closed(participantId: string, reason: RelayCloseReason): void;
  levels(levels: Record<string, number>): void;
  recordingEnded(recordingId: string, reason: string, durationMs: number, bytes: number): void;
  /** The worker holding this relay died: every connection of it is gone (these had one). */
  failed(participantIds: string[]): void;
}

export const NO_FIGURES: MeetingFigures = { relay: zeroRelayCounters(), mixer: zeroMixerFigures() };

/** How the handle reaches its worker (the pool's side of it). */
export interface WorkerPort {
  readonly index: number;
  send(message: ToWorker): void;
}

export class RemoteRelay {
  /** As last reported; final once `final` is true (after close). */
  figures: MeetingFigures = NO_FIGURES;
  final = false;
  endpoints: Array<{ address: string; port: number }> = [];
  /** Participants with a relay connection (or one being made). */
  private readonly connected = new Set<string>();
  private readonly pending = new Map<number, { resolve: (sdp: string) => void; reject: (err: Error) => void }>();
  private closed = false;
  private dead = false;
  /** A recording was started here and its final figures are not in yet. */
  awaitingRecording = false;

  constructor(
    readonly meetingId: string,
    readonly worker: WorkerPort,
    private readonly handlers: RelayHandlers,
    private readonly nextRequestId: () => number,
  ) {}

  /** False once its worker died. */
  get alive(): boolean {
    return !this.dead;
  }

  /** Nothing more will come from the worker for it: closed, last figures and recording in. */
  get done(): boolean {
    return this.final && !this.awaitingRecording;
  }

  get participantCount(): number {
    return this.connected.size;
  }

  has(participantId: string): boolean {
    return this.connected.has(participantId);
  }

  offer(participantId: string, sdp: string, publishing: PublishState): Promise<string> {
    if (this.closed || this.dead) return Promise.reject(new CodedError('RELAY_FAILED'));
    const requestId = this.nextRequestId();
    this.connected.add(participantId);
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.send({ type: 'offer', meetingId: this.meetingId, requestId, participantId, sdp, publishing: { ...publishing } });
    });
  }

  /** The sizes a participant renders its slots at. */
  view(participantId: string, slots: SlotView[], resync: boolean): void {
    this.send({ type: 'view', meetingId: this.meetingId, participantId, slots, ...(resync ? { resync: true } : {}) });
  }

  candidate(participantId: string, candidate: IceCandidate): void {
    this.send({
      type: 'candidate',
      meetingId: this.meetingId,
      participantId,
      candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null },
    });
  }

  setPublishing(participantId: string, publishing: PublishState): void {
    this.send({ type: 'publishing', meetingId: this.meetingId, participantId, publishing: { ...publishing } });
  }

  removeParticipant(participantId: string): void {
    this.connected.delete(participantId);
    this.send({ type: 'remove-participant', meetingId: this.meetingId, participantId });
  }

  /** Drops a connection as a failure would; false when the participant has none. */
  loseParticipant(participantId: string): boolean {
    if (!this.connected.has(participantId)) return false;
    this.send({ type: 'lose-participant', meetingId: this.meetingId, participantId });
    return true;
  }

  startRecording(recordingId: string, path: string, maxBytes: number): void {
    this.awaitingRecording = true;
    this.send({ type: 'record-start', meetingId: this.meetingId, recordingId, path, maxBytes });
  }

  stopRecording(reason: string): void {
    this.send({ type: 'record-stop', meetingId: this.meetingId, reason });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectPending('relay closed');
    if (this.dead) this.final = true;
    else this.send({ type: 'close', meetingId: this.meetingId });
  }

  /** A message from the worker about this meeting (routed by the pool). */
  receive(message: Exclude<FromWorker, { type: 'log' | 'answer' | 'offer-failed' | 'figures' }>): void {
    switch (message.type) {
      case 'candidate':
        if (!this.closed) this.handlers.candidate(message.participantId, message.candidate);
        return;
      case 'slots':
        if (!this.closed) this.handlers.slots(message.participantId, message.slots);
        return;
      case 'downlink':
        if (!this.closed) this.handlers.downlink(message.participantId, message.report);
        return;
      case 'camera-layers':
        if (!this.closed) this.handlers.cameraLayers(message.participantId, message.active);
        return;
      case 'closed':
        // Replaced: the participant's new connection is already on its way.
        if (message.reason !== 'replaced') this.connected.delete(message.participantId);
        if (!this.closed) this.handlers.closed(message.participantId, message.reason);
        return;
      case 'levels':
        if (!this.closed) this.handlers.levels(message.levels);
        return;
      case 'endpoints':
        this.endpoints = message.endpoints;
        return;
      case 'recording-ended':
        this.awaitingRecording = false;
        this.handlers.recordingEnded(message.recordingId, message.reason, message.durationMs, message.bytes);
        return;
    }
  }

  /** The worker's reply to one of our offers. */
  settle(requestId: number, result: { sdp: string } | { error: CodedError }): boolean {
    const waiting = this.pending.get(requestId);
    if (!waiting) return false;
    this.pending.delete(requestId);
    if ('sdp' in result) waiting.resolve(result.sdp);
    else waiting.reject(result.error);
    return true;
  }

  /** Figures from the worker; the ones that arrive after `close` are the last. */
  report(figures: MeetingFigures): void {
    this.figures = figures;
    if (this.closed) this.final = true;
  }

  /** The worker is gone: nothing of this relay exists any more. */
  workerDied(): void {
    if (this.dead) return;
    this.dead = true;
    this.awaitingRecording = false;
    this.endpoints = [];
    const hadConnection = [...this.connected];
    this.connected.clear();
    this.rejectPending('media worker failed');
    if (this.closed) this.final = true;
    else this.handlers.failed(hadConnection);
  }

  private rejectPending(why: string): void {
    for (const { reject } of this.pending.values()) reject(new CodedError('RELAY_FAILED', `The relay failed (${why}).`));
    this.pending.clear();
  }

  private send(message: ToWorker): void {
    if (!this.dead) this.worker.send(message);
  }
}
