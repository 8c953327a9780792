/**
 * One moment of a relay meeting under light load, for a benchmark to difference two of them
 * over a measurement window: the relay's counters (`GET /api/meetings/:id`), what each light
 * client received so far, and the CPU counters (/proc).
 */
import type { MeetingDetail } from '../../protocol/rest';
import { sampleCpu, type CpuSample } from './cpu';
import type { LightClient } from './LightClient';
import type { ServerProcess } from './ServerProcess';

/** The relay's, the clients' and the CPU's counters at one moment. */
export interface RelaySnapshot {
  relay: MeetingDetail['relay'];
  /** RTP packets each client received so far (the mix, forwarded video), in the clients' order. */
  clients: Array<{ audioIn: number; videoIn: number }>;
  cpu: CpuSample;
}

/** Reads the counters of `meetingId` on `server` and of its light `clients`. */
export async function relaySnapshot(server: ServerProcess, meetingId: string, clients: readonly LightClient[]): Promise<RelaySnapshot> {
  const detail = await server.meeting(meetingId);
  return {
    relay: detail.relay,
    clients: clients.map((c) => ({ audioIn: c.counters.audioIn, videoIn: c.counters.videoIn })),
    cpu: sampleCpu(server),
  };
}
