/**
 * Where the media relay can be reached: the UDP port of each media worker (`RELAY_PORT`)
 * and the addresses its candidates carry (`RELAY_ANNOUNCED_IP`, else this machine's interface
 * addresses and the extra host addresses). What `npm start` prints and what the workers use
 * come from here, so the two cannot disagree.
 *
 * One port per worker process: libjuice's ICE UDP mux owns its socket alone (no
 * SO_REUSEPORT, and an incoming STUN request must reach the process holding its ufrag), so
 * worker `i` binds `RELAY_PORT + i`. `MEDIA_WORKERS=1` (or 0) makes it exactly one port.
 */
import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

/** The relay's network settings (`RELAY_PORT`, `RELAY_ANNOUNCED_IP`). */
export interface RelayNetworkConfig {
  /** First UDP port of the relay (worker `i` uses `port + i`); 0 = a free port per worker; unset = a fresh port per connection. */
  udpPort?: number;
  /** The address the relay's candidates carry instead of its interface addresses. */
  announcedIp?: string;
}

/** The mux port of media worker `index` (the main thread counts as worker 0); undefined: no mux. */
export function workerUdpPort(network: RelayNetworkConfig, index: number): number | undefined {
  if (network.udpPort === undefined) return undefined;
  return network.udpPort === 0 ? 0 : network.udpPort + index;
}

/** The media worker processes a setting of `MEDIA_WORKERS` runs (0 = one, on the main thread). */
export function workerProcesses(mediaWorkers: number): number {
  return Math.max(1, mediaWorkers);
}

/**
 * The address the relay binds when the announced address is one of this machine's own (an
 * interface address, or loopback while `lo` is up): replies then leave from the address the
 * browser sent to (from a wildcard socket the kernel would pick another source, and the
 * browser would see a different, peer-reflexive, remote end). Behind 1:1 NAT the announced
 * address is not local: undefined, the relay listens on every address.
 */
export function relayBindAddress(network: RelayNetworkConfig, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string | undefined {
  const announced = network.announcedIp;
  if (announced === undefined) return undefined;
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  if (all.some((i) => i.address === announced)) return announced;
  const loopbackUp = all.some((i) => i.internal && i.family === 'IPv4' && i.address.startsWith('127.'));
  return loopbackUp && /^127\./.test(announced) ? announced : undefined;
}

/** What the relay offers browsers: the addresses in its candidates and on which ports. */
export interface RelayOffer {
  addresses: string[];
  /** `[first, last]` UDP port, `'free'` (RELAY_PORT=0), or `'per-connection'` (RELAY_PORT unset). */
  ports: [number, number] | 'free' | 'per-connection';
  announced: boolean;
}

/**
 * The addresses and ports the relay will offer, from the settings and this machine's
 * interfaces (`os.networkInterfaces()`), as libjuice gathers them: every non-internal
 * interface address (IPv6 link-local excepted) plus the extra host addresses.
 */
export function relayOffer(
  network: RelayNetworkConfig,
  mediaWorkers: number,
  hostAddresses: readonly string[],
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
): RelayOffer {
  const workers = workerProcesses(mediaWorkers);
  const ports: RelayOffer['ports'] =
    network.udpPort === undefined ? 'per-connection' : network.udpPort === 0 ? 'free' : [network.udpPort, network.udpPort + workers - 1];
  if (network.announcedIp !== undefined) return { addresses: [network.announcedIp], ports, announced: true };
  const addresses: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.internal || (i.family === 'IPv6' && /^fe80:/i.test(i.address))) continue;
      if (!addresses.includes(i.address)) addresses.push(i.address);
    }
  }
  for (const extra of hostAddresses) if (!addresses.includes(extra)) addresses.push(extra);
  return { addresses, ports, announced: false };
}

/**
 * True for an address no one on the Internet can reach: loopback, RFC 1918, shared
 * (RFC 6598, carrier-grade NAT), link-local, unique-local IPv6 (fc00::/7), unspecified.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
      || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  if (family === 6) {
    const lower = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped) return isPrivateAddress(mapped[1]!);
    return lower === '::1' || lower === '::' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
  }
  return false;
}

/** True when a host name or address (of `PUBLIC_URL`) is this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\./.test(bare);
}

/**
 * The start warning for a deployment browsers elsewhere cannot use: a `PUBLIC_URL` that is
 * not this machine only, while every address the relay offers is private. Undefined when fine.
 */
export function privateRelayWarning(publicUrl: string | undefined, offer: RelayOffer): string | undefined {
  if (publicUrl === undefined) return undefined;
  const host = new URL(publicUrl).hostname;
  if (isLoopbackHost(host) || offer.addresses.some((a) => !isPrivateAddress(a))) return undefined;
  // A private PUBLIC_URL is a LAN deployment: private relay addresses are what it needs.
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 && isPrivateAddress(host.replace(/^\[|\]$/g, ''))) return undefined;
  return `PUBLIC_URL ${publicUrl} is served, but the relay offers only private addresses (${offer.addresses.join(', ')}): `
    + 'browsers outside this network cannot reach meetings of three or more. Set RELAY_ANNOUNCED_IP to the public address '
    + '(and RELAY_PORT to the UDP port open in the firewall).';
}
