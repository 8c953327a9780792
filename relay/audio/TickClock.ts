/**
 * A steady periodic clock on top of setTimeout. Each deadline is computed from the origin
 * (origin + n·period), never from the previous callback, so timer jitter does not
 * accumulate into drift. The origin is the start time, or the last `epoch + phase + k·period`
 * before it when started at a phase (MixPhases spreads mixers' ticks over the period).
 * After a stall (GC pause, busy event loop) it runs the missed ticks back to back, up to
 * `maxCatchUp`, so downstream audio stays continuous; if it fell further behind than that it
 * skips the rest and restarts the schedule from now (at the same phase).
 *
 * A tick may run up to `EARLY_MS` before its deadline. Node arms a timer from the event
 * loop's clock, which it reads once per turn and in whole milliseconds, so a timer often
 * comes due a fraction of a millisecond before the deadline it was computed for; re-armed,
 * it waits at least one more whole millisecond (a delay under 1 ms is 1 ms), so the tick
 * left 1–2 ms late. Measured with 20 clocks at spread phases in one real-time process
 * (a third of the timers came due early): the intervals' p99 21.5–21.7 ms re-arming on
 * every early timer, 21.1–21.3 ms running up to half a millisecond early (a whole
 * millisecond early makes the next interval that much longer: 21.5–21.6).
 */

/** How early (ms) a tick may run rather than wait for another turn of the timer. */
export const EARLY_MS = 0.5;

/** Called for each tick with how late (ms) it started relative to its deadline (down to −EARLY_MS: early). */
export type TickHandler = (lateMs: number) => void;

/** Clock tuning. */
export interface TickClockOptions {
  /** Most overdue ticks run back to back after a stall before the rest are skipped. */
  maxCatchUp?: number;
  /** Time source in ms (tests may inject one). */
  now?: () => number;
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
  private timer: NodeJS.Timeout | null = null;
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
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const delay = Math.max(0, this.origin + this.n * this.periodMs - this.now());
    this.timer = setTimeout(() => this.fire(), delay);
    // The clock alone should not keep a process alive; the server's sockets do that.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    let ran = 0;
    while (this.running) {
      const now = this.now();
      const late = now - (this.origin + this.n * this.periodMs);
      if (late < -EARLY_MS) break;
      if (late >= this.maxCatchUp * this.periodMs) {
        // Too far behind to catch up without a burst of stale audio: skip to now.
        const behind = Math.floor(late / this.periodMs);
        this.skipped += behind;
        this.n += behind;
      }
      if (ran >= this.maxCatchUp) break;
      this.n += 1;
      ran += 1;
      this.onTick(late);
    }
    if (this.running) this.schedule();
  }
}

/** `a` modulo `m`, in [0, m) also for negative `a`. */
function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
