/**
 * Run as a process of its own (it changes its scheduling): takes a media worker's scheduling,
 * starts the wakeup thread as a media worker does, and prints JSON: what scheduling it got,
 * and the scheduling policy of each thread that appeared with the wakeup thread
 * (/proc .../stat field 41: 0 ordinary, 2 SCHED_RR).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { sharedWakeups } from '../../relay/audio/Wakeups';
import { applyWorkerScheduling } from '../../relay/worker/priority';

const threads = () => new Set(readdirSync('/proc/self/task'));
const policy = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[38]);

const scheduling = applyWorkerScheduling(true);
const before = threads();
sharedWakeups().start();
const started = performance.now();
const poll = setInterval(() => {
  const added = [...threads()].filter((t) => !before.has(t));
  if (added.length === 0 && performance.now() - started < 5000) return;
  clearInterval(poll);
  console.log(JSON.stringify({ scheduling: scheduling.kind, policies: added.map(policy) }));
  process.exit(0);
}, 10);
