/**
 * The one message channel between the coordinator and a media worker: everything either
 * side sends is a member of one of the two unions below (field `type`), checked once on
 * arrival (`decodeToWorker` in the worker, `decodeFromWorker` in the coordinator), as `/ws`
 * messages are. Media never crosses it: only control (offers, candidates, publish state,
 * recording) one way and events and figures the other.
 */
import { Type, type Static, type TObject, type TSchema, type TUnion } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { MixerFiguresSchema, RelayCountersSchema } from '../counters';
import { RELAY_ERROR_CODES } from '../errors';
import { DownlinkReport, RelaySlot, SlotView } from '../../protocol/signaling';

const Closed = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 64 });
const Count = Type.Number({ minimum: 0 });

const Candidate = Type.Object(
  {
    candidate: Type.String({ maxLength: 1024 }),
    sdpMid: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  },
  Closed,
);
const Publishing = Type.Object({ audio: Type.Boolean(), video: Type.Boolean(), screen: Type.Optional(Type.Boolean()) }, Closed);
const Endpoint = Type.Object({ address: Type.String(), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, Closed);

/** One meeting's figures as its worker last reported them (and its recording's, if one runs). */
export const MeetingFigures = Type.Object(
  {
    relay: RelayCountersSchema,
    mixer: MixerFiguresSchema,
    recording: Type.Optional(Type.Object({ recordingId: Id, durationMs: Count, bytes: Count }, Closed)),
  },
  Closed,
);
export type MeetingFigures = Static<typeof MeetingFigures>;

/**
 * One worker as a whole since it started: its meetings' totals (closed ones included) and
 * the gauges of its live ones (`foldGauges`), and, in a worker process, the process's own
 * CPU time and resident memory (absent on the main thread, where they are the coordinator's).
 */
export const WorkerFigures = Type.Object(
  {
    relay: RelayCountersSchema,
    mixer: MixerFiguresSchema,
    process: Type.Optional(Type.Object({ cpuSeconds: Count, rssBytes: Count }, Closed)),
  },
  Closed,
);
export type WorkerFigures = Static<typeof WorkerFigures>;

/** The relay's own options for a meeting (`RelayOptions`, minus the logger). */
const MeetingOptions = Type.Object(
  {
    hostAddresses: Type.Array(Type.String()),
    icePortRange: Type.Optional(Type.Tuple([Type.Integer(), Type.Integer()])),
    udpMuxPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    announcedAddress: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    bindAddress: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  Closed,
);

/** Why an offer failed in the worker (see relay/errors.ts). */
const OfferFailure = Type.Union([...RELAY_ERROR_CODES, 'RELAY_FAILED' as const].map((code) => Type.Literal(code)));
export type OfferFailure = Static<typeof OfferFailure>;

function message<T extends string, P extends Record<string, TSchema>>(type: T, props: P) {
  return Type.Object({ type: Type.Literal(type), ...props }, Closed);
}

/** What the coordinator tells a worker. Requests carry `requestId`; the reply echoes it. */
export const ToWorker = Type.Union([
  message('open', { meetingId: Id, options: MeetingOptions }),
  message('close', { meetingId: Id }),
  /** A participant's relay offer; a participant the relay already knows starts afresh. */
  message('offer', { meetingId: Id, requestId: Type.Integer({ minimum: 0 }), participantId: Id, sdp: Type.String({ minLength: 1 }), publishing: Publishing }),
  message('candidate', { meetingId: Id, participantId: Id, candidate: Candidate }),
  message('publishing', { meetingId: Id, participantId: Id, publishing: Publishing }),
  /** The size a participant renders each of its slots at. */
  /** `resync`: the client's signaling came back: send it the slot table and its camera layers again. */
  message('view', { meetingId: Id, participantId: Id, slots: Type.Array(SlotView, { maxItems: 32 }), resync: Type.Optional(Type.Literal(true)) }),
  message('remove-participant', { meetingId: Id, participantId: Id }),
  /** Drops a connection as a failure would (operators, and tests of the recovery). */
  message('lose-participant', { meetingId: Id, participantId: Id }),
  message('record-start', { meetingId: Id, recordingId: Id, path: Type.String({ minLength: 1 }), maxBytes: Type.Integer({ minimum: 1 }) }),
  message('record-stop', { meetingId: Id, reason: Type.String() }),
  /** Close every meeting, post their last figures, and end the thread. */
  message('shutdown', {}),
]);
export type ToWorker = Static<typeof ToWorker>;

/** What a worker tells the coordinator. */
export const FromWorker = Type.Union([
  message('answer', { requestId: Type.Integer({ minimum: 0 }), sdp: Type.String() }),
  /** An offer the relay could not answer: a `RelayError`'s code, or `RELAY_FAILED` for anything unexpected. */
  message('offer-failed', { requestId: Type.Integer({ minimum: 0 }), code: OfferFailure, message: Type.String() }),
  message('candidate', { meetingId: Id, participantId: Id, candidate: Candidate }),
  message('slots', { meetingId: Id, participantId: Id, slots: Type.Array(RelaySlot) }),
  /** The relay's view of a viewer's downlink. */
  message('downlink', { meetingId: Id, participantId: Id, report: DownlinkReport }),
  /** Which of a publisher's camera layers someone watches (the others to pause at its browser). */
  message('camera-layers', { meetingId: Id, participantId: Id, active: Type.Array(Type.Boolean(), { minItems: 1, maxItems: 4 }) }),
  /** A participant's relay connection closed; only `connection lost` was not asked for. */
  message('closed', { meetingId: Id, participantId: Id, reason: Type.Union([Type.Literal('removed'), Type.Literal('replaced'), Type.Literal('relay closed'), Type.Literal('connection lost')]) }),
  /** Audio levels (about every 200 ms), already rounded for the `speakers` message. */
  message('levels', { meetingId: Id, levels: Type.Record(Type.String(), Type.Number()) }),
  /** The UDP endpoints of the meeting's relay connections, whenever they change (TURN peer policy). */
  message('endpoints', { meetingId: Id, endpoints: Type.Array(Endpoint) }),
  /** A recording ended (asked, cap reached, disk error, meeting over), with its final figures. */
  message('recording-ended', { meetingId: Id, recordingId: Id, reason: Type.String(), durationMs: Count, bytes: Count }),
  /** Every meeting's figures, a few times a second; a closed meeting's last figures once. */
  message('figures', {
    meetings: Type.Record(Type.String(), MeetingFigures),
    /** The worker's event-loop utilization (0..1) since its previous figures (a process's is not visible from outside). */
    utilization: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** The worker as a whole (absent with a closed meeting's last figures). */
    worker: Type.Optional(WorkerFigures),
  }),
  message('log', { level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]), meetingId: Type.Optional(Id), msg: Type.String(), details: Type.Record(Type.String(), Type.Unknown()) }),
]);
export type FromWorker = Static<typeof FromWorker>;

export class ChannelError extends Error {}

function decoder<U extends TUnion<TObject[]>>(union: U, side: string) {
  const checkers = new Map<string, TypeCheck<TSchema>>(
    union.anyOf.map((schema) => [String((schema.properties['type'] as { const?: string }).const), TypeCompiler.Compile(schema)]),
  );
  return (value: unknown): Static<U> => {
    const type = (value as { type?: unknown } | null)?.type;
    const checker = typeof type === 'string' ? checkers.get(type) : undefined;
    if (!checker) throw new ChannelError(`${side}: unknown message type ${JSON.stringify(type)}`);
    if (!checker.Check(value)) {
      const first = checker.Errors(value).First();
      throw new ChannelError(`${side}: invalid "${type}" message at ${first?.path ?? '/'}: ${first?.message ?? 'wrong shape'}`);
    }
    return value as Static<U>;
  };
}

/** Validates a message arriving in a worker; throws `ChannelError`. */
export const decodeToWorker: (value: unknown) => ToWorker = decoder(ToWorker, 'to media worker');
/** Validates a message arriving from a worker; throws `ChannelError`. */
export const decodeFromWorker: (value: unknown) => FromWorker = decoder(FromWorker, 'from media worker');
