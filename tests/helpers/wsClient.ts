/** A signaling client for tests: real WebSocket, records every server message. */
import WebSocket from 'ws';
import type { ClientMessage, ClientRequest, ServerMessage, ServerMessageOf, ServerMessageType } from '../../protocol/signaling';
import { waitFor } from './wait';

export class TestSocket {
  readonly received: ServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.received.push(JSON.parse(data.toString('utf8')) as ServerMessage));
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  /** Opens a socket; `headers` such as `Origin` or `X-Forwarded-For` go with the upgrade. */
  static async connect(wsUrl: string, headers: Record<string, string> = {}): Promise<TestSocket> {
    const ws = new WebSocket(wsUrl, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TestSocket(ws);
  }

  /** Sends a typed client message that expects no reply. */
  send(message: Exclude<ClientMessage, { id: number }>): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends a request with a fresh id and returns the id (see `reply`). */
  request(message: ClientRequest): number {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...message, id }));
    return id;
  }

  /** Sends anything, e.g. malformed input. */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** All received messages of one type. */
  all<T extends ServerMessageType>(type: T): ServerMessageOf<T>[] {
    return this.received.filter((m): m is ServerMessageOf<T> => m.type === type);
  }

  /** Waits for a message of `type` matching `match` (searching everything received so far). */
  async next<T extends ServerMessageType>(
    type: T,
    match: (m: ServerMessageOf<T>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ServerMessageOf<T>> {
    return waitFor(() => this.all(type).find(match), timeoutMs, `a "${type}" message`);
  }

  /** The reply (any type) to request `id`. */
  async reply(id: number, timeoutMs = 5000): Promise<ServerMessage> {
    return waitFor(() => this.received.find((m) => 'id' in m && m.id === id), timeoutMs, `the reply to request ${id}`);
  }

  /** Joins a meeting and returns the `joined` reply. */
  async join(meetingId: string, name: string, creatorToken?: string): Promise<ServerMessageOf<'joined'>> {
    const id = this.request({ type: 'join', meetingId, name, ...(creatorToken ? { creatorToken } : {}) });
    const reply = await this.reply(id);
    if (reply.type !== 'joined') throw new Error(`join failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  close(): void {
    this.ws.close();
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, timeoutMs, 'the socket to close');
  }
}
