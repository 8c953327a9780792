/**
 * This node's inbox on Redis pub/sub and its way to write to the others'. One publishing
 * connection keeps every message from here to a node in order (Redis delivers a
 * connection's publishes in order); requests wait for their `result` with a timeout.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { CodedError } from '../../protocol/errors';
import { decodeNodeMessage, type NodeMessage } from './NodeMessage';
import { keys } from './RedisDirectory';

export type NodeResult = Extract<NodeMessage, { type: 'result' }>;
type NodeRequest = Extract<NodeMessage, { type: 'create' | 'cancel' }>;
/** A request as its sender writes it: the bus adds the id and the sender. */
export type NodeRequestBody = NodeRequest extends infer R ? (R extends NodeRequest ? Omit<R, 'requestId' | 'from'> : never) : never;

interface Pending {
  resolve(result: NodeResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class NodeBus {
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    readonly nodeId: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Listens on this node's inbox; `onMessage` gets every valid message that is not a `result`. */
  async start(onMessage: (message: NodeMessage) => void): Promise<void> {
    this.subscriber.on('message', (_channel: string, raw: string) => {
      const message = decodeNodeMessage(raw);
      if (!message) {
        this.log.warn({ bytes: raw.length }, 'cluster: dropped a malformed node message');
        return;
      }
      if (message.type === 'result') {
        const waiting = this.pending.get(message.requestId);
        if (!waiting) return;
        this.pending.delete(message.requestId);
        clearTimeout(waiting.timer);
        waiting.resolve(message);
        return;
      }
      try {
        onMessage(message);
      } catch (err) {
        this.log.error({ err, type: message.type }, 'cluster: handling a node message failed');
      }
    });
    await this.subscriber.subscribe(keys.inbox(this.nodeId));
  }

  /** Sends without waiting; a failure is logged (the receiver's own timeouts cover it). */
  send(nodeId: string, message: NodeMessage): void {
    if (this.closed) return;
    this.publisher.publish(keys.inbox(nodeId), JSON.stringify(message)).catch((err: unknown) => {
      this.log.warn({ err, nodeId, type: message.type }, 'cluster: publishing to a node failed');
    });
  }

  /** Sends a request and waits for its `result` (UNAVAILABLE after `timeoutMs`). */
  request(nodeId: string, body: NodeRequestBody, timeoutMs: number): Promise<NodeResult> {
    const requestId = randomUUID();
    return new Promise<NodeResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new CodedError('NODE_UNAVAILABLE', `node ${nodeId} did not answer`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      this.send(nodeId, { ...body, requestId, from: this.nodeId } as NodeRequest);
    });
  }

  /** Answers a request. */
  reply(request: NodeRequest, result: Omit<NodeResult, 'type' | 'requestId'>): void {
    this.send(request.from, { type: 'result', requestId: request.requestId, ...result });
  }

  close(): void {
    this.closed = true;
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new CodedError('NODE_UNAVAILABLE', 'the node is stopping'));
    }
    this.pending.clear();
  }
}
