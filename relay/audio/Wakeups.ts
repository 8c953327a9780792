/**
 * Wakes the event loop on a periodic schedule to a tenth of a millisecond, where Node's timers
 * keep whole milliseconds. A timer fires on the loop's clock, which Node reads once per turn
 * in whole milliseconds, and its wait is rounded to whole milliseconds too; so a mixer tick
 * whose deadline sits at a fraction of a millisecond started anywhere from a millisecond
 * early to more than one late, differently from one period to the next. Under 40 meetings of
 * 3 on two cores (`npm run load`) the intervals between a mix's departures spread over
 * 17.5–22.5 ms, and 2.4–3.3% of them were over 22 ms, most by less than a millisecond: the
 * main reason the departures' p99 was over 22 ms. Woken by this thread, 94% of the intervals
 * fall within half a millisecond of 20 ms and 0.3–0.75% are over 22 (README "Relay audio on
 * time").
 *
 * So one small thread per process does the waiting: it knows every schedule (a start and a
 * period, in shared memory), sleeps on a futex (`Atomics.wait`, which takes a fractional
 * timeout) until the next deadline of any of them, then posts a message, which wakes the main
 * thread's event loop at once. The main thread tells it only when a schedule starts or stops,
 * so a deadline costs one wake of each thread. The mix itself stays on the main thread:
 * node-datachannel serves one JavaScript thread, and the mix is sent from there.
 * The thread starts with the first schedule, from the main thread: a media worker has already
 * set its scheduling by then (relay/worker/priority.ts), so the thread inherits the main
 * thread's real-time priority, as audio servers' timer threads have it.
 */
import { Worker } from 'node:worker_threads';

/** Calls back periodically: at `firstMs`, then every `periodMs` (ms, `performance.now()`); returns a stop function. */
export interface Wakeups {
  every(firstMs: number, periodMs: number, wake: () => void): () => void;
}

/** A wakeup this close before a deadline (ms) is the deadline: the two clocks' rounding. */
export const DUE_SLACK_MS = 0.01;

/**
 * Wakeups from Node's timers, whole milliseconds: what mixers used before the thread
 * (bench/mix-pacing.ts compares the two), and what tests with a clock of their own use (`now`).
 */
export function timerWakeups(now: () => number = () => performance.now()): Wakeups {
  return {
    every(firstMs, periodMs, wake) {
      let next = firstMs;
      let timer: NodeJS.Timeout;
      const arm = () => {
        timer = setTimeout(() => {
          const at = now() + DUE_SLACK_MS;
          if (next <= at) {
            next += periodMs * (Math.floor((at - next) / periodMs) + 1);
            wake();
          }
          arm();
        }, Math.max(0, next - now()));
        // A clock alone should not keep a process alive; the server's sockets do that.
        timer.unref();
      };
      arm();
      return () => clearTimeout(timer);
    },
  };
}

/** Schedules the thread can hold at once (a media worker runs one per meeting). */
const MAX_SCHEDULES = 1024;

/**
 * The thread. Shared memory: [generation, slots in use] (Int32), then per slot its first
 * deadline (µs of `process.hrtime`; −1 for a free slot) and period (µs). It posts once per
 * deadline, the earliest of all schedules after the last one it posted for.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const control = new Int32Array(workerData, 0, 2);
const slots = new BigInt64Array(workerData, 8);
let last = process.hrtime.bigint() / 1000n;
for (;;) {
  const generation = Atomics.load(control, 0);
  const used = Atomics.load(control, 1);
  let next = -1n;
  for (let i = 0; i < used; i++) {
    const first = Atomics.load(slots, 2 * i);
    if (first < 0n) continue;
    const period = Atomics.load(slots, 2 * i + 1);
    const at = first > last ? first : first + ((last - first) / period + 1n) * period;
    if (next < 0n || at < next) next = at;
  }
  if (next < 0n) { Atomics.wait(control, 0, generation); continue; }
  const waitMs = Number(next - process.hrtime.bigint() / 1000n) / 1000;
  if (waitMs > 0) { Atomics.wait(control, 0, generation, waitMs); continue; }
  last = next;
  parentPort.postMessage(0);
}
`;

interface Schedule {
  slot: number;
  next: number;
  readonly periodMs: number;
  readonly wake: () => void;
}

/** Periodic deadlines of this process, served by one wakeup thread. */
export class ThreadWakeups implements Wakeups {
  private readonly shared = new SharedArrayBuffer(8 + 16 * MAX_SCHEDULES);
  private readonly control = new Int32Array(this.shared, 0, 2);
  private readonly slots = new BigInt64Array(this.shared, 8, 2 * MAX_SCHEDULES);
  /** `process.hrtime` minus `performance.now()`, in µs: both read the same monotonic clock. */
  private readonly hrtimeOffsetUs = process.hrtime.bigint() / 1000n - BigInt(Math.round(performance.now() * 1000));
  private readonly schedules = new Set<Schedule>();
  private readonly freeSlots: number[] = [];
  private thread: Worker | null = null;

  every(firstMs: number, periodMs: number, wake: () => void): () => void {
    const slot = this.freeSlots.pop() ?? this.control[1]!;
    if (slot >= MAX_SCHEDULES) throw new Error(`more than ${MAX_SCHEDULES} periodic wakeups in one process`);
    const schedule: Schedule = { slot, next: firstMs, periodMs, wake };
    this.schedules.add(schedule);
    this.thread ??= this.startThread();
    Atomics.store(this.slots, 2 * slot + 1, BigInt(Math.round(periodMs * 1000)));
    Atomics.store(this.slots, 2 * slot, BigInt(Math.round(firstMs * 1000)) + this.hrtimeOffsetUs);
    if (slot === this.control[1]) Atomics.store(this.control, 1, slot + 1);
    this.changed();
    return () => {
      if (!this.schedules.delete(schedule)) return;
      Atomics.store(this.slots, 2 * slot, -1n);
      this.freeSlots.push(slot);
      this.changed();
    };
  }

  /** Tells the thread its schedules changed. */
  private changed(): void {
    Atomics.add(this.control, 0, 1);
    Atomics.notify(this.control, 0);
  }

  /** Wakes every schedule whose deadline has come (a late wake may serve several). */
  private onWake(): void {
    const now = performance.now() + DUE_SLACK_MS;
    for (const s of this.schedules) {
      if (s.next > now) continue;
      s.next += s.periodMs * (Math.floor((now - s.next) / s.periodMs) + 1);
      s.wake();
    }
  }

  private startThread(): Worker {
    const thread = new Worker(THREAD_SOURCE, { eval: true, workerData: this.shared, name: 'mix-wakeups' });
    thread.on('message', () => this.onWake());
    // The schedules alone should not keep a process alive; its sockets do that.
    thread.unref();
    return thread;
  }
}

let shared: ThreadWakeups | null = null;

/** The process's wakeup thread (started with its first schedule). */
export function sharedWakeups(): Wakeups {
  shared ??= new ThreadWakeups();
  return shared;
}
