/**
 * The durable record of meetings and what happened in them, in one SQLite file.
 * Writes are synchronous (better-sqlite3) and tiny; WAL keeps them cheap.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  MeetingEventRecord,
  MeetingEventType,
  MeetingState,
  TopologyPreference,
} from '../../protocol/rest';

/** A meeting as the record keeps it (also after the process restarted). */
export interface MeetingRow {
  id: string;
  title: string;
  topology: TopologyPreference;
  state: MeetingState;
  createdAt: string;
  closedAt: string | null;
  /** `hashSecret` of the creator credential (null in records of older versions). */
  creatorTokenHash: string | null;
  /** Locked by a host (restored with the meeting). */
  locked: boolean;
  /** False for a meeting reachable by link only; kept in the `created` event's detail. */
  listed?: boolean;
}

interface MeetingRowDb {
  id: string;
  title: string;
  topology: string;
  state: string;
  created_at: string;
  closed_at: string | null;
  creator_hash: string | null;
  locked: number | null;
}

interface EventRowDb {
  at: string;
  type: string;
  participant: string | null;
  detail: string | null;
}

/** One recording of a meeting's mix: where its file is and what it holds. */
export interface RecordingRow {
  id: string;
  startedAt: string;
  durationMs: number;
  bytes: number;
  path: string;
}

/**
 * Told of every write to the record after it is made (several nodes: the shared copy in
 * Redis). Must not throw; it runs inside the writer's call.
 */
export interface RecordMirror {
  meetingCreated(row: MeetingRow): void;
  event(meetingId: string, event: MeetingEventRecord): void;
  meetingClosed(meetingId: string, state: 'cancelled' | 'ended', closedAt: string): void;
  lockChanged(meetingId: string, locked: boolean): void;
}

/** Opens (creating if needed) the record at `path`; `:memory:` works for tests. */
export class EventStore {
  /** Where writes are copied to (several nodes); none in a single process. */
  mirror: RecordMirror | undefined;
  private readonly db: Database.Database;
  /** Prepared once per SQL text: preparing is most of the cost of a tiny write. */
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // With WAL, NORMAL is durable against a process crash (only an OS crash can lose the
    // last transactions) and saves an fsync per write.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meetings (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        topology TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        closed_at TEXT
      );
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        participant TEXT,
        detail TEXT
      );
      CREATE INDEX IF NOT EXISTS events_by_meeting ON events(meeting_id, seq);
      CREATE TABLE IF NOT EXISTS recordings (
        id TEXT PRIMARY KEY,
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        started_at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        path TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS recordings_by_meeting ON recordings(meeting_id, started_at);
    `);
    // Records written before meetings survived restarts lack the credential column.
    const columns = this.db.prepare('PRAGMA table_info(meetings)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'creator_hash')) this.db.exec('ALTER TABLE meetings ADD COLUMN creator_hash TEXT');
    if (!columns.some((c) => c.name === 'locked')) this.db.exec('ALTER TABLE meetings ADD COLUMN locked INTEGER NOT NULL DEFAULT 0');
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** Records a new meeting and its `created` event. */
  createMeeting(row: Omit<MeetingRow, 'state' | 'closedAt' | 'locked'>): void {
    const created = this.db.transaction(() => {
      this.statement('INSERT INTO meetings (id, title, topology, state, created_at, creator_hash) VALUES (?, ?, ?, ?, ?, ?)')
        .run(row.id, row.title, row.topology, 'open', row.createdAt, row.creatorTokenHash);
      return this.insertEvent(row.id, row.createdAt, 'created', undefined, {
        title: row.title,
        topology: row.topology,
        ...(row.listed === false ? { listed: false } : {}),
      });
    })();
    // Copied once committed: a failed insert leaves no meeting behind in the shared record.
    this.mirror?.meetingCreated({ ...row, state: 'open', closedAt: null, locked: false, listed: row.listed !== false });
    if (created) this.mirror?.event(row.id, created);
  }

  /** Appends one event to a meeting's record. */
  record(meetingId: string, type: MeetingEventType, participant?: string, detail?: Record<string, unknown>): void {
    const event = this.insertEvent(meetingId, new Date().toISOString(), type, participant, detail);
    if (event) this.mirror?.event(meetingId, event);
  }

  /** Marks a meeting closed (cancelled or ended) and records why. */
  closeMeeting(meetingId: string, state: 'cancelled' | 'ended', detail?: Record<string, unknown>): void {
    if (this.closed) return;
    const at = new Date().toISOString();
    const event = this.db.transaction(() => {
      this.statement('UPDATE meetings SET state = ?, closed_at = ? WHERE id = ?').run(state, at, meetingId);
      return this.insertEvent(meetingId, at, state, undefined, detail);
    })();
    if (event) this.mirror?.event(meetingId, event);
    this.mirror?.meetingClosed(meetingId, state, at);
  }

  /**
   * A meeting created elsewhere (another node of the deployment) that this node now holds:
   * its row, so this node's events of it have a meeting to belong to. No-op when known.
   */
  adoptMeeting(row: MeetingRow): void {
    if (this.closed) return;
    this.statement('INSERT OR IGNORE INTO meetings (id, title, topology, state, created_at, creator_hash, locked) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(row.id, row.title, row.topology, 'open', row.createdAt, row.creatorTokenHash, row.locked ? 1 : 0);
  }

  /** Keeps a meeting's lock, so a restarted server restores it locked. */
  setLocked(meetingId: string, locked: boolean): void {
    if (this.closed) return;
    this.statement('UPDATE meetings SET locked = ? WHERE id = ?').run(locked ? 1 : 0, meetingId);
    this.mirror?.lockChanged(meetingId, locked);
  }

  /** The meeting as recorded, or undefined when it never existed. */
  meeting(meetingId: string): MeetingRow | undefined {
    const row = this.statement('SELECT * FROM meetings WHERE id = ?').get(meetingId) as MeetingRowDb | undefined;
    return row && toMeetingRow(row);
  }

  /** Meetings still open in the record (a previous run stopped with them live). */
  openMeetings(): MeetingRow[] {
    if (this.closed) return [];
    const rows = this.statement("SELECT * FROM meetings WHERE state = 'open' ORDER BY created_at").all() as MeetingRowDb[];
    return rows.map(toMeetingRow);
  }

  /** False when the meeting was created unlisted (link only); true for unknown ids. */
  isListed(meetingId: string): boolean {
    const row = this.statement("SELECT detail FROM events WHERE meeting_id = ? AND type = 'created' ORDER BY seq LIMIT 1")
      .get(meetingId) as { detail: string | null } | undefined;
    if (!row?.detail) return true;
    return (JSON.parse(row.detail) as { listed?: unknown }).listed !== false;
  }

  /** The path the meeting's last completed switch went to; undefined when it never switched. */
  lastMode(meetingId: string): 'p2p' | 'relay' | undefined {
    const row = this.statement("SELECT detail FROM events WHERE meeting_id = ? AND type = 'mode-switched' ORDER BY seq DESC LIMIT 1")
      .get(meetingId) as { detail: string | null } | undefined;
    const to = row?.detail ? (JSON.parse(row.detail) as { to?: unknown }).to : undefined;
    return to === 'p2p' || to === 'relay' ? to : undefined;
  }

  /** A recording that started (its figures follow with `finishRecording`). */
  addRecording(row: { id: string; meetingId: string; startedAt: string; path: string }): void {
    if (this.closed) return;
    this.statement('INSERT INTO recordings (id, meeting_id, started_at, path) VALUES (?, ?, ?, ?)').run(row.id, row.meetingId, row.startedAt, row.path);
  }

  /** A recording's final length and size. */
  finishRecording(id: string, durationMs: number, bytes: number): void {
    if (this.closed) return;
    this.statement('UPDATE recordings SET duration_ms = ?, bytes = ? WHERE id = ?').run(durationMs, bytes, id);
  }

  /** A meeting's recordings, oldest first. */
  recordings(meetingId: string): RecordingRow[] {
    const rows = this.statement('SELECT id, started_at, duration_ms, bytes, path FROM recordings WHERE meeting_id = ? ORDER BY started_at')
      .all(meetingId) as { id: string; started_at: string; duration_ms: number; bytes: number; path: string }[];
    return rows.map((r) => ({ id: r.id, startedAt: r.started_at, durationMs: r.duration_ms, bytes: r.bytes, path: r.path }));
  }

  /** Every event of a meeting, oldest first. */
  events(meetingId: string): MeetingEventRecord[] {
    const rows = this.statement('SELECT at, type, participant, detail FROM events WHERE meeting_id = ? ORDER BY seq')
      .all(meetingId) as EventRowDb[];
    return rows.map((r) => {
      const event: MeetingEventRecord = { at: r.at, type: r.type as MeetingEventType };
      if (r.participant !== null) event.participant = r.participant;
      if (r.detail !== null) event.detail = JSON.parse(r.detail) as Record<string, unknown>;
      return event;
    });
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private insertEvent(
    meetingId: string,
    at: string,
    type: MeetingEventType,
    participant: string | undefined,
    detail: Record<string, unknown> | undefined,
  ): MeetingEventRecord | undefined {
    if (this.closed) return undefined; // a late socket close during shutdown has nothing left to record
    this.statement('INSERT INTO events (meeting_id, at, type, participant, detail) VALUES (?, ?, ?, ?, ?)')
      .run(meetingId, at, type, participant ?? null, detail === undefined ? null : JSON.stringify(detail));
    const event: MeetingEventRecord = { at, type };
    if (participant !== undefined) event.participant = participant;
    if (detail !== undefined) event.detail = detail;
    return event;
  }
}

function toMeetingRow(row: MeetingRowDb): MeetingRow {
  return {
    id: row.id,
    title: row.title,
    topology: row.topology === 'relay' ? 'relay' : 'auto',
    state: row.state === 'cancelled' ? 'cancelled' : row.state === 'ended' ? 'ended' : 'open',
    createdAt: row.created_at,
    closedAt: row.closed_at,
    creatorTokenHash: row.creator_hash,
    locked: row.locked === 1,
  };
}
