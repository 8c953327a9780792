/** One person in a meeting, as the coordinator sees them. */
import type { ParticipantInfo, ServerMessage } from '../../protocol/signaling';
import { RateLimiter } from '../signaling/RateLimiter';
import { LIMITS } from '../../protocol/limits';

/** How the meeting reaches a participant: their signaling socket. */
export interface ParticipantLink {
  send(message: ServerMessage): void;
  /** Ends the link (the participant was removed); idempotent. */
  close(reason: string): void;
}

export class Participant {
  audio = false;
  video = false;
  readonly joinedAt = Date.now();
  readonly chatLimiter = new RateLimiter(LIMITS.chatBurst, LIMITS.chatPerSecond);

  constructor(
    readonly id: string,
    readonly name: string,
    readonly isCreator: boolean,
    readonly link: ParticipantLink,
  ) {}

  /** The public view other participants get. */
  info(): ParticipantInfo {
    return { id: this.id, name: this.name, audio: this.audio, video: this.video, isCreator: this.isCreator };
  }

  /** Sends, never throwing: a broken socket must not stop a broadcast to the others. */
  send(message: ServerMessage): void {
    try {
      this.link.send(message);
    } catch {
      // The socket's own close handler removes the participant.
    }
  }
}
