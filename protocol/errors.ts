/**
 * The one catalog of error codes, shared by HTTP replies and signaling `error` messages.
 * Tests assert the code; the UI shows `message` (or its own sentence for the code).
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is not valid.' },
  BAD_MESSAGE: { status: 400, message: 'The message is not valid.' },
  MALFORMED_JSON: { status: 400, message: 'The message is not valid JSON.' },
  UNKNOWN_MESSAGE_TYPE: { status: 400, message: 'Unknown message type.' },
  MESSAGE_TOO_LARGE: { status: 413, message: 'The message is too large.' },
  CHAT_TOO_LONG: { status: 400, message: 'Chat messages are limited to 2000 characters.' },
  RATE_LIMITED: { status: 429, message: 'Too many messages; slow down.' },
  MEETING_FULL: { status: 409, message: 'This meeting is full.' },
  MEETING_LOCKED: { status: 423, message: 'The host has locked this meeting: nobody new can join.' },
  HOST_TOKEN_REQUIRED: { status: 401, message: 'This needs the host credential (Authorization: Bearer <creatorToken>).' },
  ADMIN_TOKEN_REQUIRED: { status: 401, message: 'This needs the admin token (Authorization: Bearer <ADMIN_TOKEN>, or log in at /admin).' },
  RECORDING_NOT_FOUND: { status: 404, message: 'There is no such recording.' },
  NOT_HOST: { status: 403, message: 'Only a host of the meeting can do that.' },
  FOREIGN_ORIGIN: { status: 403, message: 'Connections are accepted only from pages of this server.' },
  MEETING_NOT_FOUND: { status: 404, message: 'This meeting does not exist.' },
  MEETING_CANCELLED: { status: 410, message: 'The meeting was cancelled by its creator.' },
  MEETING_ENDED: { status: 410, message: 'The meeting has ended.' },
  NOT_CREATOR: { status: 403, message: 'Only the creator of the meeting can cancel it.' },
  NOT_JOINED: { status: 409, message: 'Join a meeting first.' },
  ALREADY_JOINED: { status: 409, message: 'This connection has already joined a meeting.' },
  NOT_IN_MEETING: { status: 403, message: 'That participant is not in your meeting.' },
  WRONG_MODE: { status: 409, message: 'The meeting is not using that media path right now.' },
  RELAY_FAILED: { status: 500, message: 'The media relay could not set up your connection.' },
  INVALID_OFFER: { status: 400, message: 'The media relay cannot use this offer (it needs a WebRTC offer with a microphone and a VP8 camera line).' },
  ROUTE_NOT_FOUND: { status: 404, message: 'There is nothing at this address.' },
  NODE_UNAVAILABLE: { status: 503, message: 'The server node holding this meeting did not answer; try again.' },
  INTERNAL: { status: 500, message: 'Something went wrong on the server.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof ERRORS;

/** The body of every HTTP error reply. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** An error carrying a catalog code; thrown inside the server and turned into replies. */
export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.name = 'CodedError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

/** True when `value` is one of the catalog's codes. */
export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERRORS, value);
}
