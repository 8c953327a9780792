/**
 * The media worker's scheduling priority. The mix must leave every 20 ms; on a machine
 * whose cores are busy with other work (browsers, other meetings' encoders, a neighbour's
 * build), a worker at the default priority waits behind them for a core, and a tick that
 * waits leaves late (bench/mix-pacing.ts measures it). A lower nice value gives the worker
 * the core first when it wakes for a tick; its own load stays small (it sleeps between
 * ticks), so it takes little from the others. Raising priority needs CAP_SYS_NICE (root, or
 * systemd's `AmbientCapabilities=CAP_SYS_NICE`); without it the worker runs as before.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The nice value media workers ask for (Linux: −20 highest .. 19 lowest; 0 is everyone's default). */
export const MEDIA_WORKER_NICE = -10;

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
