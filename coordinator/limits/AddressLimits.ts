/**
 * The coordinator's abuse limits: meeting creations and joins per client address per
 * minute, sockets open at once per address, signaling frames per socket per second, and
 * people per meeting. Every address counts, loopback included (behind a proxy the address
 * is the one Fastify's `trustProxy` took from `X-Forwarded-For`).
 */
import { CodedError } from '../../protocol/errors';
import type { LimitsConfig } from '../config';
import { RateLimiter } from '../signaling/RateLimiter';
import { KeyedRateLimiter } from './KeyedRateLimiter';

/** Close code of a socket refused for being one too many from its address (4000–4999 are ours; 29 as in 429). */
export const TOO_MANY_SOCKETS_CLOSE_CODE = 4029;

/** How often full buckets are forgotten. */
const PRUNE_INTERVAL_MS = 60_000;

/** RATE_LIMITED with the time after which a retry can succeed (HTTP `Retry-After`). */
export class RateLimitedError extends CodedError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterMs: number) {
    super('RATE_LIMITED', message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/** What one signaling socket asks of the limits; every method is cheap and synchronous. */
export interface SessionGuard {
  /** Counts one incoming frame; a RATE_LIMITED error when the socket is over its rate. */
  frame(): CodedError | undefined;
  /** Counts one join attempt of the address; throws RATE_LIMITED over the rate. */
  joinAttempt(): void;
  /** Throws MEETING_FULL when a meeting of `size` people cannot take one more. */
  admit(size: number): void;
}

/** A guard that allows everything (sessions built without limits, e.g. in unit tests). */
export const UNLIMITED: SessionGuard = { frame: () => undefined, joinAttempt: () => {}, admit: () => {} };

export class AddressLimits {
  private readonly creates: KeyedRateLimiter;
  private readonly joins: KeyedRateLimiter;
  private readonly sockets = new Map<string, number>();
  private readonly pruneTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly config: LimitsConfig,
    /** Most addresses remembered per limiter (memory stays bounded under a flood). */
    maxAddresses = 10_000,
  ) {
    this.creates = new KeyedRateLimiter(config.createsPerMin, config.createsPerMin / 60, maxAddresses);
    this.joins = new KeyedRateLimiter(config.joinsPerMin, config.joinsPerMin / 60, maxAddresses);
    this.pruneTimer = setInterval(() => {
      this.creates.prune();
      this.joins.prune();
    }, PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  /** Addresses tracked by the per-minute limiters and the socket counts (for tests). */
  get trackedAddresses(): { creates: number; joins: number; sockets: number } {
    return { creates: this.creates.size, joins: this.joins.size, sockets: this.sockets.size };
  }

  /** Counts one meeting creation by `address`; throws RateLimitedError over the limit. */
  admitCreate(address: string): void {
    const result = this.creates.take(address);
    if (!result.ok) {
      throw new RateLimitedError(
        `Too many meetings created from your address (at most ${this.config.createsPerMin} a minute); try again shortly.`,
        result.retryAfterMs,
      );
    }
  }

  /**
   * Counts one socket opened by `address`: a function to call when it closes, or undefined
   * when the address already has as many sockets as allowed (the socket must be refused).
   */
  openSocket(address: string): (() => void) | undefined {
    const open = this.sockets.get(address) ?? 0;
    if (open >= this.config.socketsPerAddress) return undefined;
    this.sockets.set(address, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.sockets.get(address) ?? 1) - 1;
      if (left <= 0) this.sockets.delete(address);
      else this.sockets.set(address, left);
    };
  }

  /** The error a refused socket is told before it is closed. */
  tooManySockets(): CodedError {
    return new CodedError('RATE_LIMITED', `Too many connections from your address (at most ${this.config.socketsPerAddress} at once).`);
  }

  /** The guard of one signaling socket from `address`. */
  guardFor(address: string): SessionGuard {
    const { messagesPerSec, joinsPerMin, maxParticipants } = this.config;
    // Two seconds' worth of burst: a connection start (offer, a dozen ICE candidates,
    // media state) arrives at once.
    const frames = new RateLimiter(messagesPerSec * 2, messagesPerSec);
    return {
      frame: () => (frames.take()
        ? undefined
        : new CodedError('RATE_LIMITED', `Too many messages (at most ${messagesPerSec} a second); slow down.`)),
      joinAttempt: () => {
        const result = this.joins.take(address);
        if (!result.ok) {
          throw new RateLimitedError(`Too many joins from your address (at most ${joinsPerMin} a minute); try again shortly.`, result.retryAfterMs);
        }
      },
      admit: (size) => {
        if (size >= maxParticipants) throw new CodedError('MEETING_FULL', `This meeting is full (at most ${maxParticipants} people).`);
      },
    };
  }

  /** Stops the prune timer and forgets every address; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.creates.clear();
    this.joins.clear();
    this.sockets.clear();
  }
}
