/**
 * What TurnServer changes inside node-turn 0.0.6 (internals typed in node-turn.d.ts):
 * fixes for its defects, and the hooks our policies need. Re-check when upgrading.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import type NodeTurn from 'node-turn';

type Allocation = NodeTurn['allocations'][string];
type TurnMessage = Parameters<NodeTurn['send']['send']>[0];

/** What TurnServer decides for node-turn. */
export interface NodeTurnHooks {
  /** Whether an allocation may relay to `ip`:`port` (CreatePermission, ChannelBind, Send). */
  mayRelayTo(ip: string, port: number): boolean;
  /** Whether `username` may create a new allocation (an expired credential may only keep one alive). */
  mayAllocate(username: string): boolean;
  /** An allocation is live (its relay sockets are bound). */
  allocationAdded(allocation: Allocation): void;
  /** An allocation ended (expired, refreshed to zero, revoked, or the server stopped). */
  allocationRemoved(allocation: Allocation): void;
}

const NONCE_LIFETIME_MS = 3600_000;
// Every unauthenticated request mints a nonce; cap them so a flood cannot grow memory.
const MAX_NONCES = 10_000;

/**
 * Patches a node-turn instance before start():
 * - each nonce arms a one-hour timer that is never unref'd (the process cannot exit) and
 *   nonces come from Math.random: replaced by random bytes with a lazily swept, capped map;
 * - an expired or refreshed-to-zero allocation is dropped from the map but its relay
 *   socket stays bound forever: deleting an entry now closes its sockets and timer;
 * - Refresh reads `defaultLifetime`/`maxAllocateTimeout`, which are never set, so a
 *   browser's first Refresh made the allocation expire immediately (calls through TURN
 *   dropped after about ten minutes);
 * - peers are never checked (its 403 branch is `if (0)`): CreatePermission and
 *   ChannelBind to a peer `hooks.mayRelayTo` refuses get 403 Forbidden, as coturn answers,
 *   and a Send indication to one is dropped — node-turn's permissions are per IP, so Send
 *   is checked again with the port (ChannelData from clients node-turn never relays at all);
 * - Allocate asks `hooks.mayAllocate`, so a credential kept only for Refresh of an existing
 *   allocation cannot open new ones.
 */
export function patchNodeTurn(
  turn: NodeTurn,
  hooks: NodeTurnHooks,
  lifetimes: { defaultSeconds: number; maxSeconds: number },
): void {
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
      const previous = typeof key === 'string' ? target[key] : undefined;
      if (previous !== undefined && previous !== value) {
        releaseAllocation(previous);
        hooks.allocationRemoved(previous);
      }
      hooks.allocationAdded(value);
      return Reflect.set(target, key, value);
    },
    deleteProperty(target, key) {
      const allocation = typeof key === 'string' ? target[key] : undefined;
      const deleted = Reflect.deleteProperty(target, key);
      if (allocation !== undefined) {
        releaseAllocation(allocation);
        hooks.allocationRemoved(allocation);
      }
      return deleted;
    },
  });

  turn.defaultLifetime = lifetimes.defaultSeconds;
  turn.maxAllocateTimeout = lifetimes.maxSeconds;

  const forbidden = (msg: TurnMessage, reply: TurnMessage, peer: { address: string; port: number }) => {
    msg.debug('DEBUG', `refused peer ${peer.address}:${peer.port}`);
    reply.reject(403, 'Forbidden');
  };

  const createPermission = turn.createPermission.createPermission;
  turn.createPermission.createPermission = function (msg, reply) {
    for (const peer of msg.getAttributes('xor-peer-address')) {
      // A missing address is node-turn's 400 to give.
      if (peer?.address && !hooks.mayRelayTo(peer.address, peer.port)) return forbidden(msg, reply, peer);
    }
    return createPermission.call(this, msg, reply);
  };

  const channelBind = turn.channelBind.channelBind;
  turn.channelBind.channelBind = function (msg, reply) {
    const peer = msg.getAttribute('xor-peer-address');
    if (peer?.address && !hooks.mayRelayTo(peer.address, peer.port)) return forbidden(msg, reply, peer);
    return channelBind.call(this, msg, reply);
  };

  const send = turn.send.send;
  turn.send.send = function (msg, reply) {
    const peer = msg.getAttribute('xor-peer-address');
    // An indication gets no answer (RFC 5766 §10.2): the datagram is silently dropped.
    if (peer?.address && !hooks.mayRelayTo(peer.address, peer.port)) return;
    return send.call(this, msg, reply);
  };

  const authenticate = auth.auth;
  auth.auth = function (msg, callback) {
    const username = msg.getAttribute('username');
    if (
      msg.getClassName() === 'request' &&
      msg.getMethodName() === 'allocate' &&
      typeof username === 'string' &&
      username in this.credentials &&
      !hooks.mayAllocate(username)
    ) {
      // As for an unknown user (RFC 5389 §10.2.2): 401 with a fresh REALM and NONCE.
      const reply = msg.reply();
      reply.addAttribute('realm', turn.realm);
      reply.addAttribute('nonce', this.generateNonce());
      reply.reject(401, 'Unauthorized');
      return callback(new Error('Unauthorized'));
    }
    return authenticate.call(this, msg, callback);
  };
}

/** node-turn instances that have been stopped. */
const stopped = new WeakSet<NodeTurn>();

/** Closes every socket of a node-turn instance and ends its allocations. */
export function stopNodeTurn(turn: NodeTurn): void {
  stopped.add(turn);
  for (const key of Object.keys(turn.allocations)) delete turn.allocations[key];
  for (const socket of turn.network.sockets) closeQuietly(socket);
  turn.network.sockets.length = 0;
}

function releaseAllocation(allocation: Allocation): void {
  clearTimeout(allocation.timer);
  for (const socket of allocation.sockets) closeQuietly(socket);
}

/** Closes a socket that may already be closed or never bound (close() would throw). */
export function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    /* already closed */
  }
}
