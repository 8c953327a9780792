/**
 * The `/ws` signaling contract: every message either side sends is a member of one of the
 * two discriminated unions below (field `type`). The server validates client messages
 * once, on arrival (`coordinator/signaling/decode.ts`); nothing downstream re-checks.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LIMITS } from './limits';
import { TopologyMode, TopologyPreference } from './rest';

const Id = Type.String({ minLength: 1, maxLength: 64 });
/** Correlates a request with its reply (`ack`, `joined`, `relay-answer` or `error`). */
const RequestId = Type.Integer({ minimum: 0 });
const Sdp = Type.String({ minLength: 1, maxLength: LIMITS.messageBytesMax });
/** Every object on the wire is closed: an unknown field is a bug or a probe, never ignored. */
const Closed = { additionalProperties: false } as const;
const Priority = Type.Union([Type.Literal('very-low'), Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]);

/** `RTCIceCandidate.toJSON()` (browsers) and simple-peer's candidate object: nothing more. */
export const IceCandidate = Type.Object(
  {
    candidate: Type.String({ maxLength: 1024 }),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1024 }), Type.Null()])),
    usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type IceCandidate = Static<typeof IceCandidate>;

/**
 * The part of `RTCRtpTransceiverInit` that survives JSON: simple-peer's answering side asks
 * the offerer for a transceiver with `{kind, init}` (`init` undefined when it asks for a
 * missing one itself). `streams` holds MediaStream objects, which serialize to `{}` and
 * mean nothing to the other side, so it is not accepted.
 */
export const TransceiverInit = Type.Object(
  {
    direction: Type.Optional(Type.Union([Type.Literal('sendrecv'), Type.Literal('sendonly'), Type.Literal('recvonly'), Type.Literal('inactive')])),
    sendEncodings: Type.Optional(
      Type.Array(
        Type.Object(
          {
            rid: Type.Optional(Type.String({ maxLength: 16 })),
            active: Type.Optional(Type.Boolean()),
            maxBitrate: Type.Optional(Type.Integer({ minimum: 0 })),
            maxFramerate: Type.Optional(Type.Number({ minimum: 0 })),
            scaleResolutionDownBy: Type.Optional(Type.Number({ minimum: 1 })),
            priority: Type.Optional(Priority),
            networkPriority: Type.Optional(Priority),
          },
          Closed,
        ),
        { maxItems: 4 },
      ),
    ),
  },
  Closed,
);

/** What a peer-to-peer connection says to its peer (exactly the shapes simple-peer emits). */
export const PeerSignal = Type.Union([
  Type.Object({ type: Type.Literal('offer'), sdp: Sdp }, Closed),
  Type.Object({ type: Type.Literal('answer'), sdp: Sdp }, Closed),
  Type.Object({ type: Type.Literal('candidate'), candidate: IceCandidate }, Closed),
  Type.Object({ type: Type.Literal('renegotiate'), renegotiate: Type.Literal(true) }, Closed),
  /** Asks the offering side to start a fresh connection (the answerer's path failed or was reloaded). */
  Type.Object({ type: Type.Literal('restart') }, Closed),
  Type.Object(
    {
      type: Type.Literal('transceiverRequest'),
      transceiverRequest: Type.Object(
        {
          kind: Type.Union([Type.Literal('audio'), Type.Literal('video')]),
          init: Type.Optional(TransceiverInit),
        },
        Closed,
      ),
    },
    Closed,
  ),
]);
export type PeerSignal = Static<typeof PeerSignal>;

export const ChatMessage = Type.Object({
  /** Chosen by the sender (random); receivers drop a second copy with the same id. */
  id: Id,
  from: Id,
  name: Type.String(),
  /** ISO 8601 time the server (or, in P2P, the sender) stamped it. */
  at: Type.String(),
  text: Type.String(),
}, Closed);
export type ChatMessage = Static<typeof ChatMessage>;

/**
 * Which of a participant's two video sources a track carries: the camera, or a shared
 * screen (a second video track from the same person, shown as its own tile).
 */
export const VideoSource = Type.Union([Type.Literal('camera'), Type.Literal('screen')]);
export type VideoSource = Static<typeof VideoSource>;

/** Why a relay viewer gets the layer it gets: the best sent, what its tile needs, or what its downlink carries. */
export const LayerReason = Type.Union([Type.Literal('best'), Type.Literal('tile'), Type.Literal('bandwidth')]);
export type LayerReason = Static<typeof LayerReason>;

/**
 * One of a client's relay video slots (by `mid`): whose camera or screen it carries now and,
 * once the relay forwards it, which of the publisher's layers (`index` of `of`, its picture
 * size, and why). `paused: "bandwidth"`: the viewer's downlink does not carry even the lowest
 * layer, so the relay sends nothing for it until it does (the tile shows it is paused).
 */
export const RelaySlot = Type.Object(
  {
    mid: Type.String({ maxLength: 32 }),
    participantId: Type.Union([Id, Type.Null()]),
    source: VideoSource,
    paused: Type.Optional(Type.Literal('bandwidth')),
    /**
     * Assigned, and none of this source's pictures forwarded yet (the relay awaits its
     * keyframe): the slot's receiver may still hold the last picture of what it showed before.
     */
    waiting: Type.Optional(Type.Literal(true)),
    layer: Type.Optional(
      Type.Object(
        {
          index: Type.Integer({ minimum: 0 }),
          of: Type.Integer({ minimum: 1 }),
          width: Type.Integer({ minimum: 0 }),
          height: Type.Integer({ minimum: 0 }),
          reason: LayerReason,
        },
        Closed,
      ),
    ),
  },
  Closed,
);
export type RelaySlot = Static<typeof RelaySlot>;

/** How large a client shows one relay slot (device pixels; 0 × 0 when not shown), so the relay sends no bigger a layer. */
/**
 * The relay's view of one participant's link: as a viewer, the video the relay sends it,
 * what of it reached the viewer and how long it queued on the way (from the browser's
 * transport-wide feedback; absent from a browser that sends none), what it loses, and —
 * while its downlink limits what it gets — the budget the relay keeps its video to; as a
 * publisher, the video of it that reaches the relay and the share lost on the way (its
 * browser sets its own rate from the relay's transport-wide feedback); as a talker, how long
 * the relay's jitter buffer holds its voice before mixing it (ms, on average); and the frames
 * of its cameras' higher temporal layers the relay left out since the last report (its video
 * queued at the relay: fewer frames, not frozen ones).
 */
export const DownlinkReport = Type.Object(
  {
    estimateBps: Type.Optional(Type.Number({ minimum: 0 })),
    queueMs: Type.Optional(Type.Number({ minimum: 0 })),
    videoBps: Type.Number({ minimum: 0 }),
    lossPercent: Type.Number({ minimum: 0, maximum: 100 }),
    limitBps: Type.Optional(Type.Number({ minimum: 0 })),
    uplink: Type.Optional(Type.Object({ videoBps: Type.Number({ minimum: 0 }), lossPercent: Type.Number({ minimum: 0, maximum: 100 }) }, { additionalProperties: false })),
    voiceHeldMs: Type.Optional(Type.Number({ minimum: 0 })),
    framesLeftOut: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type DownlinkReport = Static<typeof DownlinkReport>;

export const SlotView = Type.Object(
  { mid: Type.String({ maxLength: 32 }), width: Type.Integer({ minimum: 0, maximum: 16384 }), height: Type.Integer({ minimum: 0, maximum: 16384 }) },
  Closed,
);
export type SlotView = Static<typeof SlotView>;

export const ParticipantInfo = Type.Object({
  id: Id,
  name: Type.String(),
  audio: Type.Boolean(),
  video: Type.Boolean(),
  /** Sharing a screen (its video is the second video track of their connection, or a relay slot with `source: 'screen'`). */
  screen: Type.Boolean(),
  isCreator: Type.Boolean(),
}, Closed);
export type ParticipantInfo = Static<typeof ParticipantInfo>;

export const IceServer = Type.Object({
  urls: Type.Union([Type.String(), Type.Array(Type.String())]),
  username: Type.Optional(Type.String()),
  credential: Type.Optional(Type.String()),
}, Closed);
export type IceServer = Static<typeof IceServer>;

function message<T extends string, P extends Record<string, TSchema>>(type: T, props: P) {
  return Type.Object({ type: Type.Literal(type), ...props }, Closed);
}

// ---- client → server ----

export const ClientMessage = Type.Union([
  message('join', {
    id: RequestId,
    meetingId: Id,
    name: Type.String({ minLength: 1, maxLength: LIMITS.nameMax }),
    creatorToken: Type.Optional(Type.String({ maxLength: 128 })),
    /** From an earlier `joined`: resumes that participant (same id, rights, media) within the grace. */
    resumeToken: Type.Optional(Type.String({ maxLength: 128 })),
  }),
  message('leave', {}),
  message('chat', {
    id: RequestId,
    messageId: Id,
    // The real cap is checked by the handler so the sender gets CHAT_TOO_LONG, not BAD_MESSAGE.
    text: Type.String({ minLength: 1, maxLength: LIMITS.messageBytesMax }),
  }),
  /** What this client sends now; `screen` absent means no screen is shared (older clients and scripts). */
  message('media-state', { audio: Type.Boolean(), video: Type.Boolean(), screen: Type.Optional(Type.Boolean()) }),
  /** `conn` names one peer connection (chosen by its offerer), so a restarted one ignores the old one's signals. */
  message('signal', { to: Id, conn: Id, data: PeerSignal }),
  message('relay-offer', { id: RequestId, sdp: Sdp }),
  message('relay-candidate', { candidate: IceCandidate }),
  /**
   * The size this client renders each of its relay slots at (sent when it changes).
   * `resync`: its signaling came back on a new socket, so what the relay sent it meanwhile
   * was lost: the relay sends its slot table and camera layers again.
   */
  message('relay-view', { slots: Type.Array(SlotView, { maxItems: 32 }), resync: Type.Optional(Type.Literal(true)) }),
  message('path-ready', { epoch: Type.Integer({ minimum: 0 }) }),
  /** The P2P path of `epoch` could not connect: the server moves the meeting to the relay. */
  message('path-failed', { epoch: Type.Integer({ minimum: 0 }) }),
  /** Host only: turn a participant's microphone off (they may turn it on again). */
  message('host-mute', { id: RequestId, participantId: Id }),
  /** Host only: remove a participant from the meeting (they may rejoin unless it is locked). */
  message('host-remove', { id: RequestId, participantId: Id }),
  /** Host only: start or stop recording the meeting's audio (the server's mix). */
  message('host-record', { id: RequestId, recording: Type.Boolean() }),
  /** Host only: lock (nobody new may join) or unlock the meeting. */
  message('host-lock', { id: RequestId, locked: Type.Boolean() }),
  /** A media path of this client failed and is being restarted, or is back: recorded by the server. */
  message('media-recovery', { path: Type.Union([Type.Literal('p2p'), Type.Literal('relay')]), phase: Type.Union([Type.Literal('restarting'), Type.Literal('recovered')]) }),
]);
export type ClientMessage = Static<typeof ClientMessage>;
export type ClientMessageType = ClientMessage['type'];
/** A request (a message the server replies to) as a caller writes it: the client adds the `id`. */
export type ClientRequest = Extract<ClientMessage, { id: number }> extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

// ---- server → client ----

export const ServerMessage = Type.Union([
  message('joined', {
    id: RequestId,
    self: ParticipantInfo,
    meeting: Type.Object({
      id: Id,
      title: Type.String(),
      topology: TopologyPreference,
      mode: TopologyMode,
      /** As in the `topology` message: the path being switched to, and the switch's epoch. */
      target: Type.Union([Type.Literal('p2p'), Type.Literal('relay')]),
      epoch: Type.Integer({ minimum: 0 }),
      /** Locked by a host: nobody new may join. */
      locked: Type.Boolean(),
      /** Its audio is being recorded. */
      recording: Type.Boolean(),
    }, Closed),
    participants: Type.Array(ParticipantInfo),
    iceServers: Type.Array(IceServer),
    /** Present it in the next `join` after a dropped socket or a reload to resume this participant. */
    resumeToken: Type.String(),
    /** True when this `join` resumed the same participant; false for a new one (new id). */
    resumed: Type.Boolean(),
    /** On resume: the meeting's chat since this participant joined (receivers drop ids they have). */
    chat: Type.Array(ChatMessage),
    /** The meeting's shareable link on `PUBLIC_URL`, when the server has one (else the page's own origin). */
    link: Type.Optional(Type.String({ maxLength: 2048 })),
  }),
  message('ack', { id: RequestId }),
  message('error', {
    id: Type.Optional(RequestId),
    code: Type.String(),
    message: Type.String(),
  }),
  message('participant-joined', { participant: ParticipantInfo }),
  message('participant-left', { participantId: Id }),
  message('participant-media', { participantId: Id, audio: Type.Boolean(), video: Type.Boolean(), screen: Type.Boolean() }),
  message('chat', { message: ChatMessage }),
  message('meeting-closed', {
    reason: Type.Union([Type.Literal('cancelled'), Type.Literal('ended')]),
    message: Type.String(),
  }),
  message('signal', { from: Id, conn: Id, data: PeerSignal }),
  message('topology', {
    /** The path the meeting's media takes; `switching` while moving between them. */
    mode: TopologyMode,
    /** Where a switch is heading (equal to `mode` when settled). */
    target: Type.Union([Type.Literal('p2p'), Type.Literal('relay')]),
    /** Increases with every switch; `path-ready` and relay sessions refer to it. */
    epoch: Type.Integer({ minimum: 0 }),
    /** Why the path changed, in words a person can read ("3 participants"). */
    reason: Type.Optional(Type.String()),
  }),
  message('relay-answer', { id: RequestId, sdp: Sdp }),
  message('relay-candidate', { candidate: IceCandidate }),
  /** Which participant's camera or screen each of this client's relay video slots (by `mid`) carries now. */
  message('relay-slots', { slots: Type.Array(RelaySlot) }),
  /** The relay's view of this client's downlink, about once a second (DownlinkReport). */
  message('relay-downlink', { report: DownlinkReport }),
  /**
   * Which of this client's camera layers (lowest first) someone watches: send those, pause
   * the others (nobody's tile of you is that large; none on: nobody has room to show you).
   */
  message('relay-camera-layers', { active: Type.Array(Type.Boolean(), { minItems: 1, maxItems: 4 }) }),
  message('speakers', { levels: Type.Record(Type.String(), Type.Number()) }),
  /** A host turned your microphone off. */
  message('muted-by-host', { by: Type.String() }),
  /** A host removed you from the meeting; the connection closes after this. */
  message('removed-by-host', { by: Type.String(), message: Type.String() }),
  /** The meeting's audio is being recorded (`active`), or no longer; `by` is the host who changed it. */
  message('recording', { active: Type.Boolean(), by: Type.String() }),
  /** The meeting was locked or unlocked by a host. */
  message('meeting-lock', { locked: Type.Boolean(), by: Type.String() }),
  /** The relay closed this client's connection (it failed): offer again. */
  message('relay-closed', { reason: Type.String() }),
  /** The server is about to stop (a restart or deploy): reconnect at once, and keep trying. */
  message('server-restarting', {}),
  /** Fresh ICE servers (TURN credentials), sent before the ones from `joined` expire. */
  message('ice-servers', { iceServers: Type.Array(IceServer) }),
]);
export type ServerMessage = Static<typeof ServerMessage>;
export type ServerMessageType = ServerMessage['type'];
/** The server message with the given `type`. */
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;
