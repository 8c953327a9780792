/**
 * One fault stays one fault: callbacks at the process's boundaries (timers, sockets,
 * media events) run through `guard`, which logs what failed with its context and counts
 * it (`meetmesh_faults_total{where}` in /metrics) instead of letting one exception take
 * every meeting, TURN and HTTP down with it.
 */
import type { FastifyBaseLogger } from 'fastify';

const counts = new Map<string, number>();

/** Counts one fault at `where`. */
export function countFault(where: string): void {
  counts.set(where, (counts.get(where) ?? 0) + 1);
}

/** Faults counted so far, by where they happened (monotonic over the process's life). */
export function faultCounts(): ReadonlyMap<string, number> {
  return counts;
}

/** Runs `fn`; an exception is logged under pino's `err` key with `context`, counted, and swallowed. */
export function guard(log: Pick<FastifyBaseLogger, 'error'>, where: string, fn: () => void, context: Record<string, unknown> = {}): void {
  try {
    fn();
  } catch (err) {
    countFault(where);
    log.error({ err, where, ...context }, `${where} failed`);
  }
}

/**
 * Logs and counts `unhandledRejection` and `uncaughtException` instead of dying: the
 * failed part is already lost, the rest of the server keeps serving.
 */
export function installProcessGuards(log: Pick<FastifyBaseLogger, 'error'>): void {
  process.on('unhandledRejection', (err) => {
    countFault('unhandledRejection');
    log.error({ err }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    countFault('uncaughtException');
    log.error({ err }, 'uncaught exception');
  });
}
