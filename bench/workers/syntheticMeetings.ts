/**
 * A bench worker process for `bench/media-workers.ts`: `meetings` synthetic relay meetings of
 * `size` people, everyone talking, each a real `AudioMixer` on its own 20 ms clock fed real
 * Opus packets every 20 ms, exactly as a media worker runs them minus the network. Reports
 * every meeting's mixer figures to its parent after `measureMs`, then ends.
 * Started through `relay/worker/boot.mjs`: `boot.mjs <this file's URL> <SyntheticJob as JSON>`.
 */
import { Encoder } from '@evan/opus';
import { FRAME_MS, SAMPLE_RATE } from '../../relay/audio/AudioFormat';
import { AudioMixer } from '../../relay/audio/AudioMixer';
import { timerWakeups } from '../../relay/audio/Wakeups';
import { ToneGenerator } from '../../relay/audio/tones';
import { raiseOwnPriority, useRealtimeScheduling } from '../../relay/worker/priority';

/** What the parent asks for (the process's second argument). */
export interface SyntheticJob {
  meetings: number;
  size: number;
  warmupMs: number;
  measureMs: number;
  /** Ask for this nice value first (a media worker's, relay/worker/priority.ts); absent: leave it. */
  nice?: number;
  /** Run every thread SCHED_RR (relay/worker/priority.ts useRealtimeScheduling). */
  realtime?: boolean;
  /** Wake the mixers with Node's timers instead of the wakeup thread (relay/audio/Wakeups.ts). */
  nodeTimers?: boolean;
}

/** One meeting's mixer over the measured stretch. */
export interface MeetingFigures {
  ticks: number;
  lateTicks: number;
  tickMsP99: number;
  /** Inter-departure of the mix packets over the last 10 s (ms). */
  departureMsP50: number;
  departureMsP99: number;
  departureMsMax: number;
}

/** The one message sent back. */
export interface SyntheticReport {
  figures: MeetingFigures[];
  bytesSent: number;
}

const job = JSON.parse(process.argv[3] ?? '{}') as SyntheticJob;
if (job.nice !== undefined) raiseOwnPriority(job.nice);
if (job.realtime) useRealtimeScheduling();

// A second of pre-encoded packets per voice (as a browser's Opus encoder would send).
const voices = Array.from({ length: job.size }, (_, v) => {
  const encoder = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE, application: 'voip' });
  const tone = new ToneGenerator(300 + 170 * v, 5000);
  return Array.from({ length: 1000 / FRAME_MS }, () => encoder.encode(tone.next()));
});

let sent = 0;
const mixers = Array.from({ length: job.meetings }, () => {
  const mixer = new AudioMixer({ onFrame: (_id, opus) => { sent += opus.length; }, ...(job.nodeTimers ? { wakeups: timerWakeups() } : {}) });
  for (let p = 0; p < job.size; p++) mixer.addParticipant(`p${p}`);
  mixer.start();
  return mixer;
});

let seq = 0;
const feed = setInterval(() => {
  const frame = seq % voices[0]!.length;
  for (const mixer of mixers) {
    for (let p = 0; p < job.size; p++) mixer.pushPacket(`p${p}`, seq & 0xffff, seq * 960, voices[p]![frame]!);
  }
  seq += 1;
}, FRAME_MS);

let baseline = mixers.map((m) => m.counters);
setTimeout(() => {
  baseline = mixers.map((m) => m.counters);
  setTimeout(() => {
    clearInterval(feed);
    const figures: MeetingFigures[] = mixers.map((m, i) => {
      const c = m.counters;
      return { ticks: c.ticks - baseline[i]!.ticks, lateTicks: c.lateTicks - baseline[i]!.lateTicks, tickMsP99: c.tickMsP99, departureMsP50: c.departureMsP50, departureMsP99: c.departureMsP99, departureMsMax: c.departureMsMax };
    });
    for (const m of mixers) m.close();
    const report: SyntheticReport = { figures, bytesSent: sent };
    // The parent ends this process once it has the report.
    process.send!(report);
  }, job.measureMs);
}, job.warmupMs);
