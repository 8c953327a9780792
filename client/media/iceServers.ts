/**
 * Fresh TURN credentials for connections that are already open: the coordinator pushes a
 * new ICE server list (`ice-servers`) before the old credentials expire.
 */
import type { IceServer } from '../../protocol/signaling';

/** Gives `pc` the new ICE servers; a connection already closed keeps what it had. */
export function applyIceServers(pc: RTCPeerConnection | null, iceServers: IceServer[]): void {
  if (!pc || pc.signalingState === 'closed') return;
  try {
    // Used from the next ICE gathering on (an ICE restart, e.g. after a failure); the
    // browser keeps refreshing a live TURN allocation with the credential it was made with.
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
  } catch {
    // A browser refusing the change keeps working with the old list until it expires.
  }
}
