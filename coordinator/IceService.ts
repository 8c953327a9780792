/**
 * STUN/TURN for the coordinator's participants, built from one `TurnConfig` the same way
 * for `npm start` and the tests: in bundled mode it owns the TURN server (started before
 * the coordinator listens, closed with it, its peer policy letting browsers reach this
 * server's media relay), issues each participant's ICE servers at join, revokes them when
 * the participant is gone, and says how often they need fresh ones.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { IceServer } from '../protocol/signaling';
import { iceServerRefreshMs, iceServersFor, type BundledTurn, type TurnConfig } from '../turn/iceServers';
import { TurnServer } from '../turn/TurnServer';
import type { MediaPlane } from './media/MediaPlane';
import { RelayEndpoints } from './media/RelayEndpoints';

export class IceService {
  /** The bundled TURN server (bundled mode only). */
  readonly turn: TurnServer | undefined;
  /**
   * The TURN port written into the ICE servers handed out; the bound port when unset.
   * Differs when something in front forwards to it (a NAT port forward, a test's proxy).
   */
  advertisedPort: number | undefined;
  private readonly advertised: BundledTurn | undefined;

  constructor(
    readonly config: TurnConfig,
    media: MediaPlane,
    log: FastifyBaseLogger,
  ) {
    if (config.mode !== 'bundled') return;
    // The relay's own sockets stay reachable through TURN although they sit on loopback
    // or a private address, which the peer policy otherwise refuses.
    const relayEndpoints = new RelayEndpoints(media);
    const turn = TurnServer.fromConfig(config, log, (ip, port) => relayEndpoints.has(ip, port));
    this.turn = turn;
    const service = this;
    this.advertised = {
      get port() {
        return service.advertisedPort ?? turn.port;
      },
      issue: (userId, ttlSeconds) => turn.issue(userId, ttlSeconds),
    };
  }

  /** Starts the bundled TURN server, if any; idempotent. */
  async start(): Promise<void> {
    if (this.turn && this.turn.state === 'new') await this.turn.start();
  }

  /** Fresh ICE servers (and, with TURN, a fresh credential) for one participant. */
  iceServersFor(participantId: string): IceServer[] {
    return iceServersFor(this.config, participantId, this.advertised);
  }

  /** The participant is gone: its bundled TURN credential dies now, not at its expiry. */
  revoke(participantId: string): void {
    this.turn?.revoke(participantId);
  }

  /** How often participants need fresh ICE servers; undefined when never. */
  get refreshMs(): number | undefined {
    return iceServerRefreshMs(this.config);
  }

  close(): void {
    this.turn?.close();
  }
}
