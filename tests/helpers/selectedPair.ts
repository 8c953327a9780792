/**
 * What a browser's own WebRTC stack says about where its media goes: every
 * RTCPeerConnection a page creates is kept (an init script), and `remoteEnds` reads, through
 * `getStats()`, the remote candidate of each connected one's selected candidate pair.
 */
import type { Page } from 'playwright-core';
import { waitFor } from './wait';

/** Install before the page loads: keeps the page's peer connections in `window.__peerConnections`. */
export const PEER_CONNECTION_TAP = `(() => {
  const Native = window.RTCPeerConnection;
  const all = [];
  window.__peerConnections = all;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); all.push(this); }
  };
})();`;

/** The remote end of one connected peer connection's selected pair, as its browser reports it. */
export interface RemoteEnd {
  address: string;
  port: number;
  candidateType: string;
  protocol: string;
}

/** What each connected peer connection on `page` reports of its selected pair (through `getStats()`). */
async function selectedPairs(page: Page): Promise<Array<{ remote: RemoteEnd | undefined; availableOutgoingBitrate: number | undefined }>> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? [];
    const pairs: Array<{ remote: { address: string; port: number; candidateType: string; protocol: string } | undefined; availableOutgoingBitrate: number | undefined }> = [];
    for (const pc of pcs) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s));
      for (const s of byId.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        const pair = byId.get(String(s.selectedCandidatePairId));
        const remote = pair && byId.get(String(pair.remoteCandidateId));
        const bps = pair?.availableOutgoingBitrate;
        pairs.push({
          remote: remote && { address: String(remote.address || remote.ip || ''), port: Number(remote.port), candidateType: String(remote.candidateType), protocol: String(remote.protocol) },
          availableOutgoingBitrate: typeof bps === 'number' ? bps : undefined,
        });
      }
    }
    return pairs;
  });
}

/** The remote ends of every connected peer connection on `page`. */
export async function remoteEnds(page: Page): Promise<RemoteEnd[]> {
  return (await selectedPairs(page)).flatMap((pair) => (pair.remote ? [pair.remote] : []));
}

/** Waits until a peer connection of `who`'s page has a selected pair, and returns the remote ends. */
export async function awaitRemoteEnds(who: { page: Page; name: string }, timeoutMs = 10_000): Promise<RemoteEnd[]> {
  return waitFor(async () => {
    const found = await remoteEnds(who.page);
    return found.length > 0 ? found : undefined;
  }, timeoutMs, `${who.name}'s relay connection to report its selected pair`);
}

/**
 * The browser's send-side bandwidth estimate (bits per second) on each connected peer
 * connection of `page`: `availableOutgoingBitrate` of its selected candidate pair, which
 * Chromium reports only while its send-side estimator runs (transport-wide feedback
 * negotiated); undefined for a connection without one.
 */
export async function availableOutgoingBitrates(page: Page): Promise<Array<number | undefined>> {
  return (await selectedPairs(page)).map((pair) => pair.availableOutgoingBitrate);
}
