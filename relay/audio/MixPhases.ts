/**
 * Where in the 20 ms period each mixer of a process ticks. Every mixer keeps a clock of its
 * own (TickClock), but its deadlines sit at a phase handed out here: the middle of the widest
 * gap between the phases already taken, so the mixers' ticks are spread over the period
 * instead of falling wherever their meetings happened to start.
 *
 * Why (measured in media workers with 20 meetings of three each, README "Relay audio on
 * time"): with phases set by start times, ticks (≈ 0.4 ms each) land on top of one another,
 * and the order in which colliding timers run changes with every millisecond of timer
 * jitter, so a meeting's departure wanders by the ticks that happened to come due just
 * before it (about 40% of the departures that left more than 22 ms after the previous one).
 * Running every mixer in one pass instead fixes the order, but a meeting late in the pass
 * then waits for every tick before it and for any stall during them, which was no better.
 * Spread phases keep each tick short and alone.
 *
 * A phase is never moved while its mixer runs (that would make one interval shorter or longer
 * for its listeners); a new mixer takes the middle of the widest free gap, so the spread stays
 * within twice the even one.
 */
import { FRAME_MS } from './AudioFormat';

/** Hands out tick phases (ms within the period) that keep a process's mixers apart. */
export class MixPhases {
  /** Phases in use, ascending (one entry per mixer; two mixers may share one). */
  private readonly taken: number[] = [];

  constructor(
    /** The time every phase is counted from (ms, performance.now()). */
    readonly epoch: number = performance.now(),
    private readonly periodMs: number = FRAME_MS,
  ) {}

  /** Phases in use, ascending. */
  get phases(): readonly number[] {
    return this.taken;
  }

  /** A phase in the middle of the widest gap between those taken (0 for the first). */
  take(): number {
    const taken = this.taken;
    let phase = 0;
    if (taken.length > 0) {
      let widest = 0;
      for (let i = 1; i < taken.length; i++) {
        const gap = taken[i]! - taken[i - 1]!;
        if (gap > widest) {
          widest = gap;
          phase = taken[i - 1]! + gap / 2;
        }
      }
      // The gap after the last phase wraps around to the first one.
      const last = taken[taken.length - 1]!;
      const wrap = taken[0]! + this.periodMs - last;
      if (wrap > widest) phase = (last + wrap / 2) % this.periodMs;
    }
    const at = taken.findIndex((p) => p > phase);
    taken.splice(at < 0 ? taken.length : at, 0, phase);
    return phase;
  }

  /** Gives `phase` back (one use of it). No-op if it is not taken. */
  release(phase: number): void {
    const i = this.taken.indexOf(phase);
    if (i >= 0) this.taken.splice(i, 1);
  }
}

let shared: MixPhases | null = null;

/** The process's phases: every mixer started without phases of its own takes one here. */
export function sharedMixPhases(): MixPhases {
  shared ??= new MixPhases();
  return shared;
}
