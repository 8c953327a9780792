/**
 * One 20 ms clock for every mixer of a process: each clock tick is a *pass* that runs every
 * mixer's tick once, always in the same order (the order they started in).
 *
 * Why not a clock per mixer: measured in a media worker with 20 meetings of three (README
 * "Relay audio on time"), a third of the mix packets that left more than 22 ms after the
 * previous one did so because the meeting's timer came due while other meetings' ticks
 * (≈ 0.4 ms each) were running: twenty timers at unrelated phases collide in an order that
 * changes with every millisecond of timer jitter, so each meeting's departure wanders by the
 * ticks that happened to land before it. In one pass a meeting's departure sits at a fixed
 * offset (the ticks before it in the order), the same every 20 ms, so only what delays the
 * pass as a whole (a GC pause, the process waiting for a core) moves it.
 *
 * Work that may take milliseconds and is not urgent (a worker's figures, every 250 ms) runs
 * right after a pass (`afterNextPass`), in the slack before the next one, so it never sits
 * in front of a pass.
 *
 * The clock's catch-up and skip behaviour after a stall is TickClock's; each mixer counts the
 * passes skipped while it was in the schedule (`skippedSince`).
 */
import { FRAME_MS } from './AudioFormat';
import { TickClock, type TickClockOptions, type TickHandler } from './TickClock';

/** What the scheduler runs: one tick of one mixer. */
export interface ScheduledMix {
  /** Runs one tick due at `deadline` (ms, performance.now()); the pass started `passLateMs` after it. */
  runScheduledTick(deadline: number, passLateMs: number): void;
}

/** What drives the passes: a TickClock, or a hand-driven one in tests. */
export interface PassClock {
  readonly isRunning: boolean;
  /** Ticks given up after a stall (see TickClock). */
  readonly skipped: number;
  start(): void;
  stop(): void;
}

/** Scheduler tuning. */
export interface MixSchedulerOptions extends TickClockOptions {
  /** Makes the clock that calls `onTick` once per pass (default: a 20 ms TickClock). */
  clock?: (onTick: TickHandler) => PassClock;
}

/** Runs every registered mixer's tick in one steady pass per frame, in a fixed order. */
export class MixScheduler {
  private readonly clock: PassClock;
  /** Replaced, never changed in place: a pass runs over the order as it was when it began. */
  private mixes: readonly ScheduledMix[] = [];
  private readonly afterPass: Array<() => void> = [];
  private readonly now: () => number;

  constructor(options: MixSchedulerOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    const onTick: TickHandler = (lateMs) => this.pass(lateMs);
    this.clock = options.clock?.(onTick) ?? new TickClock(FRAME_MS, onTick, options);
  }

  /** How many mixers are in the schedule. */
  get size(): number {
    return this.mixes.length;
  }

  /** Passes given up so far after the process fell too far behind (see TickClock). */
  get skipped(): number {
    return this.clock.skipped;
  }

  /** Adds `mix` at the end of the order; the clock starts with the first. No-op if present. */
  add(mix: ScheduledMix): void {
    if (this.mixes.includes(mix)) return;
    this.mixes = [...this.mixes, mix];
    this.clock.start();
  }

  /** Takes `mix` out (the others keep their order); the clock stops with the last. No-op if absent. */
  remove(mix: ScheduledMix): void {
    if (!this.mixes.includes(mix)) return;
    this.mixes = this.mixes.filter((m) => m !== mix);
    if (this.mixes.length === 0) {
      this.clock.stop();
      this.runAfterPass();
    }
  }

  /** Runs `task` right after the next pass, or now when no pass is scheduled. */
  afterNextPass(task: () => void): void {
    if (!this.clock.isRunning) {
      task();
      return;
    }
    this.afterPass.push(task);
  }

  private pass(lateMs: number): void {
    const deadline = this.now() - lateMs;
    for (const mix of this.mixes) mix.runScheduledTick(deadline, lateMs);
    this.runAfterPass();
  }

  private runAfterPass(): void {
    if (this.afterPass.length === 0) return;
    const tasks = this.afterPass.splice(0);
    for (const task of tasks) {
      try {
        task();
      } catch (error) {
        // Surfaces as a timer callback's exception would, without stopping the clock.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

let shared: MixScheduler | null = null;

/** The process's scheduler: every mixer started without one of its own joins it. */
export function sharedMixScheduler(): MixScheduler {
  shared ??= new MixScheduler();
  return shared;
}
