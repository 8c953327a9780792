/**
 * Runs every test file (tests/**\/*.test.ts) in its own process, one after another, and
 * ends with the plain summary line CI reads: `tests: N passed, N failed, N skipped`.
 * One process per file keeps a crashed or hung file from taking the others with it.
 * A file fails when a test fails, when it prints no uvu summary (it crashed or never ran
 * its tests), or when it has not exited shortly after its summary (a leaked timer or
 * socket: `tests/helpers/exit-watch.ts` names what held it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync, readFileSync, statSync } from 'node:fs';
import WebSocket from 'ws';
import { join, relative } from 'node:path';
import { runInPrivateNetwork } from './privateNetwork';

const root = join(import.meta.dirname, '..');
const FILE_TIMEOUT_MS = 10 * 60_000;
const EXIT_GRACE_MS = Number(process.env.TEST_EXIT_GRACE_MS ?? 10_000);
/** How much longer than exit-watch's own grace the runner waits before it looks itself. */
const STUCK_EXTRA_MS = Number(process.env.TEST_STUCK_EXTRA_MS ?? 10_000);

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

/**
 * What keeps a finished file from closing, when its own exit-watch could not say: is the
 * process still alive (and busy or asleep), or has it exited while a process it started
 * still holds its output pipe open? Linux /proc only; best effort.
 */
async function diagnoseStuck(child: ChildProcess, readOutput: () => string): Promise<string> {
  const lines: string[] = [];
  const pid = child.pid;
  if (child.exitCode !== null || child.signalCode !== null) lines.push(`process ${pid} has exited (${child.signalCode ?? child.exitCode})`);
  else {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      lines.push(`process ${pid} is alive: state ${stat[0]}, user CPU ${Number(stat[11]) / 100} s, system CPU ${Number(stat[12]) / 100} s`);
    } catch {
      lines.push(`process ${pid}: no /proc entry`);
    }
  }
  // A process busy in JavaScript never runs exit-watch's timer. SIGUSR1 opens its inspector
  // (on the port `--inspect-port=0` chose) even then; pausing it says where it spins.
  if (child.exitCode === null && child.signalCode === null) {
    lines.push(await whereItSpins(child, readOutput));
    lines.push(...threadsOf(pid));
  }
  // Who else holds the pipes we read from?
  const pipes = new Set<string>();
  for (const stream of [child.stdout, child.stderr]) {
    const fd = (stream as unknown as { _handle?: { fd?: number } } | null)?._handle?.fd;
    if (fd === undefined || fd < 0) continue;
    try { pipes.add(readlinkSync(`/proc/self/fd/${fd}`)); } catch { /* closed */ }
  }
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      let holds = false;
      try {
        for (const fd of readdirSync(`/proc/${entry}/fd`)) {
          if (pipes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) holds = true;
        }
      } catch { continue; }
      if (!holds) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 160);
      lines.push(`pipe held by ${entry}: ${cmd}`);
    }
  } catch { /* no /proc */ }
  try {
    lines.push(execFileSync('ps', ['-o', 'pid,ppid,stat,pcpu,etime,args', '--ppid', String(pid)], { encoding: 'utf8' }).trim());
  } catch { /* no children */ }
  return lines.join('\n  ');
}

/**
 * Its threads (name, state, CPU) and, when gdb is there, their native stacks: a process
 * spinning in native code or in Node's own teardown has no JavaScript stack to show.
 */
function threadsOf(pid: number | undefined): string[] {
  const lines: string[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      lines.push(`thread ${tid} "${name}": state ${fields[0]}, CPU ${(Number(fields[11]) + Number(fields[12])) / 100} s`);
    }
  } catch { /* gone */ }
  try {
    // The main thread (the one gdb stops in first) in full; the others are usually idle.
    const bt = execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', 'bt 40'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] });
    lines.push('main thread:', ...bt.split('\n').filter((l) => /^#/.test(l)));
  } catch { /* no gdb */ }
  return lines;
}

/** Pauses a running process through its inspector and returns its JavaScript stack. */
async function whereItSpins(child: ChildProcess, readOutput: () => string): Promise<string> {
  child.kill('SIGUSR1');
  let url: string | undefined;
  for (let waited = 0; waited < 5000 && !url; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    url = /Debugger listening on (ws:\/\/\S+)/.exec(readOutput())?.[1];
  }
  if (!url) return 'its inspector did not open within 5 s';
  const socket = new WebSocket(url);
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pause within 5 s')), 5000);
      socket.on('open', () => {
        socket.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
        socket.send(JSON.stringify({ id: 2, method: 'Debugger.pause' }));
      });
      const scripts = new Map<string, string>();
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as {
          method?: string;
          params?: { scriptId?: string; url?: string; callFrames?: Array<{ functionName: string; url: string; location: { scriptId: string; lineNumber: number } }> };
        };
        if (message.method === 'Debugger.scriptParsed' && message.params?.scriptId) scripts.set(message.params.scriptId, message.params.url ?? '');
        if (message.method !== 'Debugger.paused') return;
        clearTimeout(timer);
        const frames = (message.params?.callFrames ?? []).slice(0, 20).map((f) => `${f.functionName || '(anonymous)'} ${f.url || scripts.get(f.location.scriptId) || '?'}:${f.location.lineNumber + 1}`);
        resolve(`JavaScript stack where it spins:\n    ${frames.join('\n    ')}`);
      });
      socket.on('error', reject);
    });
  } catch (err) {
    return `could not pause it: ${String(err)}`;
  } finally {
    socket.terminate();
  }
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
    const child = spawn(process.execPath, ['--inspect-port=0', '--import', 'tsx', '--import', './tests/helpers/exit-watch.ts', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', TEST_EXIT_GRACE_MS: String(EXIT_GRACE_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let timedOut = false;
    let stuck: string | undefined;
    let stuckTimer: NodeJS.Timeout | undefined;
    // exit-watch ends a file held by a handle; this catches what it cannot (a busy loop,
    // a pipe held open by a descendant) long before the file timeout.
    const watchSummary = (): void => {
      if (stuckTimer || !/Duration:\s/.test(output)) return;
      stuckTimer = setTimeout(async () => {
        stuck = await diagnoseStuck(child, () => output);
        process.stderr.write(`\n[run-tests] ${file} has not closed ${(EXIT_GRACE_MS + STUCK_EXTRA_MS) / 1000} s after its summary:\n  ${stuck}\n`);
        child.kill('SIGKILL');
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, EXIT_GRACE_MS + STUCK_EXTRA_MS);
    };
    child.stdout.on('data', (d: Buffer) => { output += d; process.stdout.write(d); watchSummary(); });
    child.stderr.on('data', (d: Buffer) => { output += d; process.stderr.write(d); });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(stuckTimer);
      const summary = parseSummary(output);
      // uvu counts skipped tests outside Total.
      const passed = summary?.passed ?? 0;
      const skipped = summary?.skipped ?? 0;
      let failed = summary ? Math.max(0, summary.total - passed) : 0;
      let problem: string | undefined;
      if (timedOut) problem = `did not finish within ${FILE_TIMEOUT_MS / 60_000} min and was killed`;
      else if (stuck) problem = `did not close after its summary (${stuck.split('\n')[0]})`;
      else if (output.includes('[exit-watch]')) problem = `did not exit within ${EXIT_GRACE_MS / 1000} s of its summary (see the handles it held above)`;
      else if (!summary) problem = `printed no test summary (exited with ${signal ?? `code ${code}`})`;
      else if (code !== 0 && failed === 0) problem = `exited with ${signal ?? `code ${code}`} after its tests passed`;
      if (problem && failed === 0) failed = 1;
      resolve({ passed, failed, skipped, ...(problem ? { problem } : {}) });
    });
  });
}

// In a network namespace of their own: test traffic stays on loopback (scripts/privateNetwork.ts).
await runInPrivateNetwork('tests');

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
