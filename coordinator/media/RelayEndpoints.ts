/**
 * The live UDP endpoints (ip:port) of this server's media relay, for the bundled TURN
 * server's peer policy: a browser forced through TURN must still reach the relay when it
 * listens on loopback or a private address, which the policy otherwise refuses.
 */
import { endpointKey } from '../../turn/peerPolicy';

/** Where the endpoints come from (MediaPlane). */
export interface RelayEndpointSource {
  relayEndpoints(): Iterable<{ address: string; port: number }>;
}

// TURN asks on every relayed datagram, so answers come from a cached set: rebuilt when older
// than MAX_AGE_MS (closed connections drop out), and on a miss once MIN_AGE_MS has passed (a
// connection created a moment ago is found; a flood of refused peers rebuilds it rarely).
const MAX_AGE_MS = 1000;
const MIN_AGE_MS = 50;

/** Answers "is ip:port one of our relay's sockets?" from a briefly cached snapshot. */
export class RelayEndpoints {
  #keys = new Set<string>();
  #builtAt = -Infinity;

  constructor(
    private readonly source: RelayEndpointSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when `ip`:`port` is a UDP endpoint of a live relay connection. */
  has(ip: string, port: number): boolean {
    const key = endpointKey(ip, port);
    if (key === undefined) return false;
    const age = this.now() - this.#builtAt;
    if (age > MAX_AGE_MS) this.#rebuild();
    else if (!this.#keys.has(key) && age > MIN_AGE_MS) this.#rebuild();
    return this.#keys.has(key);
  }

  #rebuild(): void {
    const keys = new Set<string>();
    for (const { address, port } of this.source.relayEndpoints()) {
      const key = endpointKey(address, port);
      if (key !== undefined) keys.add(key);
    }
    this.#keys = keys;
    this.#builtAt = this.now();
  }
}
