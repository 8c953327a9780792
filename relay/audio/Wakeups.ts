/**
 * Wakes the event loop at a deadline to a tenth of a millisecond, where Node's timers keep
 * whole milliseconds. A timer fires on the loop's clock, which Node reads once per turn in
 * whole milliseconds, and its wait is rounded to whole milliseconds too; so a mixer tick
 * whose deadline sits at a fraction of a millisecond started anywhere from a millisecond
 * early to more than one late, differently from one period to the next. Under 40 meetings of
 * 3 on two cores (`npm run load`) the intervals between a mix's departures spread over
 * 17.5–22.5 ms, and 2.4–3.3% of them were over 22 ms, most by less than a millisecond: the
 * main reason the departures' p99 was over 22 ms. Woken by this thread, 92–93% of the
 * intervals fall within half a millisecond of 20 ms (48% before) and 0.3–0.75% are over 22
 * (README "Relay audio on time"). It costs about 3% of a core per 1,000 deadlines a second.
 *
 * So one small thread per process does the waiting: it sleeps on a futex (`Atomics.wait`,
 * which takes a fractional timeout) until the earliest deadline, then posts a message, which
 * wakes the main thread's event loop at once. The mix itself stays on the main thread:
 * node-datachannel serves one JavaScript thread, and the mix is sent from there.
 * The thread knows one deadline at a time, the earliest the main thread has, and waits for
 * the next after each wake. Also tried: the thread holding every clock's schedule (start and
 * period) and posting at each deadline by itself, which saves the main thread's notify after
 * each wake (20 clocks in an idle process: 2% of a core over Node's timers, against 4%), but
 * under the load its departures spread again (the median meeting's p99 21.8 and 22.6 ms against
 * 20.8 and 20.8, alternating; once 70.9 ms) while the server's CPU was no lower.
 * A media worker starts the thread right after it set its scheduling (relay/worker/priority.ts),
 * so the thread inherits the main thread's real-time priority, as audio servers' timer threads
 * have it, and the first meeting's first tick does not wait for the thread to start.
 */
import { Worker } from 'node:worker_threads';

/** Something that calls back at a deadline (ms, `performance.now()`); returns a cancel function. */
export interface Wakeups {
  at(deadlineMs: number, wake: () => void): () => void;
}

/**
 * Wakeups from Node's timers, whole milliseconds: what mixers used before the thread
 * (bench/mix-pacing.ts compares the two), and what tests with a clock of their own use (`now`).
 */
export function timerWakeups(now: () => number = () => performance.now()): Wakeups {
  return {
    at(deadlineMs, wake) {
      const timer = setTimeout(wake, Math.max(0, deadlineMs - now()));
      // A clock alone should not keep a process alive; the server's sockets do that.
      timer.unref();
      return () => clearTimeout(timer);
    },
  };
}

/**
 * The thread: sleeps until the shared target (µs of `process.hrtime`, −1 for none), posts the
 * target's generation once when it is reached, then sleeps until the main thread sets another.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const generation = new Int32Array(workerData, 0, 1);
const target = new BigInt64Array(workerData, 8, 1);
let posted = -1;
for (;;) {
  const g = Atomics.load(generation, 0);
  const at = Atomics.load(target, 0);
  if (at < 0n || g === posted) { Atomics.wait(generation, 0, g); continue; }
  const waitMs = Number(at - process.hrtime.bigint() / 1000n) / 1000;
  if (waitMs > 0) { Atomics.wait(generation, 0, g, waitMs); continue; }
  posted = g;
  parentPort.postMessage(g);
}
`;

/** A wakeup this close before its deadline (ms) is the deadline: the two clocks' rounding. */
export const DUE_SLACK_MS = 0.01;

interface Pending {
  at: number;
  wake: () => void;
}

/** Deadlines of this process, served by one wakeup thread. */
export class ThreadWakeups implements Wakeups {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly generation = new Int32Array(this.shared, 0, 1);
  private readonly target = new BigInt64Array(this.shared, 8, 1);
  /** `process.hrtime` minus `performance.now()`, in µs: both read the same monotonic clock. */
  private readonly hrtimeOffsetUs = process.hrtime.bigint() / 1000n - BigInt(Math.round(performance.now() * 1000));
  /** Pending deadlines, earliest first. */
  private readonly pending: Pending[] = [];
  private thread: Worker | null = null;
  private programmed = Number.POSITIVE_INFINITY;
  private wakes = 0;

  /** Starts the thread now rather than with the first deadline (it takes tens of milliseconds to start). */
  start(): void {
    this.thread ??= this.startThread();
  }

  at(deadlineMs: number, wake: () => void): () => void {
    const entry: Pending = { at: deadlineMs, wake };
    const i = this.pending.findIndex((p) => p.at > deadlineMs);
    this.pending.splice(i < 0 ? this.pending.length : i, 0, entry);
    this.program();
    return () => {
      const at = this.pending.indexOf(entry);
      if (at < 0) return;
      this.pending.splice(at, 1);
      // The thread waits for the earliest: aim it at the next one (or at none), not at this.
      if (at === 0) this.program();
    };
  }

  /** How many times the thread woke this thread so far. */
  get threadWakes(): number {
    return this.wakes;
  }

  /** Runs what is due, then sets the thread on the next deadline. */
  private onWake(): void {
    this.wakes += 1;
    this.programmed = Number.POSITIVE_INFINITY;
    const now = performance.now();
    while (this.pending.length > 0 && this.pending[0]!.at <= now + DUE_SLACK_MS) this.pending.shift()!.wake();
    this.program();
  }

  /** Sets the thread on the earliest pending deadline, or on none. */
  private program(): void {
    const next = this.pending[0]?.at ?? Number.POSITIVE_INFINITY;
    if (next === this.programmed) return;
    this.programmed = next;
    if (next === Number.POSITIVE_INFINITY && !this.thread) return;
    this.thread ??= this.startThread();
    Atomics.store(this.target, 0, next === Number.POSITIVE_INFINITY ? -1n : BigInt(Math.round(next * 1000)) + this.hrtimeOffsetUs);
    Atomics.add(this.generation, 0, 1);
    Atomics.notify(this.generation, 0);
  }

  private startThread(): Worker {
    Atomics.store(this.target, 0, -1n);
    const thread = new Worker(THREAD_SOURCE, { eval: true, workerData: this.shared, name: 'mix-wakeups' });
    thread.on('message', () => this.onWake());
    // The deadlines alone should not keep a process alive; its sockets do that.
    thread.unref();
    return thread;
  }
}

let shared: ThreadWakeups | null = null;

/** The process's wakeup thread (started on first use, or by `start()`). */
export function sharedWakeups(): ThreadWakeups {
  shared ??= new ThreadWakeups();
  return shared;
}
