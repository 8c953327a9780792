/**
 * The relay's error catalog: every error it throws carries one of these stable codes, so the
 * coordinator can map it to its own catalog and tests can assert on it.
 */

/**
 * Stable reason codes of `RelayError`:
 * - `RELAY_CLOSED`: the meeting relay was closed; it accepts no more calls.
 * - `PARTICIPANT_CLOSED`: the participant's connection was closed while the call was in flight.
 * - `INVALID_OFFER`: the offer is not valid SDP or lacks the audio + camera layout the relay expects (the client's fault).
 * - `INVALID_CANDIDATE`: an ICE candidate could not be parsed or matched to the offer (the client's fault).
 */
export const RELAY_ERROR_CODES = ['RELAY_CLOSED', 'PARTICIPANT_CLOSED', 'INVALID_OFFER', 'INVALID_CANDIDATE'] as const;
export type RelayErrorCode = (typeof RELAY_ERROR_CODES)[number];

/** An error with a stable code, thrown (or rejected) by the relay's public methods. */
export class RelayError extends Error {
  override readonly name = 'RelayError';

  constructor(readonly code: RelayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /** The relay was closed. */
  static closed(meetingId: string): RelayError {
    return new RelayError('RELAY_CLOSED', `relay of meeting ${meetingId} is closed`);
  }

  /** The participant's peer connection closed while the call was in flight. */
  static participantClosed(participantId: string): RelayError {
    return new RelayError('PARTICIPANT_CLOSED', `connection of participant ${participantId} is closed`);
  }

  /** The offer was rejected. */
  static invalidOffer(reason: string, cause?: unknown): RelayError {
    return new RelayError('INVALID_OFFER', `invalid offer: ${reason}`, { cause });
  }

  /** The candidate was rejected. */
  static invalidCandidate(cause: unknown): RelayError {
    return new RelayError('INVALID_CANDIDATE', `invalid ICE candidate: ${String(cause)}`, { cause });
  }
}
