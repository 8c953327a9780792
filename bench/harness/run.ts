/** Small helpers every benchmark uses: where the repository is, what code ran, waiting, rounding, a watchdog. */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The code measured: commit, and whether the server's sources had uncommitted changes. */
export function codeVersion(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'relay', 'coordinator', 'protocol'], { cwd: ROOT, encoding: 'utf8' });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Ends this process after `ms` whatever happens (benchmarks must stop by themselves). */
export function watchdog(ms: number, what: string): NodeJS.Timeout {
  const timer = setTimeout(() => {
    console.error(`${what}: still running after ${Math.round(ms / 1000)} s, giving up`);
    process.exit(2);
  }, ms);
  timer.unref();
  return timer;
}
