/**
 * The connection life of one media path (P2P or relay), as one explicit state:
 *
 *   new → connecting → connected ⇄ reconnecting → … → failed | closed
 *
 * changed only through `set`, which ignores no-ops and moves the table does not allow,
 * logs `old -> new`, and emits. `failed` is final for P2P (the meeting moves to the relay);
 * the relay retries from it. A path that is replaced starts a new life.
 */
import type { MediaPath } from './MediaConnection';

export type PathLifeState = 'new' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

const TRANSITIONS: Record<PathLifeState, readonly PathLifeState[]> = {
  new: ['connecting', 'connected', 'failed', 'closed'],
  connecting: ['connected', 'failed', 'closed'],
  connected: ['reconnecting', 'failed', 'closed'],
  reconnecting: ['connected', 'failed', 'closed'],
  failed: ['reconnecting', 'connected', 'closed'],
  closed: [],
};

export class PathLife {
  private current: PathLifeState = 'new';
  /** When the current state was entered (ms, `Date.now()`). */
  since = Date.now();
  /** Whether the path was ever up: a path that worked gets longer to heal. */
  everConnected = false;
  /** Every change, with the reason given to `set`. */
  onChange: (next: PathLifeState, previous: PathLifeState, why: string) => void = () => {};

  constructor(readonly path: MediaPath) {}

  get state(): PathLifeState {
    return this.current;
  }

  /** Moves to `next` when the table allows it; returns whether the state changed. */
  set(next: PathLifeState, why: string): boolean {
    const previous = this.current;
    if (next === previous || !TRANSITIONS[previous].includes(next)) return false;
    this.current = next;
    this.since = Date.now();
    if (next === 'connected') this.everConnected = true;
    console.info(`${this.path} path ${previous} -> ${next} (${why})`);
    this.onChange(next, previous, why);
    return true;
  }
}
