/** Where the HTTP layer reads what the relay forwarded for a meeting (zero when none), and the process totals. */
import type { TopologyMode } from '../../protocol/rest';
import type { WorkerLoad } from './MediaWorkers';

export interface RelayCounters {
  packets: number;
  bytes: number;
  [extra: string]: number;
}

/** Packets and bytes the relay forwarded. */
export interface RelayedTotals {
  packets: number;
  bytes: number;
}

/** Forwarded media by the mode its meeting was in when it was forwarded. */
export type RelayedByMode = Record<TopologyMode, RelayedTotals>;

/** Relay and mixer figures for `/metrics`. */
export interface RelayCounterSource {
  countersFor(meetingId: string): RelayCounters;
  /**
   * Forwarded media over the process lifetime, ended meetings included, by the mode its
   * meeting was in when it was forwarded: every figure only ever grows.
   */
  totalsByMode(): RelayedByMode;
  /**
   * Mixer ticks and late ticks over the process lifetime (monotonic), and over live meetings
   * the worst p99 tick time and the worst p99 and max mix inter-departure interval (recent ticks).
   */
  mixerStats(): { ticks: number; lateTicks: number; tickMsP99Max: number; departureMsP99Max: number; departureMsMax: number };
  /** Layer changes of viewers' slots over the process lifetime (monotonic), slots paused for bandwidth now, and publishers' camera layers nobody watches now. */
  allocationStats(): { layerSwitches: number; framesLeftOut: number; pausedSlots: number; unwatchedLayers: number };
  /** The media workers: each one's meetings, participants, load and lifetime figures, and unasked deaths so far. */
  workerStats(): { workers: WorkerLoad[]; failures: number; inProcess: boolean };
}

/** Zeroed per-mode totals. */
export function emptyRelayedByMode(): RelayedByMode {
  return { p2p: { packets: 0, bytes: 0 }, relay: { packets: 0, bytes: 0 }, switching: { packets: 0, bytes: 0 } };
}

/** Adds `from` into `into`, mode by mode. */
export function addRelayedByMode(into: RelayedByMode, from: RelayedByMode): void {
  for (const mode of Object.keys(into) as TopologyMode[]) {
    into[mode].packets += from[mode].packets;
    into[mode].bytes += from[mode].bytes;
  }
}
