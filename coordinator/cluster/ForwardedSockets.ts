/**
 * Edge side: browser WebSockets on this node whose meeting another node holds. This node
 * only carries frames both ways; the owner runs the session (and its rate limits beyond
 * the per-socket ones applied here).
 */
import type { ServerMessage } from '../../protocol/signaling';
import type { NodeMessage } from './NodeMessage';
import type { NodeBus } from './NodeBus';
import type { SessionSocket } from '../signaling/SessionSocket';
import { CLOSE_CODES } from '../signaling/SignalingSession';

interface Forwarded {
  socket: SessionSocket;
  nodeId: string;
}

const RESTARTING: ServerMessage = { type: 'server-restarting' };

export class ForwardedSockets {
  private readonly forwarded = new Map<string, Forwarded>();
  private counter = 0;

  constructor(private readonly bus: NodeBus) {}

  /** Starts carrying `socket` to node `nodeId`: `frames` first (the join), then every later one. */
  forward(nodeId: string, socket: SessionSocket, frames: Buffer[]): void {
    const session = `${this.bus.nodeId}/${++this.counter}`;
    this.forwarded.set(session, { socket, nodeId });
    this.bus.send(nodeId, { type: 'open', session, from: this.bus.nodeId });
    const carry = (raw: Buffer): void => {
      if (this.forwarded.has(session)) this.bus.send(nodeId, { type: 'frame', session, data: raw.toString('utf8') });
    };
    frames.forEach(carry);
    socket.onMessage(carry);
    socket.onClose(() => {
      if (this.forwarded.delete(session)) this.bus.send(nodeId, { type: 'closed', session });
    });
  }

  /** Handles `deliver` and `end` from the owner. */
  handle(message: Extract<NodeMessage, { type: 'deliver' | 'end' }>): void {
    const entry = this.forwarded.get(message.session);
    if (!entry) return;
    if (message.type === 'deliver') {
      if (entry.socket.isOpen) entry.socket.send(message.data);
      return;
    }
    this.forwarded.delete(message.session);
    if (entry.socket.isOpen) entry.socket.close(message.code, message.reason);
  }

  /**
   * Sockets carried to a node that `isGone`: told to reconnect at once, as after a restart,
   * so their meeting is placed again on a live node. Returns how many.
   */
  redirect(isGone: (nodeId: string) => boolean): number {
    let count = 0;
    for (const [session, entry] of [...this.forwarded]) {
      if (!isGone(entry.nodeId)) continue;
      this.forwarded.delete(session);
      count += 1;
      if (!entry.socket.isOpen) continue;
      entry.socket.send(JSON.stringify(RESTARTING));
      entry.socket.close(CLOSE_CODES.restarting, 'the server node holding the meeting is gone');
    }
    return count;
  }

  get size(): number {
    return this.forwarded.size;
  }
}
