/**
 * Does the mix leave on time when the machine is busy? One media worker process runs
 * synthetic relay meetings (real AudioMixers on their 20 ms clocks, real Opus in, everyone
 * talking: bench/workers/syntheticMeetings.ts) while `hogs` processes keep every core busy
 * (as browsers, encoders or a neighbour's build do), for each candidate way of running the
 * worker; every meeting's mix inter-departure p50/p99/max and late ticks are compared.
 *
 * Candidates: the worker at the default priority, at MEDIA_WORKER_NICE, and in real-time
 * round-robin scheduling (relay/worker/priority.ts), the last woken both ways: by Node's
 * timers (whole milliseconds) and by the wakeup thread media workers use (relay/audio/Wakeups.ts). Writes bench-results/mix-pacing.{json,md}.
 * Run: npx tsx bench/mix-pacing.ts [--meetings 40] [--hogs 3] [--seconds 10]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MEDIA_WORKER_NICE, MEDIA_WORKER_RT_PRIORITY } from '../relay/worker/priority';
import { fmt, round } from './harness/figures';
import { numberArg } from './harness/run';
import { runContext, writeResults } from './harness/results';
import type { MeetingFigures, SyntheticJob, SyntheticReport } from './workers/syntheticMeetings';

const BOOT = new URL('../relay/worker/boot.mjs', import.meta.url);
const ENTRY = new URL('./workers/syntheticMeetings.ts', import.meta.url).href;

interface Candidate { name: string; hogs: number; nice?: number; realtime?: boolean; nodeTimers?: boolean }
interface Outcome extends Candidate { departureMsP50: number; departureMsP99: number; departureMsMax: number; latePercent: number }

const meetings = numberArg(process.argv, 'meetings') ?? 40;
const hogs = numberArg(process.argv, 'hogs') ?? availableParallelism() + 1;
const seconds = numberArg(process.argv, 'seconds') ?? 10;

/** Busy-loop processes at the default priority, as many as asked. */
function startHogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

function runWorker(job: SyntheticJob): Promise<MeetingFigures[]> {
  return new Promise((resolve, reject) => {
    const worker = fork(fileURLToPath(BOOT), [ENTRY, JSON.stringify(job)], { execArgv: [], serialization: 'json' });
    worker.once('message', (m: SyntheticReport) => {
      resolve(m.figures);
      worker.kill();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the synthetic worker exited (code ${code}) before it reported`)));
  });
}

async function measure(candidate: Candidate): Promise<Outcome> {
  const running = startHogs(candidate.hogs);
  try {
    const figures = await runWorker({ meetings, size: 3, warmupMs: 1500, measureMs: seconds * 1000, ...(candidate.nice !== undefined ? { nice: candidate.nice } : {}), ...(candidate.realtime ? { realtime: true } : {}), ...(candidate.nodeTimers ? { nodeTimers: true } : {}) });
    const ticks = figures.reduce((n, f) => n + f.ticks, 0);
    const late = figures.reduce((n, f) => n + f.lateTicks, 0);
    const outcome: Outcome = {
      ...candidate,
      departureMsP50: round(Math.max(...figures.map((f) => f.departureMsP50)), 2),
      departureMsP99: round(Math.max(...figures.map((f) => f.departureMsP99)), 2),
      departureMsMax: round(Math.max(...figures.map((f) => f.departureMsMax)), 2),
      latePercent: round(ticks > 0 ? (100 * late) / ticks : 100, 2),
    };
    console.log(`${candidate.name}: departures p50 ${outcome.departureMsP50} p99 ${outcome.departureMsP99} max ${outcome.departureMsMax} ms, ${outcome.latePercent}% late`);
    return outcome;
  } finally {
    for (const h of running) h.kill();
  }
}

const candidates: Candidate[] = [
  { name: 'idle machine, default priority', hogs: 0 },
  { name: `${hogs} busy processes, default priority`, hogs },
  { name: `${hogs} busy processes, worker at nice ${MEDIA_WORKER_NICE}`, hogs, nice: MEDIA_WORKER_NICE },
  { name: `${hogs} busy processes, worker SCHED_RR ${MEDIA_WORKER_RT_PRIORITY}, woken by Node's timers`, hogs, realtime: true, nodeTimers: true },
  { name: `${hogs} busy processes, worker SCHED_RR ${MEDIA_WORKER_RT_PRIORITY}, woken by the wakeup thread (as media workers run)`, hogs, realtime: true },
];
const outcomes: Outcome[] = [];
for (const c of candidates) outcomes.push(await measure(c));
const table = [
  `| ${meetings} meetings of 3, everyone talking | worst p50 ms | worst p99 ms | worst max ms | late ticks |`,
  '| --- | ---: | ---: | ---: | ---: |',
  ...outcomes.map((o) => `| ${o.name} | ${fmt(o.departureMsP50, 1)} | ${fmt(o.departureMsP99, 1)} | ${fmt(o.departureMsMax, 1)} | ${fmt(o.latePercent, 2)} % |`),
].join('\n');
writeResults('mix-pacing', { name: 'mix-pacing', ...runContext(), meetings, hogs, seconds, outcomes }, `# Mix departures on a busy machine\n\nOne media worker process, ${meetings} synthetic meetings of 3 (everyone talking), ${seconds} s measured, inter-departure of every meeting's mix (worst meeting shown).\n\n${table}\n`);
