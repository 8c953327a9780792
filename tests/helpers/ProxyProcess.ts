/**
 * A UdpImpairProxy in a process of its own, for runs that keep the machine's cores busy with
 * browsers (weak-viewer, slow-network). The proxy stands for a network link; in the test's
 * own process its event loop also runs Playwright and the analysis of what the pages
 * report, and stalled there for 100–500 ms at a time in weak-viewer (its loop delay, p99.9,
 * in most 5 s windows) — a link that stops for half a second, which a real one does not:
 * the person behind it had their browser's estimator read the stall as congestion and send
 * only its low layer for many seconds. Here nothing else runs in the proxy's loop.
 *
 * The same options and the same calls as UdpImpairProxy, answered over IPC (so they resolve
 * once the child has applied them).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Direction, Impairment, UdpImpairProxyOptions, UdpProxyCounters } from './UdpImpairProxy';

/** What the test asks of the child. */
export type ProxyRequest =
  | { id: number; op: 'set'; impairment: Partial<Impairment>; direction: Direction | 'both' }
  | { id: number; op: 'counters' }
  | { id: number; op: 'resetCounters' }
  | { id: number; op: 'close' };

/** What the child answers: its address once it listens, then one reply per request. */
export type ProxyReply =
  | { op: 'listening'; address: string; port: number }
  | { op: 'failed'; error: string }
  | { id: number; counters?: UdpProxyCounters };

const HOST = join(import.meta.dirname, 'proxyHost.ts');

export class ProxyProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: { counters?: UdpProxyCounters }) => void; reject: (error: Error) => void }>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly address: { address: string; port: number },
  ) {
    child.on('message', (reply: ProxyReply) => {
      if (!('id' in reply)) return;
      this.pending.get(reply.id)?.resolve(reply);
      this.pending.delete(reply.id);
    });
    // A child that dies leaves no request waiting for ever.
    child.once('exit', (code) => {
      for (const { reject } of this.pending.values()) reject(new Error(`proxy process exited (${code})`));
      this.pending.clear();
    });
  }

  /** Starts the child and its proxy; resolves once it listens. JSON IPC: `options` must be plain data. */
  static async start(options: UdpImpairProxyOptions): Promise<ProxyProcess> {
    const child = fork(HOST, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const address = await new Promise<{ address: string; port: number }>((resolve, reject) => {
      child.once('message', (reply: ProxyReply) => {
        if ('op' in reply && reply.op === 'listening') resolve({ address: reply.address, port: reply.port });
        else reject(new Error(`proxy process: ${'error' in reply ? reply.error : 'unexpected reply'}`));
      });
      child.once('exit', (code) => reject(new Error(`proxy process exited (${code}) before it listened`)));
    });
    return new ProxyProcess(child, address);
  }

  get port(): number {
    return this.address.port;
  }

  /** As UdpImpairProxy.set; resolves once the proxy applies it. */
  async set(impairment: Partial<Impairment>, direction: Direction | 'both' = 'both'): Promise<void> {
    await this.request({ op: 'set', impairment, direction });
  }

  async counters(): Promise<UdpProxyCounters> {
    const { counters } = await this.request({ op: 'counters' });
    if (!counters) throw new Error('proxy process: no counters in its reply');
    return counters;
  }

  async resetCounters(): Promise<void> {
    await this.request({ op: 'resetCounters' });
  }

  /** Closes the proxy and ends the child. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.child.exitCode === null && this.child.connected) {
        const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
        await this.request({ op: 'close' }).catch(() => {});
        await exited;
      }
    })();
    return this.closing;
  }

  private request(body: DistributiveOmit<ProxyRequest, 'id'>): Promise<{ counters?: UdpProxyCounters }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) {
        reject(new Error('proxy process: gone'));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...body, id } as ProxyRequest);
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
