/** Small helpers every benchmark uses: where the repository is, what code ran, the client built, arguments, whether it runs as a script, waiting, a watchdog. */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository's root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `codeState` in short: the commit, and whether any source folder had uncommitted changes. */
export function codeVersion(): { commit: string; dirty: boolean } {
  const { commit, uncommitted } = codeState();
  return { commit, dirty: uncommitted.length > 0 };
}

/** Whether the module at `moduleUrl` (its `import.meta.url`) is the script node was started with, not an import. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** The code measured: HEAD and the source folders with uncommitted changes (others edit while we run). */
export function codeState(): { commit: string; uncommitted: string[] } {
  const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const dirty = git(['status', '--porcelain', '--', 'client', 'coordinator', 'relay', 'protocol'])
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3));
  return { commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown', uncommitted: dirty };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the client (dist/client) when it is missing or older than client/ or protocol/. */
export function ensureClientBuilt(): void {
  const app = join(ROOT, 'dist', 'client', 'app.js');
  let builtAt = 0;
  try {
    builtAt = statSync(app).mtimeMs;
  } catch {
    // not built yet
  }
  if (builtAt > Math.max(newestMtime(join(ROOT, 'client')), newestMtime(join(ROOT, 'protocol')))) return;
  console.log('building the client (dist/client is missing or older than its sources)…');
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'build-client.ts')], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('the client build failed');
}

/** `--name value` or `--name=value` from argv, as a number. */
export function numberArg(argv: readonly string[], name: string): number | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}` && argv[i + 1] !== undefined) return Number(argv[i + 1]);
    if (a.startsWith(`--${name}=`)) return Number(a.slice(name.length + 3));
  }
  return undefined;
}
