/**
 * The media side of the coordinator: today only the counters (nothing is relayed yet).
 * The relay and the topology switch plug in here.
 */
import { CodedError } from '../../protocol/errors';
import type { MediaSignaling } from '../signaling/SignalingSession';
import type { RelayCounterSource, RelayCounters } from './RelayCounterSource';

export class MediaPlane implements MediaSignaling, RelayCounterSource {
  async relayOffer(): Promise<string> {
    throw new CodedError('WRONG_MODE');
  }

  relayCandidate(): void {
    throw new CodedError('WRONG_MODE');
  }

  pathReady(): void {}

  countersFor(): RelayCounters {
    return { packets: 0, bytes: 0 };
  }

  totalsByMode(): ReturnType<RelayCounterSource['totalsByMode']> {
    const zero = () => ({ packets: 0, bytes: 0 });
    return { p2p: zero(), relay: zero(), switching: zero() };
  }

  mixerStats(): ReturnType<RelayCounterSource['mixerStats']> {
    return { ticks: 0, lateTicks: 0, tickMsP99Max: 0 };
  }

  close(): void {}
}
