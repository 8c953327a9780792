/**
 * A steady periodic clock. Each deadline is computed from the origin (origin + n·period),
 * never from the previous callback, so wakeup jitter does not accumulate into drift. The
 * origin is the start time, or the last `epoch + phase + k·period` before it when started at a
 * phase (MixPhases spreads mixers' ticks over the period). What wakes it at each deadline is
 * the process's wakeup thread (Wakeups.ts: a tenth of a millisecond, where Node's timers keep
 * whole ones). After a stall (GC pause, busy event loop) it runs the missed ticks back to
 * back, up to `maxCatchUp`, so downstream audio stays continuous; if it fell further behind
 * than that it skips the rest and restarts the schedule from now (at the same phase).
 */
import { DUE_SLACK_MS, sharedWakeups, type Wakeups } from './Wakeups';

/** Called for each tick with how late (ms) it started relative to its deadline. */
export type TickHandler = (lateMs: number) => void;

/** Clock tuning. */
export interface TickClockOptions {
  /** Most overdue ticks run back to back after a stall before the rest are skipped. */
  maxCatchUp?: number;
  /** Time source in ms (tests may inject one, with wakeups that follow it). */
  now?: () => number;
  /** What wakes the clock at its deadlines (default: the process's wakeup thread). */
  wakeups?: Wakeups;
}

/** Where in the period a clock ticks: at `epoch + phaseMs + k·period` (ms, performance.now()). */
export interface TickPhase {
  epoch: number;
  phaseMs: number;
}

/** Drift-corrected interval timer with bounded catch-up. */
export class TickClock {
  /** Ticks given up after falling more than `maxCatchUp` periods behind. */
  skipped = 0;
  private readonly maxCatchUp: number;
  private readonly now: () => number;
  private readonly wakeups: Wakeups;
  private cancelWakeup: (() => void) | null = null;
  private running = false;
  private origin = 0;
  private n = 0;

  constructor(
    private readonly periodMs: number,
    private readonly onTick: TickHandler,
    options: TickClockOptions = {},
  ) {
    this.maxCatchUp = Math.max(1, options.maxCatchUp ?? 5);
    this.now = options.now ?? (() => performance.now());
    this.wakeups = options.wakeups ?? sharedWakeups();
  }

  /** Whether the clock is ticking. */
  get isRunning(): boolean {
    return this.running;
  }

  /** When the next tick is due (ms); meaningful while running. */
  get nextDeadline(): number {
    return this.origin + this.n * this.periodMs;
  }

  /**
   * Starts ticking: the first tick is one period from now, or at the first time after now that
   * is `phase` into the period. No-op when running.
   */
  start(phase?: TickPhase): void {
    if (this.running) return;
    this.running = true;
    const now = this.now();
    this.origin = phase === undefined ? now : now - mod(now - phase.epoch - phase.phaseMs, this.periodMs);
    this.n = 1;
    this.schedule();
  }

  /** Stops ticking. Idempotent. */
  stop(): void {
    this.running = false;
    this.cancelWakeup?.();
    this.cancelWakeup = null;
  }

  private schedule(): void {
    this.cancelWakeup = this.wakeups.at(this.origin + this.n * this.periodMs, () => this.fire());
  }

  private fire(): void {
    this.cancelWakeup = null;
    let ran = 0;
    while (this.running) {
      const now = this.now();
      const late = now - (this.origin + this.n * this.periodMs);
      if (late < -DUE_SLACK_MS) break;
      if (late >= this.maxCatchUp * this.periodMs) {
        // Too far behind to catch up without a burst of stale audio: skip to now.
        const behind = Math.floor(late / this.periodMs);
        this.skipped += behind;
        this.n += behind;
      }
      if (ran >= this.maxCatchUp) break;
      this.n += 1;
      ran += 1;
      this.onTick(Math.max(0, late));
    }
    if (this.running) this.schedule();
  }
}

/** `a` modulo `m`, in [0, m) also for negative `a`. */
function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
