/**
 * The deployment's shared state in Redis: which nodes are alive and how loaded, every
 * meeting's record row and events (the durable record, readable from any node), who is in
 * a live meeting, and which node holds it. Keys live under `meetmesh:`; every value is JSON.
 */
import type { Redis } from 'ioredis';
import type { MeetingEventRecord, TopologyMode } from '../../protocol/rest';
import type { MeetingRow } from '../records/EventStore';

/** A node as the others see it (refreshed by its heartbeat, gone when that stops). */
export interface NodeInfo {
  id: string;
  /** Where browsers and people reach it (its HTTP origin). */
  url: string;
  meetings: number;
  participants: number;
  /** Meetings on its media relay. */
  relayMeetings: number;
  /** Mean utilisation of its media workers, 0..1. */
  relayLoad: number;
}

/** Who is in a live meeting and on which path, kept by the node holding it. */
export interface LiveMeeting {
  participants: { id: string; name: string }[];
  mode: TopologyMode;
}

/** Events kept per meeting in Redis (the node's own SQLite keeps everything). */
const EVENTS_KEPT = 10_000;

const PREFIX = 'meetmesh:';
export const keys = {
  node: (id: string) => `${PREFIX}node:${id}`,
  nodes: `${PREFIX}nodes`,
  inbox: (id: string) => `${PREFIX}inbox:${id}`,
  meeting: (id: string) => `${PREFIX}meeting:${id}`,
  /** Open meetings, scored by creation time. */
  open: `${PREFIX}open`,
  live: (id: string) => `${PREFIX}live:${id}`,
  owner: (id: string) => `${PREFIX}owner:${id}`,
  events: (id: string) => `${PREFIX}events:${id}`,
};

/** Deletes KEYS[1] only while it still holds ARGV[1] (another node may have taken it). */
const DELETE_IF_EQUAL = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

export class RedisDirectory {
  constructor(private readonly redis: Redis) {}

  // ---- nodes ----

  /** Announces (or refreshes) a node; it counts as dead once `ttlMs` passes without this. */
  async heartbeat(node: NodeInfo, ttlMs: number): Promise<void> {
    await this.redis.multi().set(keys.node(node.id), JSON.stringify(node), 'PX', ttlMs).sadd(keys.nodes, node.id).exec();
  }

  /** A node leaving on purpose (drain): gone at once, not after its expiry. */
  async deregister(nodeId: string): Promise<void> {
    await this.redis.multi().del(keys.node(nodeId)).srem(keys.nodes, nodeId).exec();
  }

  /** Whether a node's heartbeat is current. */
  async isAlive(nodeId: string): Promise<boolean> {
    return (await this.redis.exists(keys.node(nodeId))) === 1;
  }

  /** Every node whose heartbeat is current; expired ones are forgotten. */
  async liveNodes(): Promise<NodeInfo[]> {
    const ids = await this.redis.smembers(keys.nodes);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map(keys.node));
    const live: NodeInfo[] = [];
    const dead: string[] = [];
    values.forEach((value, i) => (value ? live.push(JSON.parse(value) as NodeInfo) : dead.push(ids[i]!)));
    if (dead.length > 0) await this.redis.srem(keys.nodes, ...dead);
    return live;
  }

  // ---- meetings: the record ----

  async putMeeting(row: MeetingRow): Promise<void> {
    const multi = this.redis.multi().set(keys.meeting(row.id), JSON.stringify(row));
    if (row.state === 'open' && row.listed !== false) multi.zadd(keys.open, Date.parse(row.createdAt), row.id);
    if (row.state !== 'open') multi.zrem(keys.open, row.id).del(keys.live(row.id), keys.owner(row.id));
    await multi.exec();
  }

  async meeting(id: string): Promise<MeetingRow | undefined> {
    const value = await this.redis.get(keys.meeting(id));
    return value ? (JSON.parse(value) as MeetingRow) : undefined;
  }

  async updateMeeting(id: string, change: Partial<MeetingRow>): Promise<void> {
    const row = await this.meeting(id);
    if (row) await this.putMeeting({ ...row, ...change });
  }

  /** Open listed meetings, newest first, with who is in them. */
  async openMeetings(): Promise<{ row: MeetingRow; live: LiveMeeting | undefined }[]> {
    const ids = await this.redis.zrevrange(keys.open, 0, -1);
    if (ids.length === 0) return [];
    const [rows, lives] = await Promise.all([this.redis.mget(ids.map(keys.meeting)), this.redis.mget(ids.map(keys.live))]);
    const result: { row: MeetingRow; live: LiveMeeting | undefined }[] = [];
    rows.forEach((value, i) => {
      if (!value) return;
      const row = JSON.parse(value) as MeetingRow;
      if (row.state !== 'open') return;
      const live = lives[i];
      result.push({ row, live: live ? (JSON.parse(live) as LiveMeeting) : undefined });
    });
    return result;
  }

  async appendEvent(meetingId: string, event: MeetingEventRecord): Promise<void> {
    await this.redis.multi().rpush(keys.events(meetingId), JSON.stringify(event)).ltrim(keys.events(meetingId), -EVENTS_KEPT, -1).exec();
  }

  async events(meetingId: string): Promise<MeetingEventRecord[]> {
    return (await this.redis.lrange(keys.events(meetingId), 0, -1)).map((e) => JSON.parse(e) as MeetingEventRecord);
  }

  // ---- live meetings ----

  async setLive(meetingId: string, live: LiveMeeting): Promise<void> {
    await this.redis.set(keys.live(meetingId), JSON.stringify(live));
  }

  async live(meetingId: string): Promise<LiveMeeting | undefined> {
    const value = await this.redis.get(keys.live(meetingId));
    return value ? (JSON.parse(value) as LiveMeeting) : undefined;
  }

  // ---- placement ----

  async owner(meetingId: string): Promise<string | undefined> {
    return (await this.redis.get(keys.owner(meetingId))) ?? undefined;
  }

  /** Places the meeting on `nodeId` unless someone placed it first; says whether this call did. */
  async claim(meetingId: string, nodeId: string): Promise<boolean> {
    return (await this.redis.set(keys.owner(meetingId), nodeId, 'NX')) === 'OK';
  }

  /** Forgets a placement on `nodeId` (dead or draining), unless the meeting moved on already. */
  async release(meetingId: string, nodeId: string): Promise<void> {
    await this.redis.eval(DELETE_IF_EQUAL, 1, keys.owner(meetingId), nodeId);
  }
}
