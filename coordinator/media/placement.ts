/**
 * Where a new relay meeting goes: the media worker with the least load, counting each of its
 * meetings as one plus its relay connections (a meeting's cost grows with its people);
 * event-loop utilization breaks ties, then the lower index (workers start in order).
 */

/** What placement knows of one worker. */
export interface WorkerLoadView {
  /** Meetings plus relay connections on it. */
  load: number;
  /** Event-loop utilization (0..1) over the last sampling interval. */
  utilization: number;
}

/** The index of the worker a new meeting goes to (`workers` is never empty). */
export function leastLoadedIndex(workers: readonly WorkerLoadView[]): number {
  let best = 0;
  for (let i = 1; i < workers.length; i++) {
    const d = workers[i]!.load - workers[best]!.load;
    if (d < 0 || (d === 0 && workers[i]!.utilization < workers[best]!.utilization)) best = i;
  }
  return best;
}
