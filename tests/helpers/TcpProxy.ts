/**
 * A TCP forwarder in front of the coordinator's HTTP port, for signaling faults: a page
 * loaded from the proxy's origin sends its HTTP requests and its `/ws` socket through it.
 *
 * - `cut()` resets every current connection (RST both ways): the client sees the socket
 *   die at once, as when a server or a NAT drops its state.
 * - `stall(true)` stops moving bytes without closing anything, as when a network silently
 *   black-holes: only the client's own timeouts (or the server's heartbeat) can notice.
 *   `stall(false)` delivers what the peers had sent meanwhile.
 * - `refusing` makes new connections fail (accepted, then reset at once: user space cannot
 *   refuse a SYN, and closing the listener could lose the port).
 * - `blackout(on)` is the network going away: stall plus refusing.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Bytes and connections seen since start. */
export interface TcpProxyCounters {
  /** Connections accepted and forwarded (refused ones are not counted here). */
  accepted: number;
  /** Connections reset on arrival while `refusing`. */
  refused: number;
  /** Bytes carried from clients to the target. */
  bytesUp: number;
  /** Bytes carried from the target to clients. */
  bytesDown: number;
}

/** Where to run a TcpProxy. */
export interface TcpProxyOptions {
  /** The TCP service behind the proxy. */
  target: { host: string; port: number };
  /** Address to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
}

/** One client connection and its own connection to the target. */
interface Pair {
  client: Socket;
  upstream: Socket;
}

/** A TCP forwarder that can cut, freeze, or refuse its connections, live. */
export class TcpProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  readonly #counters: TcpProxyCounters = { accepted: 0, refused: 0, bytesUp: 0, bytesDown: 0 };
  #stalled = false;
  #refusing = false;
  #closing: Promise<void> | undefined;

  /** Listens; resolves once bound. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const proxy = new TcpProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        proxy.#server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  private constructor(options: TcpProxyOptions) {
    this.#target = { ...options.target };
    this.#server = createServer((client) => this.#accept(client));
  }

  /** The port clients connect to. */
  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpProxy is not listening');
    return address.port;
  }

  /** `http://<host>:<port>`: load a page from here and its requests and `/ws` go through the proxy. */
  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpProxy is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#pairs.size;
  }

  /** A copy of the counters. */
  counters(): TcpProxyCounters {
    return { ...this.#counters };
  }

  /** True while bytes are frozen. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** True while new connections are reset on arrival. */
  get refusing(): boolean {
    return this.#refusing;
  }

  /** While set, new connections are reset on arrival; current ones carry on. */
  set refusing(on: boolean) {
    this.#refusing = on;
  }

  /** Freezes (or thaws) every byte in both directions, on current and new connections, without closing anything. */
  stall(on: boolean): void {
    this.#stalled = on;
    for (const { client, upstream } of this.#pairs) {
      for (const socket of [client, upstream]) {
        if (on) socket.pause();
        // Only a side whose peer can take more: otherwise its 'drain' resumes it.
        else if (!peerOf(socket, client, upstream).writableNeedDrain) socket.resume();
      }
    }
  }

  /** The network goes away (stall and refuse) or comes back. */
  blackout(on: boolean): void {
    this.refusing = on;
    this.stall(on);
  }

  /** Resets every current connection, both sides, at once. */
  cut(): void {
    for (const pair of [...this.#pairs]) this.#drop(pair);
  }

  /** Resets every connection and stops listening. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.cut();
      this.#server.close(() => resolve());
    });
    return this.#closing;
  }

  #accept(client: Socket): void {
    if (this.#closing !== undefined || this.#refusing) {
      this.#counters.refused += this.#closing === undefined ? 1 : 0;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    this.#counters.accepted++;
    client.setNoDelay(true);
    const upstream = createConnection({ host: this.#target.host, port: this.#target.port });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    this.#pairs.add(pair);
    if (this.#stalled) {
      client.pause();
      upstream.pause();
    }
    this.#forward(client, upstream, 'bytesUp');
    this.#forward(upstream, client, 'bytesDown');
    // A side that fails takes the other down abruptly (a proxy holding half a connection
    // would hide the fault from the side that should see it); a side that closes cleanly
    // only ends the other, so bytes still buffered for it are delivered first.
    for (const socket of [client, upstream]) {
      const other = peerOf(socket, client, upstream);
      socket.on('error', () => this.#drop(pair));
      socket.on('close', () => {
        if (other.destroyed) this.#pairs.delete(pair);
        else other.end();
      });
    }
  }

  /** Copies bytes from `from` to `to` with backpressure, unless stalled. */
  #forward(from: Socket, to: Socket, counter: 'bytesUp' | 'bytesDown'): void {
    from.on('data', (chunk: Buffer) => {
      this.#counters[counter] += chunk.length;
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!this.#stalled) from.resume();
    });
    from.on('end', () => to.end());
  }

  #drop(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    for (const socket of [pair.client, pair.upstream]) {
      if (socket.destroyed) continue;
      // resetAndDestroy needs a connected handle; a socket still connecting is just destroyed.
      // So is one whose graceful shutdown (end) has begun: a reset racing that pending
      // shutdown request leaves it in Node's exit teardown for ever (the process spun at
      // 100% CPU in Environment::CleanupHandles after its tests; libp2p hit the same).
      if (socket.connecting || socket.writableEnded) socket.destroy();
      else socket.resetAndDestroy();
    }
  }
}

function peerOf(socket: Socket, client: Socket, upstream: Socket): Socket {
  return socket === client ? upstream : client;
}
