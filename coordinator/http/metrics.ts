/**
 * `GET /metrics`: Prometheus text exposition of the whole node: meetings, participants,
 * relayed media, the mixers, and the CPU and memory of the coordinator and of each media
 * worker process (`workerMetrics.ts`). The README lists every series.
 */
import type { FastifyInstance } from 'fastify';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import { faultCounts } from '../faults';
import type { RelayCounterSource } from '../media/RelayCounterSource';
import { workerMetricLines, workersCpuSeconds } from './workerMetrics';

/** Registers the metrics route. */
export async function metricsRoute(
  app: FastifyInstance,
  deps: { registry: MeetingRegistry; relayCounters: RelayCounterSource; /** Several nodes: this node's id. */ nodeId?: string },
): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const meetings = deps.registry.all();
    const byMode = { p2p: 0, relay: 0, switching: 0 };
    let participants = 0;
    for (const m of meetings) {
      byMode[m.mode] += 1;
      participants += m.size;
    }
    const totals = deps.relayCounters.totalsByMode();
    const mixer = deps.relayCounters.mixerStats();
    const allocation = deps.relayCounters.allocationStats();
    const media = deps.relayCounters.workerStats();
    // Counters (`_total`) cover the process lifetime, ended meetings included, and never go
    // down; gauges are what is live now. Forwarded media is labelled by the mode its meeting
    // was in when it was forwarded, so a switch never moves figures between labels.
    const lines = [
      '# HELP meetmesh_meetings Open meetings by media path.',
      '# TYPE meetmesh_meetings gauge',
      ...Object.entries(byMode).map(([mode, n]) => `meetmesh_meetings{mode="${mode}"} ${n}`),
      '# HELP meetmesh_participants Participants in open meetings.',
      '# TYPE meetmesh_participants gauge',
      `meetmesh_participants ${participants}`,
      '# HELP meetmesh_relay_packets_total RTP packets the relay sent to participants, by the mode of their meeting when sent.',
      '# TYPE meetmesh_relay_packets_total counter',
      ...Object.entries(totals).map(([mode, t]) => `meetmesh_relay_packets_total{mode="${mode}"} ${t.packets}`),
      '# HELP meetmesh_relay_bytes_total RTP bytes the relay sent to participants, by the mode of their meeting when sent.',
      '# TYPE meetmesh_relay_bytes_total counter',
      ...Object.entries(totals).map(([mode, t]) => `meetmesh_relay_bytes_total{mode="${mode}"} ${t.bytes}`),
      '# HELP meetmesh_relay_layer_switches_total Changes of the layer (or pause) the relay forwards to a viewer slot, by the per-viewer allocation, ended meetings included.',
      '# TYPE meetmesh_relay_layer_switches_total counter',
      `meetmesh_relay_layer_switches_total ${allocation.layerSwitches}`,
      '# HELP meetmesh_relay_frames_left_out_total Frames of higher temporal layers the relay left out for viewers whose video queued at the relay, ended meetings included.',
      '# TYPE meetmesh_relay_frames_left_out_total counter',
      `meetmesh_relay_frames_left_out_total ${allocation.framesLeftOut}`,
      '# HELP meetmesh_relay_paused_slots Viewer slots paused now because that viewer\'s downlink does not carry even the lowest layer.',
      '# TYPE meetmesh_relay_paused_slots gauge',
      `meetmesh_relay_paused_slots ${allocation.pausedSlots}`,
      '# HELP meetmesh_relay_unwatched_layers Publishers\' camera layers paused at their browsers now because no viewer\'s tile is large enough to need them.',
      '# TYPE meetmesh_relay_unwatched_layers gauge',
      `meetmesh_relay_unwatched_layers ${allocation.unwatchedLayers}`,
      '# HELP meetmesh_mixer_ticks_total Audio mixer ticks (20 ms), ended meetings included.',
      '# TYPE meetmesh_mixer_ticks_total counter',
      `meetmesh_mixer_ticks_total ${mixer.ticks}`,
      '# HELP meetmesh_mixer_late_ticks_total Mixer ticks that missed their deadline, ended meetings included.',
      '# TYPE meetmesh_mixer_late_ticks_total counter',
      `meetmesh_mixer_late_ticks_total ${mixer.lateTicks}`,
      '# HELP meetmesh_mixer_tick_ms_p99 Worst p99 mixer tick time over live meetings, in ms.',
      '# TYPE meetmesh_mixer_tick_ms_p99 gauge',
      `meetmesh_mixer_tick_ms_p99 ${mixer.tickMsP99Max}`,
      // The node's worst meeting; each worker's worst is in the per-worker rows (workerMetrics.ts).
      '# HELP meetmesh_mixer_departure_ms_p99 Worst p99 time between consecutive mix packets leaving the relay (20 when steady) over live meetings, in ms.',
      '# TYPE meetmesh_mixer_departure_ms_p99 gauge',
      `meetmesh_mixer_departure_ms_p99 ${mixer.departureMsP99Max}`,
      '# HELP meetmesh_mixer_departure_ms_max Longest time between consecutive mix packets leaving the relay over live meetings\' recent ticks, in ms.',
      '# TYPE meetmesh_mixer_departure_ms_max gauge',
      `meetmesh_mixer_departure_ms_max ${mixer.departureMsMax}`,
      '# HELP meetmesh_media_workers Media worker processes running relays and mixers (0: on the main thread).',
      '# TYPE meetmesh_media_workers gauge',
      `meetmesh_media_workers ${media.inProcess ? 0 : media.workers.length}`,
      ...workerMetricLines(media.workers),
      '# HELP meetmesh_media_worker_failures_total Media workers that died unasked (their meetings recovered on another).',
      '# TYPE meetmesh_media_worker_failures_total counter',
      `meetmesh_media_worker_failures_total ${media.failures}`,
      '# HELP meetmesh_faults_total Exceptions caught at a boundary (timer, socket, media callback) and contained, by where.',
      '# TYPE meetmesh_faults_total counter',
      ...[...faultCounts()].map(([where, n]) => `meetmesh_faults_total{where="${where.replace(/["\\\n]/g, '_')}"} ${n}`),
    ];
    // The standard process figures (the Prometheus client libraries' names) are the
    // coordinator's alone; the node's add its media worker processes, so a load test or an
    // operator reads the whole server's cost from one series.
    const cpu = process.cpuUsage();
    const coordinatorCpu = (cpu.user + cpu.system) / 1e6;
    const coordinatorRss = process.memoryUsage.rss();
    const workersRss = media.workers.reduce((sum, w) => sum + (w.figures.process?.rssBytes ?? 0), 0);
    lines.push(
      '# HELP process_cpu_seconds_total User and system CPU time of the coordinator process (media worker processes not included), in seconds.',
      '# TYPE process_cpu_seconds_total counter',
      `process_cpu_seconds_total ${coordinatorCpu.toFixed(3)}`,
      '# HELP process_resident_memory_bytes Resident memory of the coordinator process, in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${coordinatorRss}`,
      '# HELP meetmesh_node_cpu_seconds_total CPU time of the whole node: the coordinator and every media worker process it had, in seconds.',
      '# TYPE meetmesh_node_cpu_seconds_total counter',
      `meetmesh_node_cpu_seconds_total ${(coordinatorCpu + (workersCpuSeconds(media.workers) ?? 0)).toFixed(3)}`,
      '# HELP meetmesh_node_resident_memory_bytes Resident memory of the coordinator and its running media worker processes, in bytes.',
      '# TYPE meetmesh_node_resident_memory_bytes gauge',
      `meetmesh_node_resident_memory_bytes ${coordinatorRss + workersRss}`,
    );
    // Several nodes: each serves its own figures; this says which node they are of.
    lines.push(
      '# HELP meetmesh_node_info The node these figures are of (one process: "single").',
      '# TYPE meetmesh_node_info gauge',
      `meetmesh_node_info{node="${(deps.nodeId ?? 'single').replace(/["\\\n]/g, '_')}"} 1`,
    );
    reply.type('text/plain; version=0.0.4');
    return lines.join('\n') + '\n';
  });
}
