/**
 * Keeps participants' TURN credentials fresh: every `intervalMs` (a fraction of the
 * credential TTL) each participant gets a new ICE server list over signaling
 * (`ice-servers`), so connections made or restarted late in a long meeting never present
 * an expired credential. Stops for a participant when they leave.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { IceServer } from '../../protocol/signaling';
import type { Meeting } from '../meetings/Meeting';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import type { Participant } from '../meetings/Participant';

/** Pushes fresh ICE servers to every participant on a timer. */
export class IceServerRefresh {
  readonly #timers = new Map<string, ReturnType<typeof setInterval>>();
  #closed = false;

  constructor(
    registry: MeetingRegistry,
    private readonly iceServersFor: (participantId: string) => IceServer[],
    private readonly intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`ICE server refresh interval must be positive, got ${intervalMs}`);
    registry.on('created', (meeting) => this.#watch(meeting));
  }

  /** Stops every timer; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.values()) clearInterval(timer);
    this.#timers.clear();
  }

  #watch(meeting: Meeting): void {
    meeting.on('participant-joined', (participant) => this.#start(participant));
    meeting.on('participant-left', (participant) => this.#stop(participant.id));
  }

  #start(participant: Participant): void {
    if (this.#closed) return;
    this.#stop(participant.id);
    const timer = setInterval(() => this.#push(participant), this.intervalMs);
    // The participant's socket keeps the process alive, not this.
    timer.unref();
    this.#timers.set(participant.id, timer);
  }

  #stop(participantId: string): void {
    const timer = this.#timers.get(participantId);
    if (timer === undefined) return;
    clearInterval(timer);
    this.#timers.delete(participantId);
  }

  #push(participant: Participant): void {
    try {
      participant.send({ type: 'ice-servers', iceServers: this.iceServersFor(participant.id) });
      this.log.debug({ participantId: participant.id }, 'ICE servers refreshed');
    } catch (err) {
      this.log.error({ err, participantId: participant.id }, 'ICE server refresh failed');
    }
  }
}
