/**
 * What nodes of one deployment say to each other over Redis pub/sub (each node listens on
 * its own inbox channel). A typed union, validated once where it arrives, like `/ws`.
 *
 * Signaling of a browser connected to node B for a meeting held by node A: B sends `open`,
 * then each browser frame as `frame`, and `closed` when the socket is gone; A runs the
 * session and answers with `deliver` (a frame for the browser) and `end` (close it).
 * Requests that need an answer (`create`, `cancel`) carry a `requestId` echoed by `result`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { TopologyPreference } from '../../protocol/rest';

const Id = Type.String({ minLength: 1, maxLength: 200 });

export const NodeMessage = Type.Union([
  // Edge node → owner: a browser socket's session, its frames, its end.
  Type.Object({ type: Type.Literal('open'), session: Id, from: Id }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('frame'), session: Id, data: Type.String() }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('closed'), session: Id }, { additionalProperties: false }),
  // Owner → edge node: what to send that browser, and when to close its socket.
  Type.Object({ type: Type.Literal('deliver'), session: Id, data: Type.String() }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('end'), session: Id, code: Type.Integer(), reason: Type.String() }, { additionalProperties: false }),
  // Requests to the node that places or holds a meeting, and their answer.
  Type.Object(
    { type: Type.Literal('create'), requestId: Id, from: Id, title: Type.String(), topology: TopologyPreference, listed: Type.Boolean() },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('cancel'), requestId: Id, from: Id, meetingId: Id, token: Type.Optional(Type.String()) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('result'),
      requestId: Id,
      ok: Type.Boolean(),
      /** `CodedError` code when not ok. */
      code: Type.Optional(Type.String()),
      /** `create`: the new meeting's id and creator credential. */
      meetingId: Type.Optional(Type.String()),
      creatorToken: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
]);
export type NodeMessage = Static<typeof NodeMessage>;

/** Compiled once: every signaling frame that crosses nodes is checked here. */
const check = TypeCompiler.Compile(NodeMessage);

/** Decodes one inbox message; undefined (never a throw) for anything malformed. */
export function decodeNodeMessage(raw: string): NodeMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return check.Check(value) ? value : undefined;
}
