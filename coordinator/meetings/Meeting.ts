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
import { newParticipantId, secretMatches } from '../ids';
import type { EventStore } from '../records/EventStore';
import { canTransition, type MeetingLifecycle } from './lifecycle';
import { Participant, type ParticipantLink } from './Participant';

/** Why a participant is no longer in the meeting. */
export type LeaveReason = 'left' | 'disconnected' | 'removed';

export interface MeetingEvents {
  'participant-joined': [participant: Participant];
  'participant-left': [participant: Participant, reason: LeaveReason];
  'participant-media': [participant: Participant];
  state: [state: MeetingLifecycle];
}

/** Chat ids remembered per meeting to drop a re-sent message (e.g. retried across a switch). */
const CHAT_IDS_REMEMBERED = 1000;

export class Meeting extends EventEmitter<MeetingEvents> {
  private lifecycle: MeetingLifecycle = 'open';
  private readonly members = new Map<string, Participant>();
  private readonly recentChatIds = new Set<string>();
  /** False for a meeting reachable by its link only (not in `GET /api/meetings`). */
  listed = true;
  /** The media path in use and where a switch heads; the topology controller sets it. */
  path: { mode: TopologyMode; target: 'p2p' | 'relay'; epoch: number };

  constructor(
    readonly id: string,
    readonly title: string,
    readonly topology: TopologyPreference,
    private readonly creatorToken: string,
    readonly createdAt: string,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
  ) {
    super();
    const initial = topology === 'relay' ? 'relay' : 'p2p';
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
    const participant = new Participant(newParticipantId(), name, secretMatches(creatorToken, this.creatorToken), link);
    this.members.set(participant.id, participant);
    this.store.record(this.id, 'joined', name, { participantId: participant.id, creator: participant.isCreator });
    this.log.info({ meetingId: this.id, participantId: participant.id, size: this.size }, 'participant joined');
    this.broadcast({ type: 'participant-joined', participant: participant.info() }, participant.id);
    this.emit('participant-joined', participant);
    return participant;
  }

  /** Removes a participant (idempotent); the last one out ends the meeting. */
  leave(participantId: string, reason: LeaveReason): void {
    const participant = this.members.get(participantId);
    if (!participant) return;
    this.members.delete(participantId);
    if (this.lifecycle === 'open') {
      this.store.record(this.id, 'left', participant.name, { participantId, reason });
    }
    this.log.info({ meetingId: this.id, participantId, reason, size: this.size }, 'participant left');
    this.broadcast({ type: 'participant-left', participantId });
    this.emit('participant-left', participant, reason);
    if (this.members.size === 0 && this.lifecycle === 'open') this.close('ended', { reason: 'last participant left' });
  }

  /** Creator only: nobody can join any more and everyone is removed with a notice. */
  cancel(creatorToken: string | undefined): void {
    if (!secretMatches(creatorToken, this.creatorToken)) throw new CodedError('NOT_CREATOR');
    this.assertOpen();
    this.close('cancelled', {});
  }

  /** Ends a meeting nobody is in (e.g. created but never joined); no-op otherwise. */
  endIfEmpty(reason: string): void {
    if (this.members.size === 0 && this.lifecycle === 'open') this.close('ended', { reason });
  }

  /** Checks a creator credential without acting on it. */
  isCreatorToken(token: string | undefined): boolean {
    return secretMatches(token, this.creatorToken);
  }

  /** Stamps and delivers a chat line to every other member; a repeated id is dropped. */
  chat(from: Participant, messageId: string, text: string): ChatMessage | undefined {
    if (this.recentChatIds.has(messageId)) return undefined;
    this.rememberChatId(messageId);
    const message: ChatMessage = { id: messageId, from: from.id, name: from.name, at: new Date().toISOString(), text };
    this.broadcast({ type: 'chat', message }, from.id);
    return message;
  }

  /** Publishes a participant's camera/microphone state to the others. */
  setMedia(participant: Participant, audio: boolean, video: boolean): void {
    if (participant.audio === audio && participant.video === video) return;
    participant.audio = audio;
    participant.video = video;
    this.broadcast({ type: 'participant-media', participantId: participant.id, audio, video }, participant.id);
    this.emit('participant-media', participant);
  }

  /** Passes a P2P signal to another member of this meeting, and only of this meeting. */
  relaySignal(from: Participant, to: string, data: PeerSignal): void {
    const target = this.members.get(to);
    if (!target || target === from) throw new CodedError('NOT_IN_MEETING');
    target.send({ type: 'signal', from: from.id, data });
  }

  /** Sends to every member except `exceptId`. */
  broadcast(message: ServerMessage, exceptId?: string): void {
    for (const p of this.members.values()) if (p.id !== exceptId) p.send(message);
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
    for (const p of [...this.members.values()]) {
      p.send(notice);
      this.members.delete(p.id);
      this.emit('participant-left', p, 'removed');
      p.link.close(state);
    }
    this.removeAllListeners('participant-joined');
  }

  private rememberChatId(id: string): void {
    this.recentChatIds.add(id);
    if (this.recentChatIds.size > CHAT_IDS_REMEMBERED) {
      const oldest = this.recentChatIds.values().next().value;
      if (oldest !== undefined) this.recentChatIds.delete(oldest);
    }
  }
}
