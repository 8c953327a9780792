/**
 * The media worker's scheduling. The mix must leave every 20 ms; on a machine whose cores
 * are busy (browsers, a neighbour's build, other processes), a worker at the ordinary
 * priority waits behind them for a core, and a tick that waits leaves late. Measured
 * (bench/mix-pacing.ts, bench/mouth-to-ear.ts; README "Relay audio on time"): a lower nice
 * value helps against busy processes but not against a machine full of browsers; real-time
 * round-robin scheduling (SCHED_RR, as audio servers run their audio threads: PipeWire and
 * JACK through RTKit) keeps the departures steady in both.
 *
 * So a worker asks for SCHED_RR first — for its main thread and the libdatachannel threads it
 * starts, not for V8's and libuv's helper threads — and for nice −10 when that is refused. A real-time
 * process that becomes CPU-bound would take a core from everything else (the kernel leaves
 * ordinary processes only 5% of each second), so a worker whose event loop stays busy
 * (`RealtimeGuard`) drops to nice −10 for good. Both need CAP_SYS_NICE (root, or systemd's
 * `AmbientCapabilities=CAP_SYS_NICE`); without it the worker runs as before.
 * `MEDIA_WORKER_REALTIME=0` asks for nice −10 only.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The nice value media workers ask for (Linux: −20 highest .. 19 lowest; 0 is everyone's default). */
export const MEDIA_WORKER_NICE = -10;
/** The real-time round-robin priority media workers ask for (1 lowest .. 99). */
export const MEDIA_WORKER_RT_PRIORITY = 10;
/** Event-loop utilization over which a real-time worker counts as CPU-bound. */
const BUSY_UTILIZATION = 0.8;
/** Consecutive busy observations (one a second) before a real-time worker steps down. */
const BUSY_OBSERVATIONS = 5;

/**
 * Sets every thread of this process (Linux keeps a nice value per thread; threads started
 * later inherit their creator's) to `nice`. Returns the nice value the main thread has after
 * it, and the error when the system refused.
 */
export function raiseOwnPriority(nice: number = MEDIA_WORKER_NICE): { nice: number; refused?: string } {
  let refused: string | undefined;
  let threads: string[] = [];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    // Not Linux: the process's priority is one value.
  }
  for (const tid of threads.length > 0 ? threads.map(Number) : [0]) {
    try {
      setPriority(tid, nice);
    } catch (error) {
      refused ??= error instanceof Error ? error.message : String(error);
    }
  }
  return { nice: getPriority(0), ...(refused !== undefined ? { refused } : {}) };
}

/** Sets `policy` (`-r` round-robin, `-o` ordinary) at `priority` on this process's main thread, or on every thread (`chrt`); returns the error when it could not. */
function chrt(policy: '-r' | '-o', priority: number, threads: 'main' | 'all'): string | undefined {
  try {
    execFileSync('chrt', [...(threads === 'all' ? ['-a'] : []), policy, '-p', String(priority), String(process.pid)], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Puts the main thread (the mix, the sends) in SCHED_RR at `priority` (util-linux `chrt`), and
 * the threads that exist already (V8's GC and compiler helpers, libuv's pool) at nice −10;
 * returns the error when it could not. Threads the main thread starts later (libdatachannel's
 * transport and ICE threads: the packet path) inherit SCHED_RR. The helpers stay out of it:
 * with every thread real-time, 40 meetings of 3 on two workers and two cores had 1–2% of
 * ticks start over 10 ms late (the worker's main thread runnable, waiting for a core held by
 * other real-time threads); with the helpers ordinary, 0.03–0.4% (README "Relay audio on time").
 */
export function useRealtimeScheduling(priority: number = MEDIA_WORKER_RT_PRIORITY): string | undefined {
  raiseOwnPriority(MEDIA_WORKER_NICE);
  return chrt('-r', priority, 'main');
}

/** What a worker got, and why not more. */
export type WorkerScheduling = { kind: 'realtime' } | { kind: 'nice'; nice: number; why?: string } | { kind: 'default'; why: string };

/** Asks for SCHED_RR (unless `realtime` is false), else nice −10; says what it got. */
export function applyWorkerScheduling(realtime: boolean): WorkerScheduling {
  const rtRefused = realtime ? useRealtimeScheduling() : 'not asked (MEDIA_WORKER_REALTIME=0)';
  if (rtRefused === undefined) return { kind: 'realtime' };
  const niced = raiseOwnPriority(MEDIA_WORKER_NICE);
  if (niced.refused === undefined) return { kind: 'nice', nice: niced.nice, why: rtRefused };
  return { kind: 'default', why: `${rtRefused}; ${niced.refused}` };
}

/** Steps a real-time worker down to nice −10 once its event loop stays busy (it would starve the node). */
export class RealtimeGuard {
  private busy = 0;
  private active: boolean;

  constructor(
    scheduling: WorkerScheduling,
    private readonly onStepDown: (why: string) => void,
    /** Leaves real-time scheduling (tests give their own). */
    private readonly leaveRealtime: () => string | undefined = () => {
      const refused = chrt('-o', 0, 'all');
      raiseOwnPriority(MEDIA_WORKER_NICE);
      return refused;
    },
  ) {
    this.active = scheduling.kind === 'realtime';
  }

  /** One event-loop utilization reading (0..1) of the last second. */
  observe(utilization: number): void {
    if (!this.active) return;
    this.busy = utilization > BUSY_UTILIZATION ? this.busy + 1 : 0;
    if (this.busy < BUSY_OBSERVATIONS) return;
    this.active = false;
    const refused = this.leaveRealtime();
    this.onStepDown(`event loop over ${BUSY_UTILIZATION * 100}% busy for ${BUSY_OBSERVATIONS} s${refused ? ` (leaving real-time failed: ${refused})` : ''}`);
  }
}
