/**
 * Owner side: signaling sessions of browsers connected to other nodes. Each runs as a
 * normal `SignalingSession` on a `SessionSocket` whose frames come from, and go back to,
 * the node that holds the browser's WebSocket.
 */
import type { NodeMessage } from './NodeMessage';
import type { NodeBus } from './NodeBus';
import type { SessionSocket } from '../signaling/SessionSocket';

/** A browser socket held by node `nodeId`, seen from here. */
class RemoteSocket implements SessionSocket {
  private open = true;
  private readonly messageListeners: Array<(raw: Buffer) => void> = [];
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    private readonly bus: NodeBus,
    readonly nodeId: string,
    private readonly session: string,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  send(data: string): void {
    if (this.open) this.bus.send(this.nodeId, { type: 'deliver', session: this.session, data });
  }

  close(code: number, reason: string): void {
    if (!this.open) return;
    this.bus.send(this.nodeId, { type: 'end', session: this.session, code, reason });
    this.gone();
  }

  onMessage(listener: (raw: Buffer) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** A frame from the browser. */
  receive(raw: Buffer): void {
    if (this.open) for (const listener of this.messageListeners) listener(raw);
  }

  /** The browser's socket is gone (closed there, or its node died). */
  gone(): void {
    if (!this.open) return;
    this.open = false;
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

export class RemoteSessions {
  private readonly sockets = new Map<string, RemoteSocket>();

  constructor(
    private readonly bus: NodeBus,
    /** Starts a session on a new remote socket (a `SignalingSession`, tracked like a local one). */
    private readonly startSession: (socket: SessionSocket) => void,
  ) {}

  /** Handles `open`, `frame` and `closed` from an edge node. */
  handle(message: Extract<NodeMessage, { type: 'open' | 'frame' | 'closed' }>): void {
    if (message.type === 'open') {
      if (this.sockets.has(message.session)) return;
      const socket = new RemoteSocket(this.bus, message.from, message.session);
      this.sockets.set(message.session, socket);
      socket.onClose(() => this.sockets.delete(message.session));
      this.startSession(socket);
      return;
    }
    const socket = this.sockets.get(message.session);
    if (!socket) return;
    if (message.type === 'frame') socket.receive(Buffer.from(message.data, 'utf8'));
    else socket.gone();
  }

  /** Sockets held by nodes that are no longer alive are gone (their people reconnect elsewhere). */
  dropNodesOtherThan(live: ReadonlySet<string>): void {
    for (const socket of [...this.sockets.values()]) if (!live.has(socket.nodeId)) socket.gone();
  }

  get size(): number {
    return this.sockets.size;
  }
}
