/**
 * The browser's end of `/ws`: sends typed client messages, correlates requests with their
 * replies by id, hands every other server message to one listener, and reconnects by
 * itself with jittered back-off when the socket drops. Its life is one explicit state
 * (`connecting → connected → reconnecting → connected … → closed`) changed by one setter.
 * Pending requests are rejected when a socket closes, never left hanging.
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

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

const TRANSITIONS: Record<ConnectionState, readonly ConnectionState[]> = {
  connecting: ['connected', 'reconnecting', 'closed'],
  connected: ['reconnecting', 'closed'],
  reconnecting: ['connected', 'closed'],
  closed: [],
};

/**
 * Delays before each reconnect attempt; the last one repeats. Shorter than LiveKit's
 * (0, 300, 1200, 2700, 4800, 7000): an attempt on a server that is down costs one refused
 * TCP connection, and a restarted server is back in a few seconds — a 7 s step would add
 * most of that again. The jitter spreads a whole meeting's attempts.
 */
export const RECONNECT_DELAYS_MS = [0, 300, 800, 1000];
/** While the server said it is restarting, try this often: it is usually back within seconds. */
const RESTART_RETRY_MS = 400;
/** Close codes after which reconnecting makes no sense (see coordinator CLOSE_CODES). */
const FINAL_CLOSE_CODES = new Set([4001, 4003]);

export class SignalingClient {
  private socket: WebSocket | null = null;
  private current: ConnectionState = 'connecting';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private attempt = 0;
  private serverRestarting = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Requests made before the first socket opened, released when it opens or fails. */
  private readonly firstOpenWaiters: (() => void)[] = [];
  /** Every server message that is not a reply. */
  onMessage: (message: ServerMessage) => void = () => {};
  /** Every state change. */
  onState: (state: ConnectionState, previous: ConnectionState) => void = () => {};
  /** The connection ended for good: closed by us, or by the server with a final code. */
  onClose: (code: number, reason: string) => void = () => {};

  constructor(private readonly url: string) {
    this.open();
  }

  /** The WebSocket URL of the server that served this page. */
  static urlForPage(): string {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Sends a message that expects no reply (dropped while not connected). */
  send(message: Exclude<ClientMessage, { id: number }>): void {
    if (this.current === 'connected' && this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Sends a request and resolves with the server's reply of the matching id. */
  async request<R extends Reply['type'] = Reply['type']>(message: RequestMessage): Promise<Extract<Reply, { type: R }>> {
    if (this.current === 'connecting') await this.untilConnected();
    const socket = this.socket;
    if (this.current !== 'connected' || !socket || socket.readyState !== WebSocket.OPEN) {
      throw new SignalingError('SOCKET_CLOSED', 'Not connected to the server.');
    }
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ ...message, id }));
    });
    return reply as Extract<Reply, { type: R }>;
  }

  /** Closes for good (no reconnect). */
  close(): void {
    if (this.current === 'closed') return;
    this.setState('closed');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket?.close(1000, 'bye');
    this.rejectPending();
  }

  private untilConnected(): Promise<void> {
    return new Promise((resolve) => this.firstOpenWaiters.push(resolve));
  }

  private setState(next: ConnectionState): void {
    const previous = this.current;
    if (next === previous) return;
    if (!TRANSITIONS[previous].includes(next)) return;
    this.current = next;
    console.info(`signaling ${previous} -> ${next}`);
    for (const release of this.firstOpenWaiters.splice(0)) release();
    this.onState(next, previous);
  }

  private open(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (this.socket !== socket || this.current === 'closed') return;
      this.attempt = 0;
      this.serverRestarting = false;
      this.setState('connected');
    });
    socket.addEventListener('message', (event) => {
      if (this.socket === socket) this.onFrame(String(event.data));
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.rejectPending();
      if (this.current === 'closed') return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.setState('closed');
        this.onClose(event.code, event.reason);
        return;
      }
      this.setState('reconnecting');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.current === 'closed') return;
    const base = this.serverRestarting ? RESTART_RETRY_MS : RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)]!;
    // Jitter, so a whole meeting does not reconnect in lockstep after a server restart.
    const delay = base === 0 ? 0 : base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.current === 'reconnecting') this.open();
    }, delay);
  }

  private rejectPending(): void {
    for (const p of this.pending.values()) p.reject(new SignalingError('SOCKET_CLOSED', 'The connection to the server was lost.'));
    this.pending.clear();
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
    if (message.type === 'server-restarting') this.serverRestarting = true;
    this.onMessage(message);
  }
}
