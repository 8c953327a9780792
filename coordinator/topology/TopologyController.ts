/**
 * A meeting's media path as an explicit state machine, and the policy that drives it:
 * two or fewer → P2P, three or more → relay at once; back to P2P only after the meeting
 * stayed at two for `holdMs`. A switch is make-before-break: the new path is prepared
 * while the old one plays, and the switch commits only when every member reported the
 * new path carrying media (`path-ready`), or falls back when that does not happen in time.
 */
import { EventEmitter } from 'node:events';
import type { TopologyMode, TopologyPreference } from '../../protocol/rest';

export type TopologyState = 'p2p' | 'to-relay' | 'relay' | 'to-p2p';
export type Path = 'p2p' | 'relay';

const ALLOWED: Record<TopologyState, readonly TopologyState[]> = {
  p2p: ['to-relay'],
  'to-relay': ['relay'],
  relay: ['to-p2p'],
  'to-p2p': ['p2p', 'relay'],
};

/** True when the table allows moving from `from` to `to`. */
/** The path a meeting starts on: the relay when it asks for it, else P2P until it grows. */
export function startingPath(preference: TopologyPreference): Path {
  return preference === 'relay' ? 'relay' : 'p2p';
}

export function canSwitch(from: TopologyState, to: TopologyState): boolean {
  return ALLOWED[from].includes(to);
}

export interface TopologySnapshot {
  state: TopologyState;
  mode: TopologyMode;
  target: Path;
  epoch: number;
}

export interface SwitchRecord {
  from: Path;
  to: Path;
  reason: string;
  durationMs: number;
  /** False when the switch was abandoned and the meeting stayed on `from`. */
  completed: boolean;
}

export interface TopologyEvents {
  /** Every state change, for the clients. */
  change: [snapshot: TopologySnapshot, reason: string];
  /** A switch finished (committed or abandoned), for the record. */
  switched: [record: SwitchRecord];
}

export interface TopologyOptions {
  /** How long the meeting must stay at two before going back to P2P. */
  holdMs: number;
  /** How long members get to bring the new path up before the switch commits or falls back. */
  prepareTimeoutMs: number;
}

export class TopologyController extends EventEmitter<TopologyEvents> {
  private current: TopologyState;
  private epochCounter = 0;
  private members = new Set<string>();
  private readonly ready = new Set<string>();
  private switchStartedAt = 0;
  private switchReason = '';
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  private prepareTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Set once P2P failed in this meeting: it stays on the relay from then on. */
  private p2pBroken = false;
  /** Set while something needs the relay whatever the meeting's size (a recording). */
  private pinReason: string | null = null;

  constructor(
    readonly preference: TopologyPreference,
    private readonly options: TopologyOptions,
    /** Where to start: the preference's path, or (a meeting restored after a restart) the path it was on. */
    initial: Path = startingPath(preference),
  ) {
    super();
    this.current = preference === 'relay' ? 'relay' : initial;
  }

  snapshot(): TopologySnapshot {
    const s = this.current;
    return {
      state: s,
      mode: s === 'to-relay' || s === 'to-p2p' ? 'switching' : s,
      target: s === 'p2p' || s === 'to-p2p' ? 'p2p' : 'relay',
      epoch: this.epochCounter,
    };
  }

  /** The members changed (joined or left): apply the policy. */
  setMembers(ids: readonly string[]): void {
    if (this.closed) return;
    this.members = new Set(ids);
    for (const id of [...this.ready]) if (!this.members.has(id)) this.ready.delete(id);
    if (this.preference === 'relay') return;
    const n = this.members.size;
    if (this.pinReason !== null) {
      // Pinned to the relay (recording): only a switch towards P2P is given up.
      if (this.current === 'to-p2p') this.abandon(this.pinReason);
      return;
    }
    switch (this.current) {
      case 'p2p':
        if (n >= 3) this.begin('to-relay', `${n} participants`);
        break;
      case 'relay':
        if (n <= 2 && n > 0) this.armHold();
        else this.disarmHold();
        break;
      case 'to-p2p':
        if (n >= 3) this.abandon(`${n} participants`);
        else this.maybeCommit();
        break;
      case 'to-relay':
        this.maybeCommit();
        break;
    }
  }

  /**
   * Keeps the meeting on the relay whatever its size (`reason`, e.g. "recording"), or
   * releases it (null): then the usual policy applies again (back to P2P after the hold).
   */
  pinToRelay(reason: string | null): void {
    if (this.closed || this.preference === 'relay' || reason === this.pinReason) return;
    this.pinReason = reason;
    if (reason !== null) {
      this.disarmHold();
      if (this.current === 'p2p') this.begin('to-relay', reason);
      else if (this.current === 'to-p2p') this.abandon(reason);
    } else if (this.current === 'relay' && this.members.size <= 2 && this.members.size > 0) {
      this.armHold();
    }
  }

  /** A member says the path of `epoch` now carries its media. */
  pathReady(participantId: string, epoch: number): void {
    if (this.closed || epoch !== this.epochCounter || !this.members.has(participantId)) return;
    if (this.current !== 'to-relay' && this.current !== 'to-p2p') return;
    this.ready.add(participantId);
    this.maybeCommit();
  }

  /**
   * A member could not connect peer-to-peer on the path of `epoch` (no route, no TURN):
   * move to (or stay on) the relay, and do not try P2P again in this meeting.
   */
  p2pFailed(participantId: string, epoch: number): void {
    if (this.closed || epoch !== this.epochCounter || !this.members.has(participantId)) return;
    if (this.current === 'p2p' && this.members.size === 2) {
      this.p2pBroken = true;
      this.begin('to-relay', 'a direct connection failed');
    } else if (this.current === 'to-p2p') {
      this.p2pBroken = true;
      this.abandon('a direct connection failed');
    }
  }

  /** Idempotent; stops the timers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarmHold();
    this.clearPrepareTimer();
    this.removeAllListeners();
  }

  private armHold(): void {
    if (this.holdTimer || this.p2pBroken) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.current === 'relay' && this.members.size === 2) this.begin('to-p2p', `two participants for ${this.options.holdMs} ms`);
    }, this.options.holdMs);
    this.holdTimer.unref?.();
  }

  private disarmHold(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
  }

  private begin(next: 'to-relay' | 'to-p2p', reason: string): void {
    this.disarmHold();
    this.epochCounter++;
    this.ready.clear();
    this.switchStartedAt = Date.now();
    this.switchReason = reason;
    this.setState(next, reason);
    this.prepareTimer = setTimeout(() => this.onPrepareTimeout(), this.options.prepareTimeoutMs);
    this.prepareTimer.unref?.();
  }

  private maybeCommit(): void {
    if (this.current !== 'to-relay' && this.current !== 'to-p2p') return;
    if (this.members.size === 0) return;
    for (const id of this.members) if (!this.ready.has(id)) return;
    this.finish(this.current === 'to-relay' ? 'relay' : 'p2p', true, this.switchReason);
  }

  private onPrepareTimeout(): void {
    this.prepareTimer = null;
    if (this.current === 'to-relay') {
      // Three or more cannot stay on P2P: commit, and the late members join the relay
      // when they can (their clients keep retrying). The meeting is never split.
      this.finish('relay', true, `${this.switchReason}; committed after ${this.options.prepareTimeoutMs} ms without every member ready`);
    } else if (this.current === 'to-p2p') {
      this.abandon(`P2P not ready within ${this.options.prepareTimeoutMs} ms`);
    }
  }

  /** Gives up a switch to P2P: everyone stays on (or returns to) the relay. */
  private abandon(reason: string): void {
    if (this.current !== 'to-p2p') return;
    this.epochCounter++;
    this.finish('relay', false, reason);
  }

  private finish(next: Path, completed: boolean, reason: string): void {
    this.clearPrepareTimer();
    const from: Path = this.current === 'to-relay' ? 'p2p' : 'relay';
    this.setState(next, reason);
    this.emit('switched', { from, to: completed ? next : from, reason, durationMs: Date.now() - this.switchStartedAt, completed });
    if (next === 'relay' && this.members.size <= 2 && this.members.size > 0 && this.preference === 'auto' && this.pinReason === null) this.armHold();
  }

  private clearPrepareTimer(): void {
    if (this.prepareTimer) clearTimeout(this.prepareTimer);
    this.prepareTimer = null;
  }

  private setState(next: TopologyState, reason: string): void {
    if (next === this.current) return;
    if (!canSwitch(this.current, next)) throw new Error(`topology cannot go from ${this.current} to ${next}`);
    this.current = next;
    this.emit('change', this.snapshot(), reason);
  }
}
