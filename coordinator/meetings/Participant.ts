/** One person in a meeting, as the coordinator sees them. */
import type { ParticipantInfo, ServerMessage } from '../../protocol/signaling';
import { RateLimiter } from '../signaling/RateLimiter';
import { LIMITS } from '../../protocol/limits';
import { hashSecret, newSecret } from '../ids';

/** How the meeting reaches a participant: their signaling socket. */
export interface ParticipantLink {
  /** `serialized`: the message as JSON already, when it goes to many (serialised once). */
  send(message: ServerMessage, serialized?: string): void;
  /** Ends the link: the participant was removed, or another socket took it over; idempotent. */
  close(reason: 'cancelled' | 'ended' | 'replaced' | 'removed'): void;
}

export class Participant {
  audio = false;
  video = false;
  /** Sharing a screen (a second video source). */
  screen = false;
  readonly joinedAt = Date.now();
  readonly chatLimiter = new RateLimiter(LIMITS.chatBurst, LIMITS.chatPerSecond);
  /** Handed to this participant's browser once; presenting it resumes this participant. */
  readonly resumeToken = newSecret();
  readonly resumeTokenHash = hashSecret(this.resumeToken);
  /** Their signaling socket; null while it is gone (the departure grace). */
  link: ParticipantLink | null;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly isCreator: boolean,
    link: ParticipantLink,
  ) {
    this.link = link;
  }

  /** True while their socket is there. */
  get connected(): boolean {
    return this.link !== null;
  }

  /** The public view other participants get. */
  info(): ParticipantInfo {
    return { id: this.id, name: this.name, audio: this.audio, video: this.video, screen: this.screen, isCreator: this.isCreator };
  }

  /** Sends, never throwing: a broken socket must not stop a broadcast to the others. */
  send(message: ServerMessage, serialized?: string): void {
    try {
      this.link?.send(message, serialized);
    } catch {
      // The socket's own close handler removes the participant.
    }
  }
}
