/** Logging defaults for the relay when the host (the coordinator's pino) passes none. */
import type { RelayLogger } from './types';

/** Writes warnings and errors to stderr as one JSON line each; drops debug and info. */
export const stderrLogger: RelayLogger = {
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => console.error(JSON.stringify({ level: 'warn', msg, ...describe(obj) })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...describe(obj) })),
};

/** Errors do not survive JSON.stringify; keep their message and stack. */
export function describe(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...obj };
  for (const [key, value] of Object.entries(out)) {
    if (value instanceof Error) out[key] = { message: value.message, stack: value.stack };
  }
  return out;
}

/** Returns a logger that adds `bindings` to every line (pino's `child`, for any `RelayLogger`). */
export function withBindings(logger: RelayLogger, bindings: object): RelayLogger {
  return {
    debug: (obj, msg) => logger.debug({ ...bindings, ...obj }, msg),
    info: (obj, msg) => logger.info({ ...bindings, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...bindings, ...obj }, msg),
    error: (obj, msg) => logger.error({ ...bindings, ...obj }, msg),
  };
}
