/**
 * Impaired networks for browser tests, in user space (this kernel has no netem):
 *
 * ```ts
 * const server = await startServer({}, {}, { turn: true });
 * const net = await impairedTurn(server);          // media: browsers joining with ?ice=relay
 * net.proxy.set({ loss: 0.05, delayMs: 50, jitterMs: 20 });
 * const signaling = await impairedSignaling(server); // pages opened from signaling.url
 * signaling.proxy.stall(true);
 * ```
 *
 * Only what goes through TURN is impaired: a browser must join with `?ice=relay` (relay-only
 * ICE), else its host candidates connect directly around the proxy. Between two browsers
 * both forced through TURN, media crosses the proxy twice (sender's leg up, receiver's leg
 * down), so a per-datagram loss p drops about 1-(1-p)² end to end and delays add up.
 */
import { TcpProxy } from './TcpProxy';
import { UdpImpairProxy, type UdpImpairProxyOptions } from './UdpImpairProxy';
import type { TestServer } from './server';

/** A UDP impairment proxy in front of a test server's bundled TURN server. */
export interface ImpairedTurn {
  proxy: UdpImpairProxy;
  /** Advertises the TURN server's own port again and closes the proxy. Idempotent. */
  close(): Promise<void>;
}

/** A TCP proxy in front of a test server's HTTP port. */
export interface ImpairedSignaling {
  proxy: TcpProxy;
  /** The base URL to open pages from (`${url}/m/<id>`): their HTTP and `/ws` cross the proxy. */
  url: string;
  /** Closes the proxy and every connection through it. Idempotent. */
  close(): Promise<void>;
}

/** Puts a UdpImpairProxy in front of `server`'s TURN server and advertises it to everyone who joins from now on. */
export async function impairedTurn(server: TestServer, options: Omit<UdpImpairProxyOptions, 'target'> = {}): Promise<ImpairedTurn> {
  const turn = server.turn;
  if (turn === undefined) throw new Error('impairedTurn: start the server with startServer({}, {}, { turn: true })');
  const proxy = await UdpImpairProxy.start({ ...options, target: { address: '127.0.0.1', port: turn.server.port } });
  turn.advertise(proxy.port);
  let closing: Promise<void> | undefined;
  return {
    proxy,
    close() {
      closing ??= (async () => {
        if (turn.advertisedPort === proxy.port) turn.advertise(undefined);
        await proxy.close();
      })();
      return closing;
    },
  };
}

/** Puts a TcpProxy in front of `server`'s HTTP(S) port; pages opened from `url` signal through it. */
export async function impairedSignaling(server: TestServer): Promise<ImpairedSignaling> {
  const target = new URL(server.url);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const proxy = await TcpProxy.start({ target: { host, port: Number(target.port) }, host });
  // Bytes are forwarded untouched, so an HTTPS server stays HTTPS through the proxy.
  const url = `${target.protocol}//${target.hostname}:${proxy.port}`;
  return { proxy, url, close: () => proxy.close() };
}
