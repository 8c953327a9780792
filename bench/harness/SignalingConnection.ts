/**
 * A `/ws` client for load tools: typed requests with their replies, and one handler for
 * everything else. Unlike the tests' `TestSocket` it keeps nothing it was sent (a load run
 * of an hour receives millions of `speakers` messages).
 */
import WebSocket from 'ws';
import { SignalingError } from '../../client/signaling/SignalingClient';
import type { ClientMessage, ClientRequest, ServerMessage } from '../../protocol/signaling';

export { SignalingError };

export class SignalingConnection {
  /** Every server message that is not a reply to a request. */
  onMessage: (message: ServerMessage) => void = () => {};
  /** The socket closed (by either side). */
  onClose: () => void = () => {};
  private readonly pending = new Map<number, { resolve: (m: ServerMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.receive(JSON.parse(data.toString('utf8')) as ServerMessage));
    ws.on('close', () => {
      this.closed = true;
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new SignalingError('SOCKET_CLOSED', 'the signaling socket closed'));
      }
      this.pending.clear();
      this.onClose();
    });
    ws.on('error', () => undefined); // followed by 'close'
  }

  /** Opens `/ws`; `origin` is sent as the browser would (the server checks it). */
  static async open(wsUrl: string, timeoutMs: number, origin?: string): Promise<SignalingConnection> {
    const ws = new WebSocket(wsUrl, origin ? { headers: { Origin: origin } } : {});
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new SignalingError('WS_TIMEOUT', `the signaling socket did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new SignalingError('WS_FAILED', err.message));
      });
    });
    return new SignalingConnection(ws);
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a request; resolves with its reply, rejects with the server's error code or a timeout. */
  request(message: ClientRequest, timeoutMs: number): Promise<ServerMessage> {
    if (!this.isOpen) return Promise.reject(new SignalingError('SOCKET_CLOSED', 'the signaling socket is closed'));
    const id = this.nextId++;
    return new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError('REQUEST_TIMEOUT', `no reply to ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (reply) => (reply.type === 'error' ? reject(new SignalingError(reply.code, reply.message)) : resolve(reply)),
        reject,
        timer,
      });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  /**
   * A WebSocket ping and its pong, in ms: the server's main thread answers it (the `ws`
   * library, no handler of ours), so it is the signaling round trip a person would get.
   */
  ping(timeoutMs = 5000): Promise<number> {
    if (!this.isOpen) return Promise.reject(new SignalingError('SOCKET_CLOSED', 'the signaling socket is closed'));
    const sent = performance.now();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ws.off('pong', onPong);
        reject(new SignalingError('PING_TIMEOUT', `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      const onPong = () => {
        clearTimeout(timer);
        resolve(performance.now() - sent);
      };
      this.ws.once('pong', onPong);
      this.ws.ping();
    });
  }

  /** Sends a message that has no reply; dropped when the socket is closed. */
  send(message: Exclude<ClientMessage, { id: number }>): void {
    if (this.isOpen) this.ws.send(JSON.stringify(message));
  }

  /** Leaves (when still open) and closes. */
  close(): void {
    if (this.isOpen) {
      this.send({ type: 'leave' });
      this.ws.close();
    } else {
      this.ws.terminate();
    }
  }

  private receive(message: ServerMessage): void {
    const id = 'id' in message ? message.id : undefined;
    const waiter = id === undefined ? undefined : this.pending.get(id);
    if (waiter && id !== undefined) {
      this.pending.delete(id);
      clearTimeout(waiter.timer);
      waiter.resolve(message);
      return;
    }
    this.onMessage(message);
  }
}
