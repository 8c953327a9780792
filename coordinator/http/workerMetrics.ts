/**
 * The per-media-worker series of `/metrics`, one table: each row is a metric family with a
 * `worker` label, read from the worker's `WorkerLoad` (its figures over every process it
 * had, so counters hold across restarts). A figure the workers report (a mixer timing
 * gauge added to `MixerFiguresSchema`, which `foldGauges` already carries per worker, as
 * issue 19's mix departure figures were) is exported by adding one row here.
 */
import type { WorkerLoad } from '../media/MediaWorkers';

export interface WorkerMetric {
  /** Counters end in `_total`. */
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  /** Its value for one worker; undefined: not this worker's to report (e.g. CPU on the main thread). */
  value(worker: WorkerLoad): number | undefined;
}

export const WORKER_METRICS: readonly WorkerMetric[] = [
  { name: 'meetmesh_media_worker_meetings', type: 'gauge', help: 'Relay meetings placed on each media worker.', value: (w) => w.meetings },
  { name: 'meetmesh_media_worker_participants', type: 'gauge', help: 'Relay connections on each media worker.', value: (w) => w.participants },
  { name: 'meetmesh_media_worker_utilization', type: 'gauge', help: 'Event-loop utilization of each media worker over the last second (0..1).', value: (w) => Number(w.utilization.toFixed(3)) },
  { name: 'meetmesh_media_worker_starts_total', type: 'counter', help: 'Processes started for each media worker (more than 1: it was restarted after dying).', value: (w) => w.starts },
  { name: 'meetmesh_media_worker_cpu_seconds_total', type: 'counter', help: 'User and system CPU time of each media worker process, in seconds, every process it had included.', value: (w) => w.figures.process && Number(w.figures.process.cpuSeconds.toFixed(3)) },
  { name: 'meetmesh_media_worker_resident_memory_bytes', type: 'gauge', help: "Resident memory of each media worker's running process, in bytes (0: not running).", value: (w) => w.figures.process?.rssBytes },
  { name: 'meetmesh_media_worker_relay_packets_in_total', type: 'counter', help: 'RTP packets each media worker received from participants (audio and video).', value: (w) => w.figures.relay.packetsReceived },
  { name: 'meetmesh_media_worker_relay_bytes_in_total', type: 'counter', help: 'RTP bytes (header and payload, before SRTP) each media worker received from participants.', value: (w) => w.figures.relay.bytesReceived },
  { name: 'meetmesh_media_worker_relay_packets_out_total', type: 'counter', help: 'RTP packets each media worker sent to participants (forwarded video and mixed audio).', value: (w) => w.figures.relay.packetsForwarded },
  { name: 'meetmesh_media_worker_relay_bytes_out_total', type: 'counter', help: 'RTP bytes (header and payload, before SRTP) each media worker sent to participants.', value: (w) => w.figures.relay.bytesForwarded },
  { name: 'meetmesh_media_worker_mixer_ticks_total', type: 'counter', help: "Audio mixer ticks (20 ms) on each media worker, every meeting's.", value: (w) => w.figures.mixer.ticks },
  { name: 'meetmesh_media_worker_mixer_late_ticks_total', type: 'counter', help: 'Mixer ticks that missed their deadline on each media worker.', value: (w) => w.figures.mixer.lateTicks },
  { name: 'meetmesh_media_worker_mixer_tick_ms_p99', type: 'gauge', help: "Worst p99 mixer tick time of each media worker's live meetings, in ms.", value: (w) => w.figures.mixer.tickMsP99 },
  { name: 'meetmesh_media_worker_mixer_departure_ms_p99', type: 'gauge', help: "Worst p99 time between consecutive mix packets leaving each media worker (20 when steady) over its live meetings, in ms.", value: (w) => w.figures.mixer.departureMsP99 ?? 0 },
  { name: 'meetmesh_media_worker_mixer_departure_ms_max', type: 'gauge', help: "Longest time between consecutive mix packets leaving each media worker over its live meetings' recent ticks, in ms.", value: (w) => w.figures.mixer.departureMsMax ?? 0 },
];

/** The exposition lines of every row for every worker (a row no worker reports is left out). */
export function workerMetricLines(workers: readonly WorkerLoad[]): string[] {
  const lines: string[] = [];
  for (const metric of WORKER_METRICS) {
    const samples = workers.flatMap((w) => {
      const value = metric.value(w);
      return value === undefined ? [] : [`${metric.name}{worker="${w.index}"} ${value}`];
    });
    if (samples.length === 0) continue;
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`, ...samples);
  }
  return lines;
}

/** CPU seconds of the node's media worker processes, every process they had included; undefined on the main thread. */
export function workersCpuSeconds(workers: readonly WorkerLoad[]): number | undefined {
  let sum: number | undefined;
  for (const w of workers) if (w.figures.process) sum = (sum ?? 0) + w.figures.process.cpuSeconds;
  return sum;
}
