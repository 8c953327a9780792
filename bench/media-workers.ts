/**
 * Does the media plane scale with its workers? The same synthetic load — meetings of three,
 * everyone talking, each a real `AudioMixer` fed real Opus every 20 ms (the mixer is what a
 * relay meeting spends its CPU on when nobody's camera is on) — run in ONE worker process and
 * then spread over TWO, in the same run, adding meetings until a step fails: any meeting's
 * mixer p99 tick over 10 ms or more than 1% late ticks. The ratio of the two capacities is
 * the scaling figure (issue 10 asks ≥ 1.8×). The workers are child processes started through
 * `relay/worker/boot.mjs`, as the coordinator starts its media workers.
 *
 * No load clients: on a 2-core machine they would take the second core the second worker
 * needs, so the network side (forwarding, measured in relay-forwarding and relay-capacity)
 * is not part of this figure. Writes bench-results/media-workers.{json,md}.
 *
 * Run: npx tsx bench/media-workers.ts
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { round } from './harness/figures';
import { describeRun, runContext, writeResults } from './harness/results';
import type { MeetingFigures, SyntheticJob, SyntheticReport } from './workers/syntheticMeetings';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

// Its traffic stays on loopback, in a network namespace of its own (scripts/privateNetwork.ts).
await runInPrivateNetwork('bench/media-workers');

const STEPS = [10, 20, 40, 60, 80, 100, 120, 140, 160, 200, 240];
const SIZE = 3;
const WARMUP_MS = 1500;
const MEASURE_MS = 5000;
const P99_LIMIT_MS = 10;
/** Bisection stops when the largest size held and the smallest failed are this close. */
const BRACKET = 2;
const LATE_LIMIT = 0.01;
const BOOT = new URL('../relay/worker/boot.mjs', import.meta.url);
const ENTRY = new URL('./workers/syntheticMeetings.ts', import.meta.url).href;

interface Step { meetings: number; workers: number; worstP99Ms: number; latePercent: number; ok: boolean }

/** Runs `meetings` synthetic meetings spread over `workers` worker processes; every meeting's figures. */
function runOn(workers: number, meetings: number): Promise<MeetingFigures[]> {
  const shares = Array.from({ length: workers }, (_, w) => Math.floor(meetings / workers) + (w < meetings % workers ? 1 : 0));
  return Promise.all(shares.map((share) => new Promise<MeetingFigures[]>((resolve, reject) => {
    const job: SyntheticJob = { meetings: share, size: SIZE, warmupMs: WARMUP_MS, measureMs: MEASURE_MS };
    const worker = fork(fileURLToPath(BOOT), [ENTRY, JSON.stringify(job)], { execArgv: [], serialization: 'json' });
    worker.once('message', (m: SyntheticReport) => {
      resolve(m.figures);
      worker.kill();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a synthetic worker exited (code ${code}) before it reported`)));
  }))).then((all) => all.flat());
}

/** One size, measured; a failure is measured once more and counts only if it fails again (a preempted window is not a limit). */
async function measureStep(workers: number, meetings: number): Promise<Step> {
  let step: Step | undefined;
  for (let attempt = 0; attempt < 2 && !step?.ok; attempt++) {
    const figures = await runOn(workers, meetings);
    const ticks = figures.reduce((n, f) => n + f.ticks, 0);
    const late = figures.reduce((n, f) => n + f.lateTicks, 0);
    const worstP99Ms = Math.max(...figures.map((f) => f.tickMsP99));
    const latePercent = ticks > 0 ? (100 * late) / ticks : 100;
    const ok = worstP99Ms < P99_LIMIT_MS && latePercent < LATE_LIMIT * 100;
    step = { meetings, workers, worstP99Ms: round(worstP99Ms, 2), latePercent: round(latePercent, 2), ok };
    console.log(`  ${workers} worker(s), ${meetings} meetings of ${SIZE}: worst p99 ${worstP99Ms.toFixed(2)} ms, late ${latePercent.toFixed(2)}% ${ok ? 'ok' : 'FAIL'}`);
  }
  return step!;
}

/**
 * The most meetings `workers` hold: coarse steps up to the first failure, then bisection
 * between the last size held and the first failed until they are BRACKET apart (coarse
 * steps alone made the ratio an artefact of the step sizes: 30 of [30, 40) against 50 of [50, 60)).
 */
async function capacity(workers: number): Promise<{ held: number; failedAt: number | null; steps: Step[] }> {
  const steps: Step[] = [];
  let held = 0;
  let failedAt: number | null = null;
  for (const meetings of STEPS) {
    const step = await measureStep(workers, meetings);
    steps.push(step);
    if (!step.ok) {
      failedAt = meetings;
      break;
    }
    held = meetings;
  }
  while (failedAt !== null && failedAt - held > BRACKET) {
    const meetings = Math.round((held + failedAt) / 2);
    const step = await measureStep(workers, meetings);
    steps.push(step);
    if (step.ok) held = meetings;
    else failedAt = meetings;
  }
  return { held, failedAt, steps };
}

const one = await capacity(1);
const two = await capacity(2);
const ratio = one.held > 0 ? round(two.held / one.held, 2) : 0;
console.log(`one worker holds ${one.held} meetings of ${SIZE}, two hold ${two.held}: ${ratio}×`);

const result = {
  name: 'media-workers',
  ...runContext(),
  meetingSize: SIZE,
  limits: { p99Ms: P99_LIMIT_MS, latePercent: LATE_LIMIT * 100 },
  oneWorker: one,
  twoWorkers: two,
  ratio,
};
const rows = [...one.steps, ...two.steps].map((st) => `| ${st.workers} | ${st.meetings} | ${st.worstP99Ms} | ${st.latePercent} | ${st.ok ? 'ok' : 'fail'} |`);
writeResults('media-workers', result, [
  `# Media workers: meetings of ${SIZE} (everyone talking) held by one and by two workers`,
  '',
  `${describeRun(result)}. One worker: **${one.held}** (fails at ${one.failedAt ?? '–'}), two: **${two.held}** (fails at ${two.failedAt ?? '–'}), ratio **${ratio}×**.`,
  'Sizes in steps, then bisection between the last held and the first failed; a failed size is measured twice.',
  '',
  '| workers | meetings | worst mixer p99 ms | late ticks % | |',
  '| ---: | ---: | ---: | ---: | --- |',
  ...rows,
  '',
].join('\n'));
