/**
 * Runs every test file (tests/**\/*.test.ts) in its own process, one after another, and
 * ends with the plain summary line CI reads: `tests: N passed, N failed`.
 * One process per file keeps a crashed or hung file from taking the others with it.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const FILE_TIMEOUT_MS = 10 * 60_000;

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

interface FileResult { passed: number; failed: number; output: string }

function runFile(file: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d; process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { output += d; process.stderr.write(d); });
    const timer = setTimeout(() => {
      output += `\n[run-tests] ${file} timed out after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) console.log(`[run-tests] ${relative(root, file)} exited with ${signal ?? `code ${code}`}`);
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
      // uvu counts skipped tests outside Total.
      let failed = Math.max(0, total - passed);
      // A file that crashed before or after its summary still counts as a failure.
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ passed, failed, output });
    });
  });
}

const only = process.argv.slice(2);
const files = findTests(join(root, 'tests')).filter(
  (f) => only.length === 0 || only.some((o) => f.includes(o)),
);
let passed = 0;
let failed = 0;
const failedFiles: string[] = [];
for (const file of files) {
  console.log(`\n=== ${relative(root, file)}`);
  const result = await runFile(file);
  passed += result.passed;
  failed += result.failed;
  if (result.failed > 0) failedFiles.push(relative(root, file));
}
if (failedFiles.length > 0) console.log(`\nfailed files: ${failedFiles.join(', ')}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
