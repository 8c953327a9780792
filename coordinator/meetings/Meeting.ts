/**
 * A meeting: its life cycle (open → cancelled | ended), its participants, and the routing
 * of everything one participant sends to the others. Routing only ever looks inside this
 * meeting's own participant table, so nothing can reach a member of another meeting.
 */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import { CodedError } from '../../protocol/errors';
import type { TopologyMode, TopologyPreference } from '../../protocol/rest';
import type { ChatMessage, PeerSignal, ServerMessage } from '../../protocol/signaling';
import { guard } from '../faults';
import { newParticipantId, secretMatches } from '../ids';
import type { EventStore } from '../records/EventStore';
import { canTransition, type MeetingLifecycle } from './lifecycle';
import { Participant, type ParticipantLink } from './Participant';
import { startingPath } from '../topology/TopologyController';

/**
 * Why a participant is no longer in the meeting: `left` (the Leave button), `timed-out`
 * (their socket dropped and they did not come back within the departure grace),
 * `removed` (the meeting closed).
 */
export type LeaveReason = 'left' | 'timed-out' | 'removed' | 'removed-by-host';

export interface MeetingEvents {
  'participant-joined': [participant: Participant];
  'participant-left': [participant: Participant, reason: LeaveReason];
  'participant-media': [participant: Participant];
  state: [state: MeetingLifecycle];
}

/** Chat ids remembered per meeting to drop a re-sent message (e.g. retried across a switch). */
const CHAT_IDS_REMEMBERED = 1000;
/** Server-routed chat kept per meeting, replayed to a participant who resumes after a drop. */
const CHAT_HISTORY_KEPT = 200;

export interface MeetingOptions {
  /** How long a participant whose socket dropped is kept, waiting for them to resume. */
  departureGraceMs: number;
}

export class Meeting extends EventEmitter<MeetingEvents> {
  private lifecycle: MeetingLifecycle = 'open';
  private readonly members = new Map<string, Participant>();
  private readonly recentChatIds = new Set<string>();
  private readonly chatHistory: ChatMessage[] = [];
  /** Participants whose socket dropped → the timer that removes them when the grace ends. */
  private readonly graceTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** False for a meeting reachable by its link only (not in `GET /api/meetings`). */
  listed = true;
  /** Its audio is being recorded (the media side sets it). */
  recording = false;
  /** Locked by a host: nobody new may join (hosts and people resuming still may). */
  private lockedByHost = false;
  /** The media path in use and where a switch heads; the topology controller sets it. */
  path: { mode: TopologyMode; target: 'p2p' | 'relay'; epoch: number };

  constructor(
    readonly id: string,
    readonly title: string,
    readonly topology: TopologyPreference,
    /** `hashSecret` of the creator credential: the record keeps only this. */
    private readonly creatorTokenHash: string,
    readonly createdAt: string,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly options: MeetingOptions,
  ) {
    super();
    const initial = startingPath(topology);
    this.path = { mode: initial, target: initial, epoch: 0 };
  }

  get mode(): TopologyMode {
    return this.path.mode;
  }

  get state(): MeetingLifecycle {
    return this.lifecycle;
  }

  get participants(): readonly Participant[] {
    return [...this.members.values()];
  }

  get size(): number {
    return this.members.size;
  }

  participant(id: string): Participant | undefined {
    return this.members.get(id);
  }

  /** Adds a participant; refused once the meeting is cancelled or ended. */
  join(name: string, link: ParticipantLink, creatorToken?: string): Participant {
    this.assertOpen();
    const host = secretMatches(creatorToken, this.creatorTokenHash);
    if (this.lockedByHost && !host) throw new CodedError('MEETING_LOCKED');
    const participant = new Participant(newParticipantId(), name, host, link);
    this.members.set(participant.id, participant);
    this.store.record(this.id, 'joined', name, { participantId: participant.id, creator: participant.isCreator });
    this.log.info({ meetingId: this.id, participantId: participant.id, size: this.size }, 'participant joined');
    this.broadcast({ type: 'participant-joined', participant: participant.info() }, participant.id);
    this.emit('participant-joined', participant);
    return participant;
  }

  /**
   * The participant holding `resumeToken` takes `link` as their socket (a reload, or a
   * reconnect after a network drop): same id, same rights, no leave and rejoin for the
   * others. An old socket still attached is told it was replaced. Undefined when nobody
   * here holds that token (the grace ran out, or the server restarted).
   */
  resume(resumeToken: string, link: ParticipantLink): Participant | undefined {
    if (this.lifecycle !== 'open') return undefined;
    const participant = this.participants.find((p) => secretMatches(resumeToken, p.resumeTokenHash));
    if (!participant) return undefined;
    const old = participant.link;
    participant.link = link;
    old?.close('replaced');
    const timer = this.graceTimers.get(participant.id);
    clearTimeout(timer);
    this.graceTimers.delete(participant.id);
    this.store.record(this.id, 'resumed', participant.name, { participantId: participant.id, afterDrop: timer !== undefined });
    this.log.info({ meetingId: this.id, participantId: participant.id }, 'participant resumed');
    return participant;
  }

  /**
   * The participant's socket dropped (reload, closed tab, network loss): not a leave. They
   * stay a member for the departure grace, so the same browser can resume; after it they
   * leave as `timed-out` (and the meeting ends if they were the last).
   */
  drop(participantId: string): void {
    const participant = this.members.get(participantId);
    if (!participant || !participant.connected || this.lifecycle !== 'open') return;
    participant.link = null;
    this.store.record(this.id, 'dropped', participant.name, { participantId, graceMs: this.options.departureGraceMs });
    this.log.info({ meetingId: this.id, participantId }, 'participant dropped; waiting for them to resume');
    const timer = setTimeout(() => {
      this.graceTimers.delete(participantId);
      guard(this.log, 'departure grace', () => this.leave(participantId, 'timed-out'), { meetingId: this.id, participantId });
    }, this.options.departureGraceMs);
    timer.unref();
    this.graceTimers.set(participantId, timer);
  }

  /** Removes a participant (idempotent); the last one out ends the meeting. */
  leave(participantId: string, reason: LeaveReason): void {
    const participant = this.members.get(participantId);
    if (!participant) return;
    this.members.delete(participantId);
    clearTimeout(this.graceTimers.get(participantId));
    this.graceTimers.delete(participantId);
    if (this.lifecycle === 'open') {
      // A share ends with its sharer: the record says so, as when they stop it themselves.
      if (participant.screen) this.store.record(this.id, 'screen-share-stopped', participant.name, { participantId, reason });
      this.store.record(this.id, 'left', participant.name, { participantId, reason });
    }
    this.log.info({ meetingId: this.id, participantId, reason, size: this.size }, 'participant left');
    this.broadcast({ type: 'participant-left', participantId });
    this.emit('participant-left', participant, reason);
    if (this.members.size === 0 && this.lifecycle === 'open') this.close('ended', { reason: 'last participant left' });
  }

  /** Creator only: nobody can join any more and everyone is removed with a notice. */
  cancel(creatorToken: string | undefined): void {
    if (!secretMatches(creatorToken, this.creatorTokenHash)) throw new CodedError('NOT_CREATOR');
    this.assertOpen();
    this.close('cancelled', {});
  }

  get locked(): boolean {
    return this.lockedByHost;
  }

  /** Host only: locks or unlocks the meeting; everyone is told. `restoring` sets it quietly. */
  setLocked(locked: boolean, by?: Participant): void {
    if (by && !by.isCreator) throw new CodedError('NOT_HOST');
    if (locked === this.lockedByHost) return;
    this.lockedByHost = locked;
    if (!by) return;
    this.store.setLocked(this.id, locked);
    this.store.record(this.id, locked ? 'locked' : 'unlocked', by.name, { participantId: by.id });
    this.broadcast({ type: 'meeting-lock', locked, by: by.name });
  }

  /** Host only: turns `targetId`'s microphone off (their client stops sending; the mixer drops them meanwhile). */
  muteByHost(host: Participant, targetId: string): void {
    if (!host.isCreator) throw new CodedError('NOT_HOST');
    const target = this.members.get(targetId);
    if (!target || target === host) throw new CodedError('NOT_IN_MEETING');
    this.store.record(this.id, 'host-muted', target.name, { participantId: target.id, by: host.name });
    target.send({ type: 'muted-by-host', by: host.name });
    // Enforced here too: the others see the mic off and the mixer ignores it until they
    // turn it on again themselves (their next media-state).
    this.setMedia(target, { audio: false, video: target.video, screen: target.screen });
  }

  /** Host only: removes `targetId` from the meeting; they are told, and may rejoin unless it is locked. */
  removeByHost(host: Participant, targetId: string): void {
    if (!host.isCreator) throw new CodedError('NOT_HOST');
    const target = this.members.get(targetId);
    if (!target || target === host) throw new CodedError('NOT_IN_MEETING');
    this.store.record(this.id, 'host-removed', target.name, { participantId: target.id, by: host.name });
    target.send({ type: 'removed-by-host', by: host.name, message: `${host.name} removed you from the meeting.` });
    const link = target.link;
    this.leave(targetId, 'removed-by-host');
    link?.close('removed');
  }

  /** Ends a meeting nobody is in (e.g. created but never joined); no-op otherwise. */
  endIfEmpty(reason: string): void {
    if (this.members.size === 0 && this.lifecycle === 'open') this.close('ended', { reason });
  }

  /** Checks a creator credential without acting on it. */
  isCreatorToken(token: string | undefined): boolean {
    return secretMatches(token, this.creatorTokenHash);
  }

  /** Stamps and delivers a chat line to every other member; a repeated id is dropped. */
  chat(from: Participant, messageId: string, text: string): ChatMessage | undefined {
    if (this.recentChatIds.has(messageId)) return undefined;
    this.rememberChatId(messageId);
    const message: ChatMessage = { id: messageId, from: from.id, name: from.name, at: new Date().toISOString(), text };
    this.chatHistory.push(message);
    if (this.chatHistory.length > CHAT_HISTORY_KEPT) this.chatHistory.shift();
    this.broadcast({ type: 'chat', message }, from.id);
    return message;
  }

  /** Server-routed chat since `participant` joined: what a resuming browser may have missed. */
  chatSince(participant: Participant): ChatMessage[] {
    const since = new Date(participant.joinedAt).toISOString();
    return this.chatHistory.filter((m) => m.at >= since);
  }

  /** Publishes a participant's microphone, camera and screen-share state to the others; a share starting or stopping is recorded. */
  setMedia(participant: Participant, state: { audio: boolean; video: boolean; screen: boolean }): void {
    const { audio, video, screen } = state;
    if (participant.audio === audio && participant.video === video && participant.screen === screen) return;
    if (participant.screen !== screen) {
      this.store.record(this.id, screen ? 'screen-share-started' : 'screen-share-stopped', participant.name, { participantId: participant.id });
      this.log.info({ meetingId: this.id, participantId: participant.id, screen }, screen ? 'screen share started' : 'screen share stopped');
    }
    participant.audio = audio;
    participant.video = video;
    participant.screen = screen;
    this.broadcast({ type: 'participant-media', participantId: participant.id, audio, video, screen }, participant.id);
    this.emit('participant-media', participant);
  }

  /** Passes a P2P signal to another member of this meeting, and only of this meeting. */
  relaySignal(from: Participant, to: string, conn: string, data: PeerSignal): void {
    const target = this.members.get(to);
    if (!target || target === from) throw new CodedError('NOT_IN_MEETING');
    target.send({ type: 'signal', from: from.id, conn, data });
  }

  /** Sends to every member except `exceptId`. */
  broadcast(message: ServerMessage, exceptId?: string): void {
    const serialized = JSON.stringify(message); // once, not once per member
    for (const p of this.members.values()) if (p.id !== exceptId) p.send(message, serialized);
  }

  private assertOpen(): void {
    if (this.lifecycle === 'cancelled') throw new CodedError('MEETING_CANCELLED');
    if (this.lifecycle === 'ended') throw new CodedError('MEETING_ENDED');
  }

  private setState(next: MeetingLifecycle): void {
    if (next === this.lifecycle) return;
    if (!canTransition(this.lifecycle, next)) {
      throw new CodedError('INTERNAL', `meeting cannot go from ${this.lifecycle} to ${next}`);
    }
    this.log.info({ meetingId: this.id }, `meeting ${this.lifecycle} -> ${next}`);
    this.lifecycle = next;
    this.emit('state', next);
  }

  private close(state: 'cancelled' | 'ended', detail: Record<string, unknown>): void {
    this.setState(state);
    this.store.closeMeeting(this.id, state, detail);
    const notice: ServerMessage = {
      type: 'meeting-closed',
      reason: state,
      message: state === 'cancelled' ? 'The meeting was cancelled by its creator.' : 'The meeting has ended.',
    };
    this.clearGraceTimers();
    for (const p of [...this.members.values()]) {
      p.send(notice);
      this.members.delete(p.id);
      this.emit('participant-left', p, 'removed');
      p.link?.close(state);
    }
    this.removeAllListeners('participant-joined');
  }

  /**
   * The server is stopping: forget the sockets and timers but leave the meeting open in
   * the record, so a restarted server restores it and its people come back.
   */
  suspend(): void {
    this.clearGraceTimers();
    for (const p of this.members.values()) p.link = null;
  }

  private clearGraceTimers(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
  }

  private rememberChatId(id: string): void {
    this.recentChatIds.add(id);
    if (this.recentChatIds.size > CHAT_IDS_REMEMBERED) {
      const oldest = this.recentChatIds.values().next().value;
      if (oldest !== undefined) this.recentChatIds.delete(oldest);
    }
  }
}
