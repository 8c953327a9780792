/**
 * The relay's error catalog: every error it throws carries one of these stable codes, so the
 * coordinator can map it to its own catalog and tests can assert on it.
 */

/** Stable reason codes of `RelayError`. */
export type RelayErrorCode =
  /** The meeting relay was closed; it accepts no more calls. */
  | 'RELAY_CLOSED'
  /** The participant's connection was closed while the call was in flight. */
  | 'PARTICIPANT_CLOSED'
  /** The offer is not valid SDP or lacks the audio + camera layout the relay expects. */
  | 'INVALID_OFFER'
  /** An ICE candidate could not be parsed or matched to the offer. */
  | 'INVALID_CANDIDATE';

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
