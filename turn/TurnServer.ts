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
const NONCE_LIFETIME_MS = 3600_000;
// Every unauthenticated request mints a nonce; cap them so a flood cannot grow memory.
const MAX_NONCES = 10_000;
const ALLOCATION_LIFETIME_S = 600;
const MAX_ALLOCATION_LIFETIME_S = 3600;
// Only for a port we picked ourselves: someone may take it between our probe and node-turn's bind.
const START_ATTEMPTS = 5;

/** The bundled STUN/TURN server; issues and revokes the credentials it accepts. */
export class TurnServer implements BundledTurn {
  /** The long-term credential realm clients must use. */
  readonly realm: string;
  readonly #options: TurnServerOptions;
  readonly #secret: string;
  readonly #logger: TurnLogger | undefined;
  readonly #issued = new Map<string, IssuedCredential>();
  #state: TurnServerState = 'new';
  #turn: NodeTurn | undefined;
  #port: number;
  #addresses: string[] = [];

  /** A TurnServer for the bundled mode of `turnConfigFromEnv`. */
  static fromConfig(config: BundledTurnConfig, logger?: TurnLogger): TurnServer {
    return new TurnServer({
      port: config.port,
      listeningIps: config.listeningIps,
      relayIps: config.relayIps,
      externalIps: config.externalIp,
      realm: config.realm,
      secret: config.secret,
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
    this.#logger?.debug({ userId }, 'TURN credentials revoked');
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
    if (this.#turn !== undefined) {
      stopNodeTurn(this.#turn);
      this.#turn = undefined;
    }
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
    patchNodeTurn(turn);
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

/**
 * Fixes in node-turn 0.0.6 that a long-running, cleanly closing server needs:
 * - each nonce arms a one-hour timer that is never unref'd (the process cannot exit) and
 *   nonces come from Math.random: replaced by random bytes with a lazily swept, capped map;
 * - an expired or refreshed-to-zero allocation is dropped from the map but its relay
 *   socket stays bound forever: deleting an entry now closes its sockets and timer;
 * - Refresh reads `defaultLifetime`/`maxAllocateTimeout`, which are never set, so a
 *   browser's first Refresh made the allocation expire immediately (calls through TURN
 *   dropped after about ten minutes).
 */
function patchNodeTurn(turn: NodeTurn): void {
  const auth = turn.authentification;
  // Null prototype: a client-sent nonce such as "constructor" must not look known.
  const nonces: Record<string, { ttl: number }> = Object.create(null);
  auth.nonces = nonces;
  auth.generateNonce = () => {
    const now = Date.now();
    if (Object.keys(nonces).length >= MAX_NONCES) {
      for (const key of Object.keys(nonces)) if (nonces[key]!.ttl < now) delete nonces[key];
      // Still full of live nonces: forget the oldest (string keys keep insertion order).
      const live = Object.keys(nonces);
      for (const key of live.slice(0, live.length - MAX_NONCES + 1)) delete nonces[key];
    }
    const nonce = randomBytes(16).toString('hex');
    nonces[nonce] = { ttl: now + NONCE_LIFETIME_MS };
    return nonce;
  };

  const live: Record<string, Allocation> = Object.create(null);
  turn.allocations = new Proxy(live, {
    // An Allocate still in flight when the server closed (its relay socket binds
    // asynchronously) would otherwise leave a bound socket that keeps the process alive.
    set(target, key, value: Allocation) {
      if (stopped.has(turn)) {
        // After the constructor has finished: it arms its expiry timer after this store.
        queueMicrotask(() => releaseAllocation(value));
        return true;
      }
      // A second allocation on the same 5-tuple (an Allocate retransmitted after its answer
      // was lost) replaces the first: free the one replaced, or its socket and timer leak.
      const replaced = typeof key === 'string' ? target[key] : undefined;
      if (replaced !== undefined && replaced !== value) releaseAllocation(replaced);
      return Reflect.set(target, key, value);
    },
    deleteProperty(target, key) {
      if (typeof key === 'string' && target[key] !== undefined) releaseAllocation(target[key]);
      return Reflect.deleteProperty(target, key);
    },
  });

  turn.defaultLifetime = ALLOCATION_LIFETIME_S;
  turn.maxAllocateTimeout = MAX_ALLOCATION_LIFETIME_S;
}

function releaseAllocation(allocation: Allocation): void {
  clearTimeout(allocation.timer);
  for (const socket of allocation.sockets) closeQuietly(socket);
}

/** node-turn instances that have been stopped. */
const stopped = new WeakSet<NodeTurn>();

function stopNodeTurn(turn: NodeTurn): void {
  stopped.add(turn);
  for (const key of Object.keys(turn.allocations)) delete turn.allocations[key];
  for (const socket of turn.network.sockets) closeQuietly(socket);
  turn.network.sockets.length = 0;
}

// A socket whose bind failed, or that is already closed, throws on close(): nothing to free.
function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    /* already closed */
  }
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
