/** Where the HTTP layer reads what the relay forwarded for a meeting (zero when none). */
export interface RelayCounters {
  packets: number;
  bytes: number;
  [extra: string]: number;
}

export interface RelayCounterSource {
  countersFor(meetingId: string): RelayCounters;
  /** Totals over every meeting, by the mode the meeting is in now. */
  totalsByMode(): Record<'p2p' | 'relay' | 'switching', { packets: number; bytes: number }>;
  /** Mixer tick timing summed over live meetings, for /metrics. */
  mixerStats(): { ticks: number; lateTicks: number; tickMsP99Max: number };
}
