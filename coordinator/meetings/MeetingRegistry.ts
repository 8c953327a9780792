/** All meetings of this server, each with its own independent life cycle. */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { MeetingSummary, TopologyPreference } from '../../protocol/rest';
import { newMeetingId, newSecret } from '../ids';
import type { EventStore } from '../records/EventStore';
import { Meeting } from './Meeting';

export interface RegistryEvents {
  created: [meeting: Meeting];
  closed: [meeting: Meeting];
}

export class MeetingRegistry extends EventEmitter<RegistryEvents> {
  private readonly meetings = new Map<string, Meeting>();

  constructor(
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    /** A meeting nobody has joined within this time ends (it would otherwise be listed forever). */
    private readonly unusedMeetingMs = 10 * 60_000,
  ) {
    super();
  }

  /** Creates an open meeting; the creator token is returned once and never listed. */
  create(title: string, topology: TopologyPreference, options: { listed?: boolean } = {}): { meeting: Meeting; creatorToken: string } {
    const creatorToken = newSecret();
    let id = newMeetingId();
    while (this.meetings.has(id) || this.store.meeting(id)) id = newMeetingId();
    const createdAt = new Date().toISOString();
    const meeting = new Meeting(id, title, topology, creatorToken, createdAt, this.store, this.log);
    const listed = options.listed ?? true;
    meeting.listed = listed;
    this.store.createMeeting({ id, title, topology, createdAt, ...(listed ? {} : { listed }) });
    this.meetings.set(id, meeting);
    const unusedTimer = setTimeout(() => meeting.endIfEmpty('nobody joined'), this.unusedMeetingMs);
    unusedTimer.unref();
    meeting.once('participant-joined', () => clearTimeout(unusedTimer));
    meeting.on('state', (state) => {
      if (state === 'open') return;
      clearTimeout(unusedTimer);
      this.meetings.delete(id);
      this.emit('closed', meeting);
    });
    this.log.info({ meetingId: id, title, topology, listed }, 'meeting created');
    this.emit('created', meeting);
    return { meeting, creatorToken };
  }

  /** A live (open) meeting, or undefined. */
  get(id: string): Meeting | undefined {
    return this.meetings.get(id);
  }

  /** Every live meeting. */
  all(): Meeting[] {
    return [...this.meetings.values()];
  }

  /** The meetings that can be joined, newest first. */
  listJoinable(): MeetingSummary[] {
    return this.all()
      .filter((m) => m.state === 'open' && m.listed)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((m) => ({ id: m.id, title: m.title, participants: m.size, mode: m.mode, createdAt: m.createdAt }));
  }
}
