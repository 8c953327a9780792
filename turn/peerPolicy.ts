/**
 * Which peer addresses the bundled TURN server may relay to (coturn's `denied-peer-ip`
 * model): never into the server's own networks — loopback, link-local, multicast,
 * unspecified, broadcast, this host's own interface addresses — and not into private
 * ranges unless the operator allows them (a LAN deployment). Pure address arithmetic; the
 * exact ip:port exceptions (our own allocations and relay endpoints) live in TurnServer.
 */
import { isIP } from 'node:net';

/** Why a peer address is refused. */
export type PeerRefusal =
  | 'invalid'
  | 'unspecified'
  | 'loopback'
  | 'link-local'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'local-interface'
  | 'denied'
  | 'private';

/** The outcome of `PeerPolicy.check`. */
export type PeerVerdict = { allowed: true } | { allowed: false; reason: PeerRefusal };

/** An address range: every address whose first `bits` bits equal `base`'s. */
export interface IpRange {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

/** The configurable parts of the policy. */
export interface PeerPolicyOptions {
  /** Ranges (CIDR or single IPs) exempt from the private-range default (`TURN_ALLOWED_PEER_IPS`). */
  allowed?: readonly string[];
  /** Extra ranges always refused; wins over `allowed` (`TURN_DENIED_PEER_IPS`). */
  denied?: readonly string[];
  /** This host's own addresses: refused whatever `allowed` says (a datagram to them stays on the host). */
  localAddresses?: readonly string[];
}

interface ParsedIp {
  family: 4 | 6;
  value: bigint;
}

// Never a legitimate media peer, whatever the configuration says.
const ALWAYS_REFUSED: ReadonlyArray<[PeerRefusal, string]> = [
  // Linux delivers 0.0.0.0 (and the rest of 0/8 "this network") to the local host.
  ['unspecified', '0.0.0.0/8'],
  ['unspecified', '::/128'],
  ['loopback', '127.0.0.0/8'],
  ['loopback', '::1/128'],
  ['link-local', '169.254.0.0/16'],
  ['link-local', 'fe80::/10'],
  ['multicast', '224.0.0.0/4'],
  ['multicast', 'ff00::/8'],
  ['broadcast', '255.255.255.255/32'],
  ['reserved', '240.0.0.0/4'],
];

// Refused unless TURN_ALLOWED_PEER_IPS opens them.
const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fec0::/10'];

const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96

/** Decides which peer IPs a TURN allocation may send to. */
export class PeerPolicy {
  readonly #always: ReadonlyArray<[PeerRefusal, IpRange]>;
  readonly #private: readonly IpRange[];
  readonly #allowed: readonly IpRange[];
  readonly #denied: readonly IpRange[];
  readonly #local: ReadonlySet<string>;

  constructor(options: PeerPolicyOptions = {}) {
    this.#always = ALWAYS_REFUSED.map(([reason, cidr]) => [reason, parseIpRange(cidr)]);
    this.#private = PRIVATE_RANGES.map(parseIpRange);
    this.#allowed = (options.allowed ?? []).map(parseIpRange);
    this.#denied = (options.denied ?? []).map(parseIpRange);
    this.#local = new Set((options.localAddresses ?? []).map(canonicalIp).filter((ip): ip is string => ip !== undefined));
  }

  /** Whether a TURN allocation may relay to `ip` (any port). */
  check(ip: string): PeerVerdict {
    const parsed = parseIp(ip);
    if (parsed === undefined) return { allowed: false, reason: 'invalid' };
    for (const [reason, range] of this.#always) if (contains(range, parsed)) return { allowed: false, reason };
    if (this.#local.has(format(parsed))) return { allowed: false, reason: 'local-interface' };
    if (this.#denied.some((r) => contains(r, parsed))) return { allowed: false, reason: 'denied' };
    if (this.#private.some((r) => contains(r, parsed)) && !this.#allowed.some((r) => contains(r, parsed))) {
      return { allowed: false, reason: 'private' };
    }
    return { allowed: true };
  }
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`; throws RangeError when malformed. */
export function parseIpRange(text: string): IpRange {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(address);
  if (ip === undefined) throw new RangeError(`"${text}" is not an IP address or CIDR range`);
  const written = isIP(address) === 6 ? 128 : 32;
  let bits = written;
  if (slash !== -1) {
    const prefix = text.slice(slash + 1);
    bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > written) throw new RangeError(`"${text}" has a prefix length outside 0–${written}`);
  }
  // An IPv4-mapped range (::ffff:10.0.0.0/104) is the IPv4 range it maps.
  if (ip.family === 4 && written === 128) bits = Math.max(bits - 96, 0);
  return { family: ip.family, base: ip.value & mask(ip.family, bits), bits };
}

/** The one spelling of an IP used for comparisons and ip:port keys (IPv4-mapped IPv6 → IPv4); undefined when not an IP. */
export function canonicalIp(ip: string): string | undefined {
  const parsed = parseIp(ip);
  return parsed === undefined ? undefined : format(parsed);
}

/** The `ip:port` key of a UDP endpoint, with the IP in canonical form; undefined when not an IP. */
export function endpointKey(ip: string, port: number): string | undefined {
  const canonical = canonicalIp(ip);
  return canonical === undefined ? undefined : `${canonical}:${port}`;
}

function contains(range: IpRange, ip: ParsedIp): boolean {
  return range.family === ip.family && (ip.value & mask(ip.family, range.bits)) === range.base;
}

function mask(family: 4 | 6, bits: number): bigint {
  const width = family === 4 ? 32n : 128n;
  const all = (1n << width) - 1n;
  return bits === 0 ? 0n : (all >> (width - BigInt(bits))) << (width - BigInt(bits));
}

function parseIp(text: string): ParsedIp | undefined {
  // A scope id (fe80::1%eth0) does not change which range the address is in.
  const ip = text.split('%')[0]!;
  const family = isIP(ip);
  if (family === 4) return { family: 4, value: parseIpv4(ip) };
  if (family !== 6) return undefined;
  const value = parseIpv6(ip);
  // An IPv4-mapped address is that IPv4 address on a dual-stack socket: judge it as one.
  if (value >> 32n === MAPPED_PREFIX >> 32n) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

function parseIpv4(ip: string): bigint {
  return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function parseIpv6(ip: string): bigint {
  let text = ip;
  const groups: number[] = [];
  // A trailing dotted quad (::ffff:127.0.0.1) is the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (dotted !== null) {
    const v4 = Number(parseIpv4(dotted[1]!));
    tail = [v4 >>> 16, v4 & 0xffff];
    text = text.slice(0, -dotted[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':').map((g) => parseInt(g, 16));
  const right = rest === undefined || rest === '' ? [] : rest.split(':').map((g) => parseInt(g, 16));
  const fill = rest === undefined ? 0 : 8 - left.length - right.length - tail.length;
  groups.push(...left, ...new Array<number>(fill).fill(0), ...right, ...tail);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function format(ip: ParsedIp): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => ((ip.value >> shift) & 0xffn).toString()).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((ip.value >> shift) & 0xffffn).toString(16));
  // Unabbreviated but without leading zeros: one spelling per address is all the keys need.
  return groups.join(':');
}
