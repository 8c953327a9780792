/**
 * The operator dashboard's API (`/admin/api`), as TypeBox schemas: the login body, and the
 * node's state with the history the charts draw (the server's reply schema, the client's
 * type).
 */
import { Type, type Static } from '@sinclair/typebox';
import { TopologyMode } from './rest';

const Closed = { additionalProperties: false } as const;
const Count = Type.Number({ minimum: 0 });

/** `POST /admin/api/login`: the token goes in a body, never in a URL. */
export const AdminLoginBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 512 }) }, Closed);
export type AdminLoginBody = Static<typeof AdminLoginBody>;

/** An open meeting held by this node. */
export const AdminMeeting = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    mode: TopologyMode,
    participants: Count,
    /** What the relay sends this meeting's people, bit/s over the last sample (0 on P2P). */
    relayBitrateBps: Count,
    recording: Type.Boolean(),
  },
  Closed,
);
export type AdminMeeting = Static<typeof AdminMeeting>;

/** One media worker now. */
export const AdminWorker = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    meetings: Count,
    participants: Count,
    /** Event-loop utilization, 0..1. */
    utilization: Count,
    /** CPU over the last sample, in cores (null on the main thread: it is the coordinator's). */
    cpuCores: Type.Union([Count, Type.Null()]),
    /** Resident memory of its running process (null on the main thread). */
    rssBytes: Type.Union([Count, Type.Null()]),
    /** Processes started for it (more than 1: restarted after dying). */
    starts: Count,
  },
  Closed,
);
export type AdminWorker = Static<typeof AdminWorker>;

/** A node of the deployment (several nodes over Redis), with the link to its dashboard. */
export const AdminNode = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    dashboardUrl: Type.String(),
    meetings: Count,
    participants: Count,
    relayLoad: Count,
    self: Type.Boolean(),
  },
  Closed,
);
export type AdminNode = Static<typeof AdminNode>;

/** One sample of the charts (every `sampleMs`). */
export const AdminSample = Type.Object(
  {
    /** Unix time, ms. */
    at: Count,
    p2pParticipants: Count,
    relayParticipants: Count,
    relayBitrateBps: Count,
    /** The coordinator's CPU over the sample, in cores. */
    coordinatorCpuCores: Count,
    /** Each media worker's CPU over the sample, in cores (by index; empty on the main thread). */
    workerCpuCores: Type.Array(Count),
    /** Mixer ticks that missed their deadline during the sample, every worker's. */
    lateTicks: Count,
  },
  Closed,
);
export type AdminSample = Static<typeof AdminSample>;

/** `GET /admin/api/state[?since=<ms>]`: the node now, and the samples after `since` (all of the window without it). */
export const AdminState = Type.Object(
  {
    node: Type.Object({ id: Type.String(), startedAt: Count, sampleMs: Count, windowMs: Count }, Closed),
    meetings: Type.Array(AdminMeeting),
    workers: Type.Array(AdminWorker),
    coordinator: Type.Object({ cpuCores: Count, rssBytes: Count }, Closed),
    /** Several nodes: every live one, this one included; a single node: empty. */
    nodes: Type.Array(AdminNode),
    samples: Type.Array(AdminSample),
  },
  Closed,
);
export type AdminState = Static<typeof AdminState>;
