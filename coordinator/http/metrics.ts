/** `GET /metrics`: Prometheus text exposition of meetings, participants and relayed media. */
import type { FastifyInstance } from 'fastify';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import { faultCounts } from '../faults';
import type { RelayCounterSource } from '../media/RelayCounterSource';

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
      '# HELP meetmesh_relay_paused_slots Viewer slots paused now because that viewer\'s downlink does not carry even the lowest layer.',
      '# TYPE meetmesh_relay_paused_slots gauge',
      `meetmesh_relay_paused_slots ${allocation.pausedSlots}`,
      '# HELP meetmesh_mixer_ticks_total Audio mixer ticks (20 ms), ended meetings included.',
      '# TYPE meetmesh_mixer_ticks_total counter',
      `meetmesh_mixer_ticks_total ${mixer.ticks}`,
      '# HELP meetmesh_mixer_late_ticks_total Mixer ticks that missed their deadline, ended meetings included.',
      '# TYPE meetmesh_mixer_late_ticks_total counter',
      `meetmesh_mixer_late_ticks_total ${mixer.lateTicks}`,
      '# HELP meetmesh_mixer_tick_ms_p99 Worst p99 mixer tick time over live meetings, in ms.',
      '# TYPE meetmesh_mixer_tick_ms_p99 gauge',
      `meetmesh_mixer_tick_ms_p99 ${mixer.tickMsP99Max}`,
      '# HELP meetmesh_media_workers Threads running relays and mixers (0: on the main thread).',
      '# TYPE meetmesh_media_workers gauge',
      `meetmesh_media_workers ${media.inProcess ? 0 : media.workers.length}`,
      '# HELP meetmesh_media_worker_meetings Relay meetings placed on each media worker.',
      '# TYPE meetmesh_media_worker_meetings gauge',
      ...media.workers.map((w) => `meetmesh_media_worker_meetings{worker="${w.index}"} ${w.meetings}`),
      '# HELP meetmesh_media_worker_participants Relay connections on each media worker.',
      '# TYPE meetmesh_media_worker_participants gauge',
      ...media.workers.map((w) => `meetmesh_media_worker_participants{worker="${w.index}"} ${w.participants}`),
      '# HELP meetmesh_media_worker_utilization Event-loop utilization of each media worker over the last second (0..1).',
      '# TYPE meetmesh_media_worker_utilization gauge',
      ...media.workers.map((w) => `meetmesh_media_worker_utilization{worker="${w.index}"} ${w.utilization.toFixed(3)}`),
      '# HELP meetmesh_media_worker_failures_total Media workers that died unasked (their meetings recovered on another).',
      '# TYPE meetmesh_media_worker_failures_total counter',
      `meetmesh_media_worker_failures_total ${media.failures}`,
      '# HELP meetmesh_faults_total Exceptions caught at a boundary (timer, socket, media callback) and contained, by where.',
      '# TYPE meetmesh_faults_total counter',
      ...[...faultCounts()].map(([where, n]) => `meetmesh_faults_total{where="${where.replace(/["\\\n]/g, '_')}"} ${n}`),
    ];
    // The standard process figures (the Prometheus client libraries' names): CPU of every
    // thread, media workers included, so a load test can read the server's cost from here.
    const cpu = process.cpuUsage();
    lines.push(
      '# HELP process_cpu_seconds_total User and system CPU time of this process (every thread), in seconds.',
      '# TYPE process_cpu_seconds_total counter',
      `process_cpu_seconds_total ${((cpu.user + cpu.system) / 1e6).toFixed(3)}`,
      '# HELP process_resident_memory_bytes Resident memory of this process, in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage.rss()}`,
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
