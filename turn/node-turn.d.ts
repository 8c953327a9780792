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

  /** Internal: one TURN allocation (lib/allocation.js). */
  interface NodeTurnAllocation {
    sockets: Socket[];
    timer: ReturnType<typeof setTimeout>;
    user: { username: string } | null;
  }

  /** Internal: lib/authentification.js. */
  interface NodeTurnAuthentication {
    nonces: Record<string, { ttl: number }>;
    credentials: Record<string, string>;
    generateNonce(): string;
  }

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
    /** Internal: read by the Refresh handler but never set by the constructor. */
    defaultLifetime?: number;
    maxAllocateTimeout?: number;
  }

  export = NodeTurn;
}
