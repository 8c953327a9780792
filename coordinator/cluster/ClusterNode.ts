/**
 * This process as one node of a deployment over Redis (`REDIS_URL`): it announces itself
 * and its load with a heartbeat, keeps the shared record and the live view of its meetings
 * in Redis, places meetings by load, routes a browser's signaling to the node holding its
 * meeting, and takes over the meetings of a node that died.
 *
 * A meeting lives whole on one node (its signaling state, relay and mixer): placed on the
 * least-loaded live node when it is created, and again when the node holding it is gone.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { CodedError, isErrorCode } from '../../protocol/errors';
import type { MeetingEventRecord, MeetingSummary, TopologyPreference } from '../../protocol/rest';
import type { Meeting } from '../meetings/Meeting';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import type { EventStore, MeetingRow, RecordMirror } from '../records/EventStore';
import type { MeetingRoute, SessionCluster } from '../signaling/SignalingSession';
import type { SessionSocket } from '../signaling/SessionSocket';
import { secretMatches } from '../ids';
import { startingPath } from '../topology/TopologyController';
import { ForwardedSockets } from './ForwardedSockets';
import { NodeBus } from './NodeBus';
import type { NodeMessage } from './NodeMessage';
import { RemoteSessions } from './RemoteSessions';
import { RedisDirectory, type LiveMeeting, type NodeInfo } from './RedisDirectory';

export interface ClusterConfig {
  redisUrl: string;
  /** This node's name in the deployment (stable across restarts: it finds its meetings again). */
  nodeId: string;
  /** How often the node announces itself and checks on the others. */
  heartbeatMs: number;
  /** A node silent this long counts as dead and its meetings are placed again. */
  nodeTtlMs: number;
}

export interface ClusterDeps {
  registry: MeetingRegistry;
  store: EventStore;
  log: FastifyBaseLogger;
  /** This node's media load (relay meetings, mean worker utilisation). */
  relayLoad(): { relayMeetings: number; relayLoad: number };
}

/** How long a request to another node (create, cancel) may take. */
const REQUEST_TIMEOUT_MS = 5000;

/** A meeting's live view as a summary row (participants counted, not named). */
function summaryOf(row: MeetingRow, live: LiveMeeting | undefined): MeetingSummary {
  return {
    id: row.id,
    title: row.title,
    participants: live?.participants.length ?? 0,
    mode: live?.mode ?? startingPath(row.topology),
    createdAt: row.createdAt,
  };
}

/** Meetings fill up after they are placed, so each counts as two people already there. */
const EXPECTED_PEOPLE_PER_MEETING = 2;
/** A fully busy media worker weighs as much as this many people. */
const PEOPLE_PER_BUSY_WORKER = 50;

/** What a node is expected to carry: its people, its meetings' future people, its relay's busyness. */
function loadScore(node: NodeInfo): number {
  return node.participants + EXPECTED_PEOPLE_PER_MEETING * node.meetings + PEOPLE_PER_BUSY_WORKER * node.relayLoad;
}

export class ClusterNode implements SessionCluster, RecordMirror {
  readonly id: string;
  private readonly directory: RedisDirectory;
  private readonly bus: NodeBus;
  private readonly forwarded: ForwardedSockets;
  private remote: RemoteSessions | undefined;
  private url = '';
  private heartbeat: NodeJS.Timeout | undefined;
  /** Per meeting, the Redis writes in the order they were made (each waits for the one before). */
  private readonly writes = new Map<string, Promise<void>>();
  private closed = false;
  /** Draining: no more heartbeats (a late one would announce a node that is leaving). */
  private stopping = false;

  private constructor(
    private readonly config: ClusterConfig,
    private readonly deps: ClusterDeps,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
  ) {
    this.id = config.nodeId;
    this.directory = new RedisDirectory(redis);
    this.bus = new NodeBus(redis, subscriber, this.id, deps.log);
    this.forwarded = new ForwardedSockets(this.bus);
  }

  /** Connects to Redis and mirrors the record there; `start` makes the node known. */
  static async connect(config: ClusterConfig, deps: ClusterDeps): Promise<ClusterNode> {
    const options = { maxRetriesPerRequest: 3, lazyConnect: true };
    const redis = new Redis(config.redisUrl, options);
    const subscriber = new Redis(config.redisUrl, options);
    for (const connection of [redis, subscriber]) {
      connection.on('error', (err: Error) => deps.log.warn({ err }, 'cluster: redis connection error'));
    }
    await Promise.all([redis.connect(), subscriber.connect()]);
    const node = new ClusterNode(config, deps, redis, subscriber);
    deps.store.mirror = node;
    deps.registry.on('created', (meeting) => node.watch(meeting));
    return node;
  }

  /**
   * Listens on this node's inbox and announces it at `url`. `startSession` runs the session
   * of a browser socket held by another node (a `SignalingSession` like a local one).
   */
  async start(url: string, startSession: (socket: SessionSocket) => void): Promise<void> {
    this.url = url;
    this.remote = new RemoteSessions(this.bus, startSession);
    await this.bus.start((message) => this.receive(message));
    await this.announce();
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: unknown) => this.deps.log.warn({ err }, 'cluster: heartbeat failed'));
    }, this.config.heartbeatMs);
    this.heartbeat.unref();
    this.deps.log.info({ nodeId: this.id, url }, 'cluster: node joined the deployment');
  }

  /** Every live node of the deployment (this one included once it has announced itself). */
  nodes(): Promise<NodeInfo[]> {
    return this.directory.liveNodes();
  }

  // ---- signaling ----

  /** Where a meeting this node does not hold lives; places it (by load) when nobody holds it. */
  async route(meetingId: string): Promise<MeetingRoute | undefined> {
    const row = await this.directory.meeting(meetingId);
    if (!row || row.state !== 'open' || !row.creatorTokenHash) return undefined;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const owner = await this.directory.owner(meetingId);
      if (owner === this.id) return this.adoptRoute({ ...row, creatorTokenHash: row.creatorTokenHash });
      if (owner !== undefined) {
        if (await this.isAlive(owner)) return { kind: 'forward', nodeId: owner };
        this.deps.log.info({ meetingId, deadNode: owner }, 'cluster: the node holding a meeting is gone; placing it again');
        await this.directory.release(meetingId, owner);
      }
      const target = await this.leastLoaded();
      if (!(await this.directory.claim(meetingId, target))) continue; // another node placed it first
      this.deps.log.info({ meetingId, nodeId: target }, 'cluster: meeting placed');
      if (target === this.id) return this.adoptRoute({ ...row, creatorTokenHash: row.creatorTokenHash });
      return { kind: 'forward', nodeId: target };
    }
    throw new CodedError('NODE_UNAVAILABLE');
  }

  forward(nodeId: string, socket: SessionSocket, frames: Buffer[]): void {
    this.forwarded.forward(nodeId, socket, frames);
  }

  /** The cluster as seen by sessions of sockets on other nodes: their meeting is here, or nowhere. */
  readonly here: SessionCluster = {
    route: async (meetingId) => {
      if ((await this.directory.owner(meetingId)) !== this.id) return undefined;
      const row = await this.directory.meeting(meetingId);
      if (!row || row.state !== 'open' || !row.creatorTokenHash) return undefined;
      return this.adoptRoute({ ...row, creatorTokenHash: row.creatorTokenHash });
    },
    forward: () => {
      throw new CodedError('INTERNAL', 'a forwarded session cannot be forwarded again');
    },
  };

  // ---- the REST API's view of the deployment ----

  /** Open listed meetings of every node, newest first. */
  async listJoinable(): Promise<MeetingSummary[]> {
    return (await this.directory.openMeetings()).filter(({ row }) => row.listed !== false).map(({ row, live }) => summaryOf(row, live));
  }

  /** A meeting of any node: its record row and who is in it. */
  async meeting(meetingId: string): Promise<{ row: MeetingRow; live: LiveMeeting | undefined } | undefined> {
    const row = await this.directory.meeting(meetingId);
    if (!row) return undefined;
    return { row, live: row.state === 'open' ? await this.directory.live(meetingId) : undefined };
  }

  /** The shared record of a meeting's events, whichever nodes held it. */
  events(meetingId: string): Promise<MeetingEventRecord[]> {
    return this.directory.events(meetingId);
  }

  /**
   * Creates a meeting on the least-loaded node: here (the returned `meeting` is local), or
   * on another node, asked over the bus.
   */
  async create(title: string, topology: TopologyPreference, listed: boolean): Promise<{ id: string; creatorToken: string }> {
    const target = await this.leastLoaded();
    if (target === this.id) return this.createHere(title, topology, listed);
    const result = await this.bus.request(target, { type: 'create', title, topology, listed }, REQUEST_TIMEOUT_MS);
    if (!result.ok || !result.meetingId || !result.creatorToken) throw this.errorOf(result.code);
    return { id: result.meetingId, creatorToken: result.creatorToken };
  }

  /** Cancels a meeting of another node (the creator's credential is checked where it lives). */
  async cancel(meetingId: string, token: string | undefined): Promise<void> {
    const row = await this.directory.meeting(meetingId);
    if (!row) throw new CodedError('MEETING_NOT_FOUND');
    if (row.state !== 'open') throw new CodedError(row.state === 'cancelled' ? 'MEETING_CANCELLED' : 'MEETING_ENDED');
    const owner = await this.directory.owner(meetingId);
    if (owner !== undefined && owner !== this.id && (await this.isAlive(owner))) {
      const result = await this.bus.request(owner, { type: 'cancel', meetingId, ...(token === undefined ? {} : { token }) }, REQUEST_TIMEOUT_MS);
      if (!result.ok) throw this.errorOf(result.code);
      return;
    }
    // Nobody holds it (its node died and nobody came back yet): close the shared record here.
    if (!secretMatches(token, row.creatorTokenHash ?? '')) throw new CodedError('NOT_CREATOR');
    const at = new Date().toISOString();
    await this.write(meetingId, async () => {
      await this.directory.appendEvent(meetingId, { at, type: 'cancelled', detail: { node: this.id } });
      await this.directory.putMeeting({ ...row, state: 'cancelled', closedAt: at });
    });
  }

  // ---- RecordMirror: every write of this node's record, copied to the shared one ----

  meetingCreated(row: MeetingRow): void {
    this.write(row.id, () => this.directory.putMeeting(row));
  }

  event(meetingId: string, event: MeetingEventRecord): void {
    this.write(meetingId, () => this.directory.appendEvent(meetingId, event));
    const meeting = event.type === 'mode-switched' ? this.deps.registry.get(meetingId) : undefined;
    if (meeting) this.publishLive(meeting);
  }

  meetingClosed(meetingId: string, state: 'cancelled' | 'ended', closedAt: string): void {
    this.write(meetingId, () => this.directory.updateMeeting(meetingId, { state, closedAt }));
  }

  lockChanged(meetingId: string, locked: boolean): void {
    this.write(meetingId, () => this.directory.updateMeeting(meetingId, { locked }));
  }

  // ---- life ----

  /** Stopping on purpose (SIGTERM): nobody places anything here any more, and this node's meetings are free to be placed again. */
  async drain(): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    clearInterval(this.heartbeat);
    await this.directory.deregister(this.id).catch(() => {});
    await Promise.all(this.deps.registry.all().map((m) => this.directory.release(m.id, this.id).catch(() => {})));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.heartbeat);
    await Promise.allSettled(this.writes.values());
    this.closed = true;
    this.bus.close();
    this.redis.disconnect();
    this.subscriber.disconnect();
  }

  /** Sessions carried for, and run for, other nodes (for tests and metrics). */
  get sessions(): { forwarded: number; remote: number } {
    return { forwarded: this.forwarded.size, remote: this.remote?.size ?? 0 };
  }

  private receive(message: NodeMessage): void {
    switch (message.type) {
      case 'open':
      case 'frame':
      case 'closed':
        this.remote?.handle(message);
        return;
      case 'deliver':
      case 'end':
        this.forwarded.handle(message);
        return;
      case 'create': {
        this.createHere(message.title, message.topology, message.listed).then(
          (created) => this.bus.reply(message, { ok: true, meetingId: created.id, creatorToken: created.creatorToken }),
          (err: unknown) => this.bus.reply(message, { ok: false, code: err instanceof CodedError ? err.code : 'INTERNAL' }),
        );
        return;
      }
      case 'cancel': {
        try {
          const meeting = this.deps.registry.get(message.meetingId);
          if (!meeting) throw new CodedError('MEETING_NOT_FOUND');
          meeting.cancel(message.token);
          this.bus.reply(message, { ok: true });
        } catch (err) {
          this.bus.reply(message, { ok: false, code: err instanceof CodedError ? err.code : 'INTERNAL' });
        }
        return;
      }
      case 'result':
        return; // answered inside the bus
      default: {
        const unhandled: never = message;
        this.deps.log.warn({ message: unhandled }, 'cluster: unhandled node message');
      }
    }
  }

  private async createHere(title: string, topology: TopologyPreference, listed: boolean): Promise<{ id: string; creatorToken: string }> {
    const { meeting, creatorToken } = this.deps.registry.create(title, topology, { listed });
    await this.directory.claim(meeting.id, this.id);
    await this.writes.get(meeting.id); // the record's copy, listed everywhere before anyone has the link
    await this.announce(); // the next placement sees this meeting counted
    return { id: meeting.id, creatorToken };
  }

  /**
   * Holds `row` here (the meeting moved to this node), starting on the path it was on; none
   * when this node ended it a moment ago and Redis does not say so yet (never a zombie).
   */
  private async adoptRoute(row: MeetingRow & { creatorTokenHash: string }): Promise<MeetingRoute | undefined> {
    const held = this.deps.registry.get(row.id);
    if (held) return { kind: 'local', meeting: held };
    const live = await this.directory.live(row.id);
    // Another await may have adopted it meanwhile.
    const meeting = this.deps.registry.get(row.id);
    if (meeting) return { kind: 'local', meeting };
    const recorded = this.deps.store.meeting(row.id);
    if (recorded && recorded.state !== 'open') return undefined;
    return { kind: 'local', meeting: this.deps.registry.adopt(row, live?.mode === 'relay' ? 'relay' : live ? 'p2p' : undefined) };
  }

  /** Keeps the shared live view of a meeting held here (its mode: at each `mode-switched` event). */
  private watch(meeting: Meeting): void {
    const publish = (): void => this.publishLive(meeting);
    meeting.on('participant-joined', publish);
    meeting.on('participant-left', publish);
    publish();
  }

  private publishLive(meeting: Meeting): void {
    if (meeting.state !== 'open') return;
    const live: LiveMeeting = { participants: meeting.participants.map((p) => ({ id: p.id, name: p.name })), mode: meeting.mode };
    this.write(meeting.id, () => this.directory.setLive(meeting.id, live));
  }

  /** Queues a write behind the meeting's earlier ones; the promise settles when it is done (never rejects). */
  private write(meetingId: string, action: () => Promise<void>): Promise<void> {
    const previous = this.writes.get(meetingId) ?? Promise.resolve();
    const next = previous
      .then(action)
      .catch((err: unknown) => this.deps.log.warn({ err, meetingId }, 'cluster: writing to redis failed'))
      .finally(() => {
        if (this.writes.get(meetingId) === next) this.writes.delete(meetingId);
      });
    this.writes.set(meetingId, next);
    return next;
  }

  private loadInfo(): NodeInfo {
    const meetings = this.deps.registry.all();
    return {
      id: this.id,
      url: this.url,
      meetings: meetings.length,
      participants: meetings.reduce((sum, m) => sum + m.size, 0),
      ...this.deps.relayLoad(),
    };
  }

  private async announce(): Promise<void> {
    if (this.closed || this.stopping) return;
    await this.directory.heartbeat(this.loadInfo(), this.config.nodeTtlMs);
  }

  /** Announces this node, then lets go of sockets and sessions of nodes that are gone. */
  private async beat(): Promise<void> {
    await this.announce();
    const live = new Set((await this.directory.liveNodes()).map((n) => n.id));
    live.add(this.id);
    this.remote?.dropNodesOtherThan(live);
    const redirected = this.forwarded.redirect((nodeId) => !live.has(nodeId));
    if (redirected > 0) this.deps.log.info({ sockets: redirected }, 'cluster: a node holding meetings is gone; its people reconnect');
  }

  private isAlive(nodeId: string): Promise<boolean> {
    return this.directory.isAlive(nodeId);
  }

  /** The live node with the least expected load (this one if alone); ties go by id. */
  private async leastLoaded(): Promise<string> {
    const nodes = await this.directory.liveNodes();
    if (!nodes.some((n) => n.id === this.id)) nodes.push(this.loadInfo());
    nodes.sort((a, b) => loadScore(a) - loadScore(b) || a.id.localeCompare(b.id));
    return nodes[0]!.id;
  }

  private errorOf(code: string | undefined): CodedError {
    return new CodedError(code !== undefined && isErrorCode(code) ? code : 'INTERNAL');
  }
}
