/**
 * Builds the coordinator: Fastify with the REST API, the `/ws` signaling endpoint, the
 * built client, the meeting registry and the durable record. `start()` listens.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import { existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { IceServer } from '../protocol/signaling';
import { LIMITS } from '../protocol/limits';
import type { CoordinatorConfig } from './config';
import type { TurnConfig } from '../turn/iceServers';
import { IceService } from './IceService';
import { installErrorHandlers } from './http/errorHandler';
import { meetingRoutes } from './http/meetingRoutes';
import { recordingRoutes } from './http/recordingRoutes';
import { metricsRoute } from './http/metrics';
import { adminRoutes } from './http/adminRoutes';
import { NodeSampler } from './admin/NodeSampler';
import { AddressLimits } from './limits/AddressLimits';
import { IceServerRefresh } from './media/IceServerRefresh';
import { MediaPlane } from './media/MediaPlane';
import type { LogLevel } from '../relay/worker/MediaHost';
import { MeetingRegistry } from './meetings/MeetingRegistry';
import { EventStore } from './records/EventStore';
import { SessionHub, signalingPlugin } from './signaling/signalingPlugin';
import { SignalingSession, type SessionDeps } from './signaling/SignalingSession';
import type { SessionSocket } from './signaling/SessionSocket';
import { ClusterNode } from './cluster/ClusterNode';

export interface Coordinator {
  app: FastifyInstance;
  registry: MeetingRegistry;
  store: EventStore;
  media: MediaPlane;
  /** STUN/TURN, when built with `parts.turn`. */
  ice?: IceService;
  /** This node of a deployment over Redis (`REDIS_URL`). */
  cluster?: ClusterNode;
  /** The URL it listens on (set by `start`). */
  url: string;
  /** Starts the bundled TURN server alone (so a failure can be told apart); `start` does it too. */
  startTurn(): Promise<void>;
  /** Starts TURN (if not yet) and listens. */
  start(): Promise<string>;
  close(): Promise<void>;
}

export interface CoordinatorParts {
  /**
   * STUN/TURN for participants (`turnConfigFromEnv`): the coordinator builds it, starts the
   * bundled TURN server before listening and closes it with itself. The three parts below
   * are derived from it unless given.
   */
  turn?: TurnConfig;
  /** The ICE servers handed to a participant at join (STUN/TURN with fresh credentials). */
  iceServersFor?: (participantId: string) => IceServer[];
  /** Called once for each participant that left or was removed (a meeting cancelled or
   * ended, a socket dropped): e.g. to revoke the TURN credential handed out at join. */
  onParticipantGone?: (participantId: string) => void;
  /** How often each participant gets fresh ICE servers (`ice-servers`): before their TURN
   * credentials expire. Unset: never (no credentials, or they never expire). */
  iceServerRefreshMs?: number;
}

/** Where recordings go: RECORDINGS_DIR, else beside the record (a throwaway record: the temp dir). */
function recordingsDirFor(config: CoordinatorConfig): string {
  if (config.recordingsDir) return config.recordingsDir;
  return config.dbPath === ':memory:' ? join(tmpdir(), 'meetmesh-recordings') : join(dirname(config.dbPath), 'recordings');
}

/** The pino level as the media workers' filter (they only ever log debug..error). */
function workerLogLevel(level: string): LogLevel {
  if (level === 'trace' || level === 'debug') return 'debug';
  if (level === 'info' || level === 'warn' || level === 'error') return level;
  return 'error';
}

/** `<host name>-<port>`: stable across restarts; with PORT=0 (a free port) a random suffix instead, or every such node would share a name. */
function defaultNodeId(port: number): string {
  return `${hostname()}-${port === 0 ? randomUUID().slice(0, 8) : port}`;
}

/** This node's media load, as the other nodes of a deployment see it. */
function relayLoadOf(media: MediaPlane): { relayMeetings: number; relayLoad: number } {
  const { workers } = media.workerStats();
  const relayMeetings = workers.reduce((sum, w) => sum + w.meetings, 0);
  const relayLoad = workers.length === 0 ? 0 : workers.reduce((sum, w) => sum + w.utilization, 0) / workers.length;
  return { relayMeetings, relayLoad };
}

/** Creates a coordinator (not yet listening). */
export async function buildCoordinator(config: CoordinatorConfig, parts: CoordinatorParts = {}): Promise<Coordinator> {
  const app = Fastify({
    logger: { level: config.logLevel },
    // Reject wrong types instead of coercing them (a numeric title is a client bug), and
    // unknown fields instead of silently dropping them (closed schemas mean refused).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // Behind a reverse proxy the client address comes from X-Forwarded-For.
    ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
  });
  const store = new EventStore(config.dbPath);
  const registry = new MeetingRegistry(store, app.log, { departureGraceMs: config.departureGraceMs });
  const media = new MediaPlane(registry, store, app.log, {
    holdMs: config.p2pHoldMs,
    prepareTimeoutMs: config.switchTimeoutMs,
    relayHostAddresses: config.relayHostAddresses,
    recordingsDir: recordingsDirFor(config),
    recordingMaxBytes: config.recordingMaxBytes,
    workers: { workers: config.mediaWorkers, logLevel: workerLogLevel(config.logLevel), network: config.relayNetwork },
  });
  const ice = parts.turn ? new IceService(parts.turn, media, app.log) : undefined;
  const onParticipantGone = parts.onParticipantGone ?? (ice && ((id: string) => ice.revoke(id)));
  if (onParticipantGone) {
    registry.on('created', (meeting) => {
      meeting.on('participant-left', (participant) => {
        try {
          onParticipantGone(participant.id);
        } catch (err) {
          app.log.error({ err, participantId: participant.id }, 'onParticipantGone failed');
        }
      });
    });
  }

  const iceServersFor = parts.iceServersFor ?? (ice ? (id: string) => ice.iceServersFor(id) : () => []);
  const refreshMs = parts.iceServerRefreshMs ?? ice?.refreshMs;
  const iceRefresh = refreshMs !== undefined ? new IceServerRefresh(registry, iceServersFor, refreshMs, app.log) : undefined;
  const limits = new AddressLimits(config.limits);
  app.addHook('onClose', async () => limits.close());
  const cluster = config.cluster
    ? await ClusterNode.connect(
        { ...config.cluster, nodeId: config.cluster.nodeId ?? defaultNodeId(config.port) },
        { registry, store, log: app.log, relayLoad: () => relayLoadOf(media) },
      )
    : undefined;
  // After every listener of 'created' is in place: restored meetings get their media too.
  // Several nodes: the shared record has them; each is placed again when its people return.
  if (!cluster) registry.restore();

  installErrorHandlers(app);
  await app.register(fastifyWebsocket, {
    // ws would close the socket on a larger frame; we allow some headroom and answer
    // MESSAGE_TOO_LARGE ourselves for anything above the protocol's limit.
    options: { maxPayload: LIMITS.messageBytesMax * 4 },
  });
  await app.register(recordingRoutes, { store });
  await app.register(meetingRoutes, {
    registry,
    store,
    relayCounters: media,
    limits,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(cluster ? { cluster } : {}),
  });
  await app.register(metricsRoute, { registry, relayCounters: media, ...(cluster ? { nodeId: cluster.id } : {}) });
  // The operator dashboard: nothing of it exists (nor is sampled) without ADMIN_TOKEN.
  const sampler = config.adminToken ? new NodeSampler(registry, media) : undefined;
  if (config.adminToken && sampler) {
    await app.register(adminRoutes, {
      token: config.adminToken,
      sampler,
      clientDir: config.clientDir,
      secure: config.tls !== undefined,
      nodeId: cluster?.id ?? 'single',
      ...(cluster ? { nodes: () => cluster.nodes() } : {}),
    });
  }

  const hub = new SessionHub();
  const sessionDeps: SessionDeps = {
    registry,
    media,
    log: app.log,
    iceServersFor,
    ...(cluster ? { cluster } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  };
  await app.register(async (scope) => signalingPlugin(scope, {
    ...sessionDeps,
    heartbeatMs: config.heartbeatMs,
    limits,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  }, hub));
  /** The session of a browser socket held by another node, whose meeting is here. */
  const startRemoteSession = (socket: SessionSocket): void => {
    // The socket's own node counted its join and its address; here: its frame rate and the meeting's size.
    const guard = { ...limits.guardFor('another node'), joinAttempt: () => {} };
    const session = new SignalingSession(socket, { ...sessionDeps, ...(cluster ? { cluster: cluster.here } : {}) }, guard);
    hub.sessions.add(session);
    socket.onClose(() => hub.sessions.delete(session));
  };

  if (existsSync(config.clientDir)) {
    await app.register(fastifyStatic, { root: config.clientDir, prefix: '/', wildcard: false });
    app.get('/m/:id', (_request, reply) => reply.sendFile('index.html'));
  } else {
    app.log.warn({ clientDir: config.clientDir }, 'client not built: run `npm run build`');
  }

  let closed = false;
  const coordinator: Coordinator = {
    app,
    registry,
    store,
    media,
    ...(ice ? { ice } : {}),
    ...(cluster ? { cluster } : {}),
    url: '',
    async startTurn() {
      await ice?.start();
    },
    async start() {
      // TURN first, so no participant can join before its relay exists.
      await ice?.start();
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const scheme = config.tls ? 'https' : 'http';
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      coordinator.url = `${scheme}://${host}:${port}`;
      await cluster?.start(config.publicUrl ?? coordinator.url, startRemoteSession);
      return coordinator.url;
    },
    async close() {
      if (closed) return;
      closed = true;
      iceRefresh?.close();
      sampler?.close();
      // Several nodes: nothing is placed here any more, and this node's meetings are free
      // to move, before its people are told to reconnect.
      await cluster?.drain();
      // Meetings stay open in the record: a server started again on it restores them,
      // and the clients told `server-restarting` come back by themselves.
      hub.closeAll('restarting');
      registry.suspendAll();
      await app.close();
      await media.close();
      ice?.close();
      await cluster?.close();
      store.close();
    },
  };
  return coordinator;
}
