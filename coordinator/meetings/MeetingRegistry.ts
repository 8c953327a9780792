/** All meetings of this server, each with its own independent life cycle. */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { MeetingSummary, TopologyPreference } from '../../protocol/rest';
import { guard } from '../faults';
import { hashSecret, newMeetingId, newSecret } from '../ids';
import type { EventStore, MeetingRow } from '../records/EventStore';
import { Meeting, type MeetingOptions } from './Meeting';

export interface RegistryEvents {
  created: [meeting: Meeting];
  closed: [meeting: Meeting];
}

export class MeetingRegistry extends EventEmitter<RegistryEvents> {
  private readonly meetings = new Map<string, Meeting>();

  constructor(
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly meetingOptions: MeetingOptions,
    /** A meeting nobody has joined within this time ends (it would otherwise be listed forever). */
    private readonly unusedMeetingMs = 10 * 60_000,
  ) {
    super();
  }

  /**
   * Brings back the meetings a previous run of the server left open (a restart or a
   * crash): same id, title, topology and creator credential. Their people reconnect by
   * themselves; a restored meeting nobody comes back to within the departure grace ends.
   */
  restore(): Meeting[] {
    const restored: Meeting[] = [];
    for (const row of this.store.openMeetings()) {
      if (!row.creatorTokenHash) {
        // Written by a version that kept no credential: it cannot be restored with its rights.
        this.store.closeMeeting(row.id, 'ended', { reason: 'server restarted' });
        continue;
      }
      const meeting = this.revive({ ...row, creatorTokenHash: row.creatorTokenHash, listed: this.store.isListed(row.id) }, this.store.lastMode(row.id), 'nobody came back after a server restart');
      this.store.record(row.id, 'restored', undefined, {});
      restored.push(meeting);
    }
    if (restored.length > 0) this.log.info({ meetings: restored.length }, 'restored open meetings');
    return restored;
  }

  /**
   * Takes over an open meeting another node of the deployment held (it died or drained),
   * from the shared record: same id, title, topology, credentials, lock and path.
   */
  adopt(row: MeetingRow & { creatorTokenHash: string }, mode: 'p2p' | 'relay' | undefined): Meeting {
    const live = this.meetings.get(row.id);
    if (live) return live;
    this.store.adoptMeeting(row);
    const meeting = this.revive(row, mode, 'nobody came after the meeting moved to this node');
    this.store.record(row.id, 'restored', undefined, { node: 'adopted' });
    return meeting;
  }

  /** A meeting of the record brought back to life; it ends if nobody comes within the grace. */
  private revive(row: MeetingRow & { creatorTokenHash: string }, mode: 'p2p' | 'relay' | undefined, unusedReason: string): Meeting {
    const meeting = new Meeting(row.id, row.title, row.topology, row.creatorTokenHash, row.createdAt, this.store, this.log, this.meetingOptions);
    meeting.listed = row.listed !== false;
    meeting.setLocked(row.locked);
    // Its people come back one by one: start on the path they were on, so three people
    // rejoining a relay meeting do not go through P2P and a switch first.
    if (mode) meeting.path = { mode, target: mode, epoch: 0 };
    this.add(meeting, this.meetingOptions.departureGraceMs, unusedReason);
    return meeting;
  }

  /** The server is stopping: every meeting stays open in the record, to be restored. */
  suspendAll(): void {
    for (const meeting of this.meetings.values()) meeting.suspend();
  }

  /** Creates an open meeting; the creator token is returned once and never listed. */
  create(title: string, topology: TopologyPreference, options: { listed?: boolean } = {}): { meeting: Meeting; creatorToken: string } {
    const creatorToken = newSecret();
    let id = newMeetingId();
    while (this.meetings.has(id) || this.store.meeting(id)) id = newMeetingId();
    const createdAt = new Date().toISOString();
    const creatorTokenHash = hashSecret(creatorToken);
    const meeting = new Meeting(id, title, topology, creatorTokenHash, createdAt, this.store, this.log, this.meetingOptions);
    const listed = options.listed ?? true;
    meeting.listed = listed;
    this.store.createMeeting({ id, title, topology, createdAt, creatorTokenHash, ...(listed ? {} : { listed }) });
    this.add(meeting, this.unusedMeetingMs, 'nobody joined');
    this.log.info({ meetingId: id, title, topology, listed }, 'meeting created');
    return { meeting, creatorToken };
  }

  private add(meeting: Meeting, unusedMs: number, unusedReason: string): void {
    const id = meeting.id;
    this.meetings.set(id, meeting);
    const unusedTimer = setTimeout(() => guard(this.log, 'unused meeting timer', () => meeting.endIfEmpty(unusedReason), { meetingId: id }), unusedMs);
    unusedTimer.unref();
    meeting.once('participant-joined', () => clearTimeout(unusedTimer));
    meeting.on('state', (state) => {
      if (state === 'open') return;
      clearTimeout(unusedTimer);
      this.meetings.delete(id);
      this.emit('closed', meeting);
    });
    this.emit('created', meeting);
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
