/**
 * REST bodies of the coordinator's HTTP API (`/api`), as TypeBox schemas: each gives the
 * Fastify route its validator and both sides their TypeScript type.
 */
import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from './limits';

/** `auto`: P2P for two, relay for more. `relay`: always through the server. */
export const TopologyPreference = Type.Union([Type.Literal('auto'), Type.Literal('relay')]);
export type TopologyPreference = Static<typeof TopologyPreference>;

/** The media path a meeting uses right now. */
export const TopologyMode = Type.Union([
  Type.Literal('p2p'),
  Type.Literal('relay'),
  Type.Literal('switching'),
]);
export type TopologyMode = Static<typeof TopologyMode>;

export const MeetingState = Type.Union([
  Type.Literal('open'),
  Type.Literal('cancelled'),
  Type.Literal('ended'),
]);
export type MeetingState = Static<typeof MeetingState>;

export const CreateMeetingBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: LIMITS.titleMax }),
    topology: Type.Optional(TopologyPreference),
    /** `false`: not in `GET /api/meetings`, reachable by its link only (default `true`). */
    listed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateMeetingBody = Static<typeof CreateMeetingBody>;

export const CreatedMeeting = Type.Object({
  id: Type.String(),
  title: Type.String(),
  link: Type.String(),
  creatorToken: Type.String(),
  /** The link with `#host=<creatorToken>`: whoever opens it is a host of the meeting. */
  hostLink: Type.String(),
});
export type CreatedMeeting = Static<typeof CreatedMeeting>;

export const MeetingSummary = Type.Object({
  id: Type.String(),
  title: Type.String(),
  participants: Type.Integer(),
  mode: TopologyMode,
  createdAt: Type.String(),
});
export type MeetingSummary = Static<typeof MeetingSummary>;

/** What the relay did for one meeting (zeros while it never used the relay). */
export const RelayCountersBody = Type.Object(
  {
    /** RTP packets and bytes the relay sent to participants. */
    packets: Type.Integer(),
    bytes: Type.Integer(),
    /** RTP the relay received from participants. */
    packetsReceived: Type.Optional(Type.Integer()),
    bytesReceived: Type.Optional(Type.Integer()),
    /** Keyframe requests viewers sent (forwarded to the publisher, coalesced). */
    keyframeRequests: Type.Optional(Type.Integer()),
    /** Packets lost on publishers' uplinks that the relay asked for again (NACK), and those that then came. */
    packetsAskedAgain: Type.Optional(Type.Integer()),
    packetsRecovered: Type.Optional(Type.Integer()),
    /** Now: viewer slots the relay forwards into (its forwarding index), as many as the live viewers' shown cameras and screens. */
    forwardingEntries: Type.Optional(Type.Integer()),
    /** Layer changes (or pauses) of viewers' slots made by the per-viewer allocation, since the meeting began. */
    layerSwitches: Type.Optional(Type.Integer()),
    /** Frames of higher temporal layers left out for viewers whose video queued at the relay, since the meeting began. */
    framesLeftOut: Type.Optional(Type.Integer()),
    /** Now: viewers' slots paused because that viewer's downlink does not carry even the lowest layer. */
    pausedSlots: Type.Optional(Type.Integer()),
    /** Now: publishers' camera layers paused at their browsers because no viewer's tile is large enough to need them. */
    unwatchedLayers: Type.Optional(Type.Integer()),
    /** Mixer ticks (20 ms) and those that missed their deadline. */
    mixTicks: Type.Optional(Type.Integer()),
    lateTicks: Type.Optional(Type.Integer()),
    /** Frames the mixer concealed (a talker's packet missing or late) and packets that came too late to mix. */
    concealedFrames: Type.Optional(Type.Integer()),
    latePackets: Type.Optional(Type.Integer()),
    /** Mixer tick time percentiles over the recent ticks, in ms. */
    tickMsP50: Type.Optional(Type.Number()),
    tickMsP99: Type.Optional(Type.Number()),
    /** Time between consecutive mix packets leaving the relay (20 when steady), over the recent ticks, in ms. */
    departureMsP50: Type.Optional(Type.Number()),
    departureMsP99: Type.Optional(Type.Number()),
    departureMsMax: Type.Optional(Type.Number()),
    /** How long a microphone packet waits in the relay's jitter buffer before it is mixed (average, the worst participant's), in ms. */
    inputHeldMs: Type.Optional(Type.Number()),
    /** The Opus complexity of the mixes now: 9, lowered while many talkers make the mixer's ticks heavy. */
    mixComplexity: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
);
export type RelayCountersBody = Static<typeof RelayCountersBody>;

export const MeetingDetail = Type.Object({
  id: Type.String(),
  title: Type.String(),
  state: MeetingState,
  mode: TopologyMode,
  topology: TopologyPreference,
  createdAt: Type.String(),
  /** One entry per person present; in an unlisted meeting strangers get `{id: "", name: ""}`. */
  participants: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
  /** False for a meeting reachable by link only. */
  listed: Type.Boolean(),
  relay: RelayCountersBody,
});
export type MeetingDetail = Static<typeof MeetingDetail>;

export const MeetingEventType = Type.Union([
  Type.Literal('created'),
  Type.Literal('joined'),
  Type.Literal('left'),
  Type.Literal('cancelled'),
  Type.Literal('ended'),
  Type.Literal('mode-switched'),
  /** A participant's signaling socket dropped; they are kept for the departure grace. */
  Type.Literal('dropped'),
  /** A dropped participant came back within the grace (same participant, same rights). */
  Type.Literal('resumed'),
  /** A media path failed and is being restarted, or came back (`detail.path`, `detail.phase`). */
  Type.Literal('media-recovery'),
  /** Open meetings brought back after the server restarted. */
  Type.Literal('restored'),
  /** A host turned a participant's microphone off, or removed them; locked or unlocked the meeting. */
  Type.Literal('host-muted'),
  Type.Literal('host-removed'),
  Type.Literal('locked'),
  Type.Literal('unlocked'),
  /** A host started or stopped recording the meeting's mix. */
  Type.Literal('recording-started'),
  Type.Literal('recording-stopped'),
  /** A participant started or stopped sharing a screen. */
  Type.Literal('screen-share-started'),
  Type.Literal('screen-share-stopped'),
]);
export type MeetingEventType = Static<typeof MeetingEventType>;

export const MeetingEventRecord = Type.Object({
  at: Type.String(),
  type: MeetingEventType,
  participant: Type.Optional(Type.String()),
  detail: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type MeetingEventRecord = Static<typeof MeetingEventRecord>;

/** One recording of a meeting's mix, as listed to its hosts. */
export const RecordingInfo = Type.Object({
  id: Type.String(),
  startedAt: Type.String(),
  durationMs: Type.Integer(),
  bytes: Type.Integer(),
  /** `audio/ogg` (Opus), served to the host credential only. */
  url: Type.String(),
});
export type RecordingInfo = Static<typeof RecordingInfo>;

export const RecordingParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), recordingId: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export type RecordingParams = Static<typeof RecordingParams>;

export const MeetingIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type MeetingIdParams = Static<typeof MeetingIdParams>;
