/**
 * The bundled TURN server: node-turn (UDP only) holding exactly the short-lived REST
 * credentials we issued, each removed again when it expires or its participant leaves,
 * so the relay is never open to strangers.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import NodeTurn from 'node-turn';
import { issueTurnCredential, type TurnCredential } from './credentials';
import { DEFAULT_TURN_PORT, DEFAULT_TURN_REALM, type BundledTurn, type BundledTurnConfig } from './iceServers';
import { closeQuietly, patchNodeTurn, stopNodeTurn } from './patchNodeTurn';
import { canonicalIp, endpointKey, PeerPolicy } from './peerPolicy';

/** The slice of a pino/Fastify logger the TURN server writes to. */
export interface TurnLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How to run the bundled TURN server. */
export interface TurnServerOptions {
  /** UDP port; 0 picks a free one. Default 3478. */
  port?: number;
  /** Local addresses to listen on. `0.0.0.0` / `::` expand to every interface. Default `['127.0.0.1']`. */
  listeningIps?: string[];
  /** Local addresses for relay sockets. Default: the listening address the client reached. */
  relayIps?: string[];
  /** Address(es) written into relayed candidates when behind a NAT (node-turn's `externalIps`). */
  externalIps?: string | Record<string, string>;
  /** Long-term credential realm. Default `meetmesh`. */
  realm?: string;
  /** Secret the credentials are derived from. Default: 32 random bytes. */
  secret?: string;
  /** Relay port range. Default 49152–65535. */
  minPort?: number;
  maxPort?: number;
  /** Private ranges (CIDRs or IPs) peers may be in, e.g. a LAN deployment (`TURN_ALLOWED_PEER_IPS`). */
  allowedPeerIps?: readonly string[];
  /** Extra ranges peers may never be in; wins over `allowedPeerIps` (`TURN_DENIED_PEER_IPS`). */
  deniedPeerIps?: readonly string[];
  /** This host's addresses, never a peer (except exact endpoints). Default: every interface address. */
  localAddresses?: readonly string[];
  /**
   * Exact endpoints of this server allowed as peers although their address is refused:
   * the media relay's own UDP sockets, so a browser forced through TURN reaches the relay
   * on loopback. `ip` is canonical (IPv4-mapped IPv6 as IPv4). Read on every check: live.
   */
  isPeerAllowed?: (ip: string, port: number) => boolean;
  logger?: TurnLogger;
}

/** The server's life: `new` → `starting` → `listening` → `closed` (or `starting` → `closed`). */
export type TurnServerState = 'new' | 'starting' | 'listening' | 'closed';

interface IssuedCredential {
  userId: string;
  password: string;
  expiresAt: number;
  timer: ReturnType<typeof setTimeout>;
}

type Allocation = NodeTurn['allocations'][string];

// setTimeout overflows above ~24.8 days and would fire at once; longer waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1;
const ALLOCATION_LIFETIME_S = 600;
const MAX_ALLOCATION_LIFETIME_S = 3600;
/** Peer addresses whose policy verdict is remembered (the policy is fixed for the server's life). */
const MAX_ADDRESS_VERDICTS = 4096;
// Only for a port we picked ourselves: someone may take it between our probe and node-turn's bind.
const START_ATTEMPTS = 5;

/** The bundled STUN/TURN server; issues and revokes the credentials it accepts. */
export class TurnServer implements BundledTurn {
  /** The long-term credential realm clients must use. */
  readonly realm: string;
  readonly #options: TurnServerOptions;
  readonly #secret: string;
  readonly #logger: TurnLogger | undefined;
  readonly #addressVerdicts = new Map<string, { canonical: string | undefined; allowed: boolean }>();
  readonly #issued = new Map<string, IssuedCredential>();
  /** Expired credentials that still back a live allocation (username → userId): Refresh only. */
  readonly #retired = new Map<string, string>();
  readonly #policy: PeerPolicy;
  /** `ip:port` of every live allocation's relay socket (and its advertised address), as peers. */
  readonly #relayed = new Map<string, number>();
  /** The keys each allocation added to #relayed, kept because its sockets are closed by removal time. */
  readonly #relayedBy = new WeakMap<Allocation, string[]>();
  #state: TurnServerState = 'new';
  #turn: NodeTurn | undefined;
  #port: number;
  #addresses: string[] = [];

  /** A TurnServer for the bundled mode of `turnConfigFromEnv`. */
  static fromConfig(
    config: BundledTurnConfig,
    logger?: TurnLogger,
    isPeerAllowed?: TurnServerOptions['isPeerAllowed'],
  ): TurnServer {
    return new TurnServer({
      port: config.port,
      listeningIps: config.listeningIps,
      relayIps: config.relayIps,
      externalIps: config.externalIp,
      realm: config.realm,
      secret: config.secret,
      allowedPeerIps: config.allowedPeerIps,
      deniedPeerIps: config.deniedPeerIps,
      ...(isPeerAllowed !== undefined ? { isPeerAllowed } : {}),
      logger,
    });
  }

  constructor(options: TurnServerOptions = {}) {
    const port = options.port ?? DEFAULT_TURN_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`TURN port ${port} is out of range`);
    for (const ip of [...(options.listeningIps ?? []), ...(options.relayIps ?? [])]) {
      if (isIP(ip) === 0) throw new TypeError(`TURN address "${ip}" is not an IP address`);
    }
    this.#options = options;
    this.#port = port;
    this.realm = options.realm ?? DEFAULT_TURN_REALM;
    this.#secret = options.secret ?? randomBytes(32).toString('base64url');
    this.#logger = options.logger;
    this.#policy = new PeerPolicy({
      allowed: options.allowedPeerIps ?? [],
      denied: options.deniedPeerIps ?? [],
      localAddresses: options.localAddresses ?? interfaceAddresses(),
    });
  }

  /** Where the server is in its life. */
  get state(): TurnServerState {
    return this.#state;
  }

  /** The UDP port: the bound one once listening, the requested one before. */
  get port(): number {
    return this.#port;
  }

  /** The local addresses listened on (wildcards expanded), once listening. */
  get addresses(): readonly string[] {
    return this.#addresses;
  }

  /** Binds the UDP sockets; resolves once every listening address is bound. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`TurnServer.start: server is already ${this.#state}`);
    this.#setState('starting');
    const addresses = expandWildcards(this.#options.listeningIps ?? ['127.0.0.1']);
    if (addresses.length === 0) {
      this.#setState('closed');
      throw new Error('TurnServer.start: no address to listen on');
    }
    const pickPort = this.#port === 0;
    let lastError: unknown;
    for (let attempt = 1; attempt <= (pickPort ? START_ATTEMPTS : 1); attempt++) {
      try {
        // node-turn treats port 0 as "default" (3478) and never reports the bound port, so
        // we find a port free on every address ourselves and hand it the number.
        const port = pickPort ? await freeUdpPort(addresses) : this.#port;
        if (this.#isClosed()) return;
        // Kept before binding so a credential issued meanwhile reaches this instance.
        this.#turn = this.#createNodeTurn(port, addresses);
        this.#turn.start();
        await whenBound(this.#turn.network.sockets);
        if (this.#isClosed()) return; // close() has stopped it already
        this.#port = port;
        this.#addresses = addresses;
        this.#setState('listening');
        return;
      } catch (err) {
        if (this.#isClosed()) return;
        if (this.#turn !== undefined) stopNodeTurn(this.#turn);
        this.#turn = undefined;
        lastError = err;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    this.#setState('closed');
    throw lastError;
  }

  /** Mints a credential for `userId` that the server accepts for `ttlSeconds`. */
  issue(userId: string, ttlSeconds: number): TurnCredential {
    if (this.#state === 'closed') throw new Error('TurnServer.issue: server is closed');
    const credential = issueTurnCredential(this.#secret, userId, ttlSeconds);
    const previous = this.#issued.get(credential.username);
    if (previous !== undefined) clearTimeout(previous.timer);
    this.#retired.delete(credential.username);
    this.#issued.set(credential.username, {
      userId,
      password: credential.credential,
      expiresAt: credential.expiresAt,
      timer: this.#scheduleExpiry(credential.username, credential.expiresAt),
    });
    this.#turn?.addUser(credential.username, credential.credential);
    this.#logger?.debug({ userId, expiresAt: credential.expiresAt }, 'TURN credential issued');
    return credential;
  }

  /** Withdraws every credential of `userId` (a participant left) and ends its relays now. */
  revoke(userId: string): void {
    for (const [username, issued] of this.#issued) {
      if (issued.userId !== userId) continue;
      this.#remove(username);
      this.#endAllocationsOf(username);
    }
    for (const [username, owner] of this.#retired) {
      if (owner !== userId) continue;
      this.#retired.delete(username);
      this.#turn?.removeUser(username);
      this.#endAllocationsOf(username);
    }
    this.#logger?.debug({ userId }, 'TURN credentials revoked');
  }

  /**
   * Whether an allocation may relay to `ip`:`port`: another allocation of this server, or an
   * endpoint `isPeerAllowed` names, exactly; otherwise any port of an address the peer
   * policy allows.
   */
  mayRelayTo(ip: string, port: number): boolean {
    // Asked for every Send indication, so per packet: the address arithmetic is done once per address.
    let known = this.#addressVerdicts.get(ip);
    if (known === undefined) {
      const canonical = canonicalIp(ip);
      known = { canonical, allowed: canonical !== undefined && this.#policy.check(canonical).allowed };
      if (this.#addressVerdicts.size >= MAX_ADDRESS_VERDICTS) this.#addressVerdicts.clear();
      this.#addressVerdicts.set(ip, known);
    }
    const { canonical, allowed } = known;
    if (canonical === undefined) return false;
    if (this.#relayed.has(`${canonical}:${port}`)) return true;
    if (this.#options.isPeerAllowed?.(canonical, port) === true) return true;
    return allowed;
  }

  /** True while the server accepts `username` (issued, not yet expired or revoked). */
  hasCredential(username: string): boolean {
    return this.#issued.has(username);
  }

  /** Stops listening, closes every relay socket and forgets all credentials. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#setState('closed');
    for (const issued of this.#issued.values()) clearTimeout(issued.timer);
    this.#issued.clear();
    this.#retired.clear();
    if (this.#turn !== undefined) {
      stopNodeTurn(this.#turn);
      this.#turn = undefined;
    }
    this.#relayed.clear();
  }

  #setState(next: TurnServerState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    if (next === 'listening') {
      this.#logger?.info({ port: this.#port, addresses: this.#addresses, realm: this.realm }, 'TURN server listening');
    } else {
      this.#logger?.debug({ from: previous, to: next }, `TURN server ${previous} -> ${next}`);
    }
  }

  // A method, not a state read, so TypeScript does not narrow #state across awaits.
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #scheduleExpiry(username: string, expiresAt: number): ReturnType<typeof setTimeout> {
    const delay = Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      const issued = this.#issued.get(username);
      if (issued === undefined || issued.timer !== timer) return;
      if (Date.now() < expiresAt) {
        issued.timer = this.#scheduleExpiry(username, expiresAt);
        return;
      }
      this.#remove(username);
      // A browser refreshes its allocation with the credential it allocated with (RFC 5766
      // §7) and never switches to a newer one: keep an expired credential for Refresh while
      // its allocations live, so a meeting may outlast the TTL. Only revoke() ends them.
      if (this.#hasAllocations(username)) {
        this.#retired.set(username, issued.userId);
        this.#turn?.addUser(username, issued.password);
      }
      this.#logger?.debug({ userId: issued.userId }, 'TURN credential expired');
    }, delay);
    // A pending expiry must never keep the process alive.
    timer.unref();
    return timer;
  }

  #remove(username: string): void {
    const issued = this.#issued.get(username);
    if (issued === undefined) return;
    clearTimeout(issued.timer);
    this.#issued.delete(username);
    this.#turn?.removeUser(username);
  }

  #hasAllocations(username: string): boolean {
    return Object.values(this.#turn?.allocations ?? {}).some((a) => a.user?.username === username);
  }

  #allocationAdded(allocation: Allocation): void {
    const keys = relayedKeys(allocation);
    this.#relayedBy.set(allocation, keys);
    for (const key of keys) this.#relayed.set(key, (this.#relayed.get(key) ?? 0) + 1);
  }

  #allocationRemoved(allocation: Allocation): void {
    for (const key of this.#relayedBy.get(allocation) ?? []) {
      const count = (this.#relayed.get(key) ?? 0) - 1;
      if (count > 0) this.#relayed.set(key, count);
      else this.#relayed.delete(key);
    }
    // A retired credential lives only as long as the allocations it backs.
    const username = allocation.user?.username;
    if (username !== undefined && this.#retired.has(username) && !this.#hasAllocations(username)) {
      this.#retired.delete(username);
      this.#turn?.removeUser(username);
    }
  }

  #endAllocationsOf(username: string): void {
    const allocations = this.#turn?.allocations;
    if (allocations === undefined) return;
    for (const [fiveTuple, allocation] of Object.entries(allocations)) {
      if (allocation.user?.username === username) delete allocations[fiveTuple];
    }
  }

  #createNodeTurn(port: number, addresses: string[]): NodeTurn {
    const credentials: Record<string, string> = Object.create(null);
    for (const [username, issued] of this.#issued) credentials[username] = issued.password;
    const turn = new NodeTurn({
      listeningPort: port,
      listeningIps: addresses,
      relayIps: this.#options.relayIps ?? [],
      externalIps: this.#options.externalIps,
      minPort: this.#options.minPort,
      maxPort: this.#options.maxPort,
      authMech: 'long-term',
      credentials,
      realm: this.realm,
      debugLevel: 'OFF',
      maxAllocateLifetime: MAX_ALLOCATION_LIFETIME_S,
      defaultAllocatetLifetime: ALLOCATION_LIFETIME_S,
      debug: (level, message) => this.#onNodeTurnLog(level, message),
    });
    patchNodeTurn(
      turn,
      {
        mayRelayTo: (ip, port) => this.mayRelayTo(ip, port),
        mayAllocate: (username) => this.#issued.has(username),
        allocationAdded: (allocation) => this.#allocationAdded(allocation),
        allocationRemoved: (allocation) => this.#allocationRemoved(allocation),
      },
      { defaultSeconds: ALLOCATION_LIFETIME_S, maxSeconds: MAX_ALLOCATION_LIFETIME_S },
    );
    return turn;
  }

  #onNodeTurnLog(level: string, message: unknown): void {
    // Bind failures while starting are reported by start() itself.
    if (this.#logger === undefined || this.#state === 'starting') return;
    if (level === 'FATAL' || level === 'ERROR') {
      this.#logger.error(message instanceof Error ? { err: message } : { detail: String(message) }, 'node-turn error');
    } else if (level === 'WARN') {
      this.#logger.warn({ detail: String(message) }, 'node-turn warning');
    }
    // INFO and below is per-packet chatter.
  }
}

/** The `ip:port` keys under which an allocation's relay is reached: its sockets' and the advertised one. */
function relayedKeys(allocation: Allocation): string[] {
  const keys = new Set<string>();
  for (const socket of allocation.sockets) {
    try {
      const { address, port } = socket.address();
      const key = endpointKey(address, port);
      if (key !== undefined) keys.add(key);
    } catch {
      // Already closed: it is no longer anyone's peer.
    }
  }
  const advertised = allocation.relayedTransportAddress;
  const key = endpointKey(advertised.address, advertised.port);
  if (key !== undefined) keys.add(key);
  return [...keys];
}

/** Every address of this host's interfaces: a datagram relayed to one never leaves the host. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** Node cannot tell which local address a datagram on a wildcard socket was sent to, and
 * node-turn relays from that address, so bind each interface address separately. */
function expandWildcards(ips: string[]): string[] {
  const out = new Set<string>();
  for (const ip of ips) {
    if (ip !== '0.0.0.0' && ip !== '::') {
      out.add(ip);
      continue;
    }
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) {
        if (i.address.startsWith('fe80:')) continue; // link-local needs a scope id
        if (ip === '0.0.0.0' && i.family !== 'IPv4') continue;
        out.add(i.address);
      }
    }
  }
  return [...out];
}

function bindUdp(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    socket.once('error', (err) => {
      closeQuietly(socket);
      reject(err);
    });
    socket.bind({ address, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** A UDP port that is free on every one of `addresses` right now. */
async function freeUdpPort(addresses: string[]): Promise<number> {
  const [first, ...rest] = addresses as [string, ...string[]];
  const probes = [await bindUdp(first, 0)];
  try {
    const port = probes[0]!.address().port;
    for (const address of rest) probes.push(await bindUdp(address, port));
    return port;
  } finally {
    for (const probe of probes) closeQuietly(probe);
  }
}

function whenBound(sockets: Socket[]): Promise<void> {
  return Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve, reject) => {
          const settle = (err?: Error) => {
            socket.off('listening', onListening);
            socket.off('error', onError);
            socket.off('close', onClose);
            if (err === undefined) resolve();
            else reject(err);
          };
          const onListening = () => settle();
          const onError = (err: Error) => settle(err);
          // close() during start: the bind will never finish.
          const onClose = () => settle(new Error('TURN socket closed before it was bound'));
          socket.on('listening', onListening);
          socket.on('error', onError);
          socket.on('close', onClose);
        }),
    ),
  ).then(() => undefined);
}
