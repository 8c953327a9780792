/**
 * Loaded into every test process by the runner (`--import`): once uvu has printed its
 * summary the process should end by itself. If it is still alive `TEST_EXIT_GRACE_MS`
 * later, something a `close()` forgot keeps it alive: print what (timers with their
 * callback, sockets with their addresses) and exit with code 3, so the file fails with a
 * name and a reason instead of hanging the whole run.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const graceMs = Number(process.env.TEST_EXIT_GRACE_MS ?? 10_000);

/** Timers are not listed by `process._getActiveHandles()`: remember each with where it was made. */
const liveTimers = new Map<NodeJS.Timeout, string>();
const timers = createRequire(import.meta.url)('node:timers') as typeof import('node:timers');
const { setTimeout: realSetTimeout, setInterval: realSetInterval, clearTimeout: realClearTimeout, clearInterval: realClearInterval } = timers;

function creationSite(): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  Error.captureStackTrace(holder, creationSite);
  Error.stackTraceLimit = limit;
  const frames = (holder.stack ?? '').split('\n').slice(2).map((l) => l.trim().replace(/^at /, '')).filter((f) => !f.includes('exit-watch') && !f.startsWith('node:'));
  const first = frames[0] ?? '?';
  const ours = frames.find((f) => !f.includes('node_modules') && f.includes('/'));
  return ours && ours !== first ? `${first} (from ${ours})` : first;
}

function track(make: typeof realSetTimeout, repeat: boolean) {
  return function tracked(this: unknown, callback: (...a: unknown[]) => void, ...rest: unknown[]) {
    const site = creationSite();
    let timer: NodeJS.Timeout;
    const wrapped = repeat
      ? callback
      : function (this: unknown, ...a: unknown[]) {
          liveTimers.delete(timer);
          return callback.apply(this, a);
        };
    Object.defineProperty(wrapped, 'name', { value: callback.name });
    timer = (make as unknown as (...a: unknown[]) => NodeJS.Timeout)(wrapped, ...rest);
    liveTimers.set(timer, site);
    return timer;
  };
}
function untrack(clear: typeof realClearTimeout) {
  return (timer: unknown) => {
    liveTimers.delete(timer as NodeJS.Timeout);
    clear(timer as NodeJS.Timeout);
  };
}
const patched = {
  setTimeout: track(realSetTimeout, false),
  setInterval: track(realSetInterval as unknown as typeof realSetTimeout, true),
  clearTimeout: untrack(realClearTimeout),
  clearInterval: untrack(realClearInterval as typeof realClearTimeout),
};
Object.assign(globalThis, patched);
Object.assign(timers, patched);

// Promise timers (`await setTimeout(ms)` from `node:timers/promises`) are made inside Node,
// not through the functions patched above: count the pending ones with where they were made.
const pendingPromiseTimers = new Map<symbol, string>();
const promiseTimers = createRequire(import.meta.url)('node:timers/promises') as typeof import('node:timers/promises');
const realPromiseTimeout = promiseTimers.setTimeout;
promiseTimers.setTimeout = function trackedPromiseTimeout(this: unknown, ...args: Parameters<typeof realPromiseTimeout>) {
  const key = Symbol('timer');
  pendingPromiseTimers.set(key, `${args[0] ?? 0} ms, made at ${creationSite()}`);
  const promise = realPromiseTimeout.apply(this, args);
  promise.finally(() => pendingPromiseTimers.delete(key)).catch(() => {});
  return promise;
} as typeof realPromiseTimeout;
syncBuiltinESMExports();

interface HandleLike {
  constructor?: { name?: string };
  _idleTimeout?: number;
  _onTimeout?: unknown;
  _repeat?: number | null;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  address?: () => unknown;
  hasRef?: () => boolean;
}

/** One line per handle that keeps the event loop alive. */
function describeHandles(): string[] {
  const getHandles = (process as unknown as { _getActiveHandles?: () => HandleLike[] })._getActiveHandles;
  const handles = getHandles ? getHandles.call(process) : [];
  const lines: string[] = [];
  for (const h of handles) {
    if (h === process.stdout || h === process.stderr || h === process.stdin) continue;
    if (typeof h.hasRef === 'function' && !h.hasRef()) continue;
    const kind = h.constructor?.name ?? 'handle';
    if (kind === 'Timeout') continue; // listed below, with where each was made
    // A dgram socket has remoteAddress() as a method (and address()): described below.
    if (typeof h.remoteAddress === 'string' || h.localPort !== undefined) {
      lines.push(`${kind} ${h.localAddress}:${h.localPort} -> ${h.remoteAddress}:${h.remotePort}`);
    } else if (typeof h.address === 'function') {
      let where: unknown = '?';
      try {
        where = h.address();
      } catch {
        where = 'unbound';
      }
      lines.push(`${kind === 'Socket' ? 'UDP socket' : kind} ${JSON.stringify(where)}`);
    } else {
      lines.push(kind);
    }
  }
  for (const [timer, site] of liveTimers) {
    if (!timer.hasRef()) continue;
    const t = timer as unknown as HandleLike;
    const name = typeof t._onTimeout === 'function' ? (t._onTimeout as { name?: string }).name || 'anonymous' : '?';
    lines.push(`${t._repeat ? 'interval' : 'timeout'} ${t._idleTimeout} ms: ${name}, made at ${site}`);
  }
  const promiseSites = new Map<string, number>();
  for (const site of pendingPromiseTimers.values()) promiseSites.set(site, (promiseSites.get(site) ?? 0) + 1);
  for (const [site, n] of promiseSites) lines.push(`promise timer ${site}${n > 1 ? ` (×${n})` : ''}`);
  const resources = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
  lines.push(`(active resources: ${resources.join(', ') || 'none'})`);
  return lines;
}

let armed = false;
function arm(): void {
  if (armed) return;
  armed = true;
  const timer = realSetTimeout(() => {
    const lines = describeHandles();
    process.stderr.write(`\n[exit-watch] still running ${graceMs} ms after the test summary; it is held by:\n  ${lines.join('\n  ')}\n`);
    process.exit(3);
  }, graceMs);
  // Only fires when something else keeps the process alive.
  timer.unref();
}

const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
process.stdout.write = ((...args: unknown[]) => {
  const chunk = args[0];
  if (!armed && /Duration:\s/.test(typeof chunk === 'string' ? chunk : String(chunk))) arm();
  return write(...args);
}) as typeof process.stdout.write;
