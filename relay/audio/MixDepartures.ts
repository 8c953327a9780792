/**
 * When the mix leaves: the time between the departures of consecutive ticks' packets, as the
 * transport got them (the interval a listener's jitter buffer sees, before the network adds
 * its own). A steady mixer departs every 20 ms; a tick delayed by a busy event loop, a GC
 * pause or a preempted process shows as one long interval followed by short ones (catch-up).
 * Only ticks that both sent count: a silence (DTX) is not a late departure.
 */
import { TickTimings } from './TickTimings';

/** Inter-departure percentiles of one mixer's packets over its recent ticks (ms). */
export interface DepartureFigures {
  departureMsP50: number;
  departureMsP99: number;
  departureMsMax: number;
}

/** Rolling inter-departure figures of one meeting's mix. */
export class MixDepartures {
  private readonly intervals = new TickTimings();
  private lastTick = -1;
  private lastAt = 0;

  /** The packets of tick `tickIndex` left at `at` (ms, performance.now()). */
  record(tickIndex: number, at: number): void {
    if (tickIndex === this.lastTick + 1) this.intervals.record(at - this.lastAt);
    this.lastTick = tickIndex;
    this.lastAt = at;
  }

  /** p50, p99 and max of the recent intervals (0 before two consecutive departures). */
  get figures(): DepartureFigures {
    return {
      departureMsP50: this.intervals.percentile(50),
      departureMsP99: this.intervals.percentile(99),
      departureMsMax: this.intervals.percentile(100),
    };
  }
}
