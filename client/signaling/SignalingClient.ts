/**
 * The browser's end of `/ws`: sends typed client messages, correlates requests with their
 * replies by id, and hands every other server message to one listener. Pending requests
 * are rejected when the socket closes, never left hanging.
 */
import type { ClientMessage, ServerMessage } from '../../protocol/signaling';

/** A request that failed: carries the server's error code (or a local one). */
export class SignalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SignalingError';
  }
}

type Reply = Extract<ServerMessage, { id: number }>;
type WithoutId<T> = T extends { id: number } ? Omit<T, 'id'> : never;
type RequestMessage = WithoutId<Extract<ClientMessage, { id: number }>>;
type Pending = { resolve: (m: Reply) => void; reject: (e: Error) => void };

export type SocketState = 'connecting' | 'open' | 'closed';

export class SignalingClient {
  private readonly socket: WebSocket;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly opened: Promise<void>;
  onMessage: (message: ServerMessage) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener('open', () => resolve(), { once: true });
      this.socket.addEventListener('error', () => reject(new SignalingError('SOCKET', 'Could not reach the server.')), { once: true });
    });
    this.opened.catch(() => {});
    this.socket.addEventListener('message', (event) => this.onFrame(String(event.data)));
    this.socket.addEventListener('close', (event) => {
      for (const p of this.pending.values()) p.reject(new SignalingError('SOCKET_CLOSED', 'The connection to the server was lost.'));
      this.pending.clear();
      this.onClose(event.code, event.reason);
    });
  }

  /** The WebSocket URL of the server that served this page. */
  static urlForPage(): string {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  get state(): SocketState {
    if (this.socket.readyState === WebSocket.CONNECTING) return 'connecting';
    return this.socket.readyState === WebSocket.OPEN ? 'open' : 'closed';
  }

  /** Sends a message that expects no reply. */
  send(message: Exclude<ClientMessage, { id: number }>): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Sends a request and resolves with the server's reply of the matching id. */
  async request<R extends Reply['type'] = Reply['type']>(message: RequestMessage): Promise<Extract<Reply, { type: R }>> {
    await this.opened;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ ...message, id }));
    });
    return reply as Extract<Reply, { type: R }>;
  }

  close(): void {
    this.socket.close(1000, 'bye');
  }

  private onFrame(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    if ('id' in message && typeof message.id === 'number') {
      const pending = this.pending.get(message.id);
      if (pending) {
        this.pending.delete(message.id);
        if (message.type === 'error') pending.reject(new SignalingError(message.code, message.message));
        else pending.resolve(message);
        return;
      }
    }
    this.onMessage(message);
  }
}
