/**
 * Minimal types for node-turn 0.0.6 (it ships none): the documented options and methods,
 * plus the few internals TurnServer reaches into, marked as such. Re-check the internals
 * when upgrading node-turn.
 */
declare module 'node-turn' {
  import type { Socket } from 'node:dgram';

  type DebugLevel = 'OFF' | 'FATAL' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE' | 'ALL';

  interface NodeTurnOptions {
    listeningPort?: number;
    listeningIps?: string[];
    relayIps?: string[];
    externalIps?: string | Record<string, string>;
    minPort?: number;
    maxPort?: number;
    authMech?: 'none' | 'short-term' | 'long-term';
    credentials?: Record<string, string>;
    realm?: string;
    debugLevel?: DebugLevel;
    maxAllocateLifetime?: number;
    defaultAllocatetLifetime?: number;
    /** Replaces node-turn's own level filter: it receives every level. */
    debug?: (level: DebugLevel, message: unknown) => void;
    log?: (message: unknown) => void;
  }

  /** Internal: a transport address (lib/address.js); IPv6 spelled as eight unabbreviated groups. */
  interface NodeTurnAddress {
    address: string;
    port: number;
  }

  /** Internal: one TURN allocation (lib/allocation.js). */
  interface NodeTurnAllocation {
    sockets: Socket[];
    timer: ReturnType<typeof setTimeout>;
    user: { username: string } | null;
    /** What XOR-RELAYED-ADDRESS said: the socket's address, or the external IP with its port. */
    relayedTransportAddress: NodeTurnAddress;
  }

  /** Internal: a received request/indication or the reply being built (lib/message.js). */
  interface NodeTurnMessage {
    getAttribute(name: 'xor-peer-address'): NodeTurnAddress | undefined;
    getAttribute(name: string): unknown;
    getAttributes(name: 'xor-peer-address'): Array<NodeTurnAddress | undefined>;
    /** Lower-case method name, e.g. `allocate`, `create_permission`. */
    getMethodName(): string;
    /** Lower-case class name: `request`, `indication`, `success`, `error`. */
    getClassName(): string;
    reply(): NodeTurnMessage;
    addAttribute(name: string, value?: unknown): void;
    reject(code: number, reason: string): void;
    debug(level: DebugLevel, message: unknown): void;
  }

  /** Internal: lib/authentification.js. */
  interface NodeTurnAuthentication {
    nonces: Record<string, { ttl: number }>;
    credentials: Record<string, string>;
    generateNonce(): string;
    auth(this: NodeTurnAuthentication, msg: NodeTurnMessage, callback: (err: Error | null, reply?: NodeTurnMessage) => void): void;
  }

  /** Internal: a method handler object (lib/methods/*.js). */
  type NodeTurnHandler<K extends string> = {
    [P in K]: (this: unknown, msg: NodeTurnMessage, reply: NodeTurnMessage) => void;
  };

  class NodeTurn {
    constructor(options?: NodeTurnOptions);
    start(): void;
    stop(): void;
    addUser(username: string, password: string): void;
    removeUser(username: string): void;

    /** Internal: the UDP listening sockets, created synchronously by start(). */
    network: { sockets: Socket[] };
    /** Internal: live allocations keyed by 5-tuple; entries are deleted when they expire. */
    allocations: Record<string, NodeTurnAllocation>;
    authentification: NodeTurnAuthentication;
    /** Internal: the long-term credential realm. */
    realm: string;
    /** Internal: the handlers of CreatePermission, ChannelBind and Send indications. */
    createPermission: NodeTurnHandler<'createPermission'>;
    channelBind: NodeTurnHandler<'channelBind'>;
    send: NodeTurnHandler<'send'>;
    /** Internal: read by the Refresh handler but never set by the constructor. */
    defaultLifetime?: number;
    maxAllocateTimeout?: number;
  }

  export = NodeTurn;
}
