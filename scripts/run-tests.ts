/**
 * Runs every test file (tests/**\/*.test.ts) in its own process, one after another, and
 * ends with the plain summary line CI reads: `tests: N passed, N failed, N skipped`.
 * One process per file keeps a crashed or hung file from taking the others with it.
 * A file fails when a test fails, when it prints no uvu summary (it crashed or never ran
 * its tests), or when it has not exited shortly after its summary (a leaked timer or
 * socket: `tests/helpers/exit-watch.ts` names what held it).
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const FILE_TIMEOUT_MS = 10 * 60_000;
const EXIT_GRACE_MS = Number(process.env.TEST_EXIT_GRACE_MS ?? 10_000);

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    // `fixtures/` holds deliberately broken files for the runner's own test.
    if (statSync(path).isDirectory()) {
      if (entry !== 'fixtures' || dir !== join(root, 'tests')) found.push(...findTests(path));
    }
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

interface FileResult { passed: number; failed: number; skipped: number; problem?: string }

/** The numbers of uvu's summary block, or undefined when it printed none. */
function parseSummary(output: string): { total: number; passed: number; skipped: number } | undefined {
  const total = /^\s*Total:\s+(\d+)/m.exec(output);
  const passed = /^\s*Passed:\s+(\d+)/m.exec(output);
  if (!total || !passed) return undefined;
  const skipped = /^\s*Skipped:\s+(\d+)/m.exec(output);
  return { total: Number(total[1]), passed: Number(passed[1]), skipped: Number(skipped?.[1] ?? 0) };
}

function runFile(file: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './tests/helpers/exit-watch.ts', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', TEST_EXIT_GRACE_MS: String(EXIT_GRACE_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => { output += d; process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { output += d; process.stderr.write(d); });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const summary = parseSummary(output);
      // uvu counts skipped tests outside Total.
      const passed = summary?.passed ?? 0;
      const skipped = summary?.skipped ?? 0;
      let failed = summary ? Math.max(0, summary.total - passed) : 0;
      let problem: string | undefined;
      if (timedOut) problem = `did not finish within ${FILE_TIMEOUT_MS / 60_000} min and was killed`;
      else if (output.includes('[exit-watch]')) problem = `did not exit within ${EXIT_GRACE_MS / 1000} s of its summary (see the handles it held above)`;
      else if (!summary) problem = `printed no test summary (exited with ${signal ?? `code ${code}`})`;
      else if (code !== 0 && failed === 0) problem = `exited with ${signal ?? `code ${code}`} after its tests passed`;
      if (problem && failed === 0) failed = 1;
      resolve({ passed, failed, skipped, ...(problem ? { problem } : {}) });
    });
  });
}

const only = process.argv.slice(2);
const testsDir = process.env.TESTS_DIR ? join(root, process.env.TESTS_DIR) : join(root, 'tests');
const files = findTests(testsDir).filter(
  (f) => only.length === 0 || only.some((o) => f.includes(o)),
);
let passed = 0;
let failed = 0;
let skipped = 0;
const failedFiles: string[] = [];
for (const file of files) {
  const name = relative(root, file);
  console.log(`\n=== ${name}`);
  const result = await runFile(file);
  passed += result.passed;
  failed += result.failed;
  skipped += result.skipped;
  if (result.problem) console.log(`[run-tests] ${name} ${result.problem}`);
  if (result.failed > 0) failedFiles.push(result.problem ? `${name} (${result.problem})` : name);
}
if (failedFiles.length > 0) console.log(`\nfailed files:\n  ${failedFiles.join('\n  ')}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
