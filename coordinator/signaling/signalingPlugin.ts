/**
 * The `/ws` endpoint as a Fastify plugin: one `SignalingSession` per socket, the set of
 * live sessions, and the heartbeat that drops sockets which stopped answering pings.
 * `SessionHub` is how the rest of the coordinator reaches every session at once.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { originGuard } from '../http/origin';
import { TOO_MANY_SOCKETS_CLOSE_CODE, type AddressLimits } from '../limits/AddressLimits';
import { CLOSE_CODES, SignalingSession, type SessionDeps, type SessionEnd } from './SignalingSession';
import { webSocketSession } from './SessionSocket';

export interface SignalingPluginOptions extends SessionDeps {
  /** Ping interval; a socket that did not answer the previous ping is dropped. */
  heartbeatMs: number;
  /** Per-address and per-socket limits; none when unset. */
  limits?: AddressLimits;
  /** The served origin for the `Origin` check (`PUBLIC_URL`); the request's Host when unset. */
  publicUrl?: string;
}

/** Every live signaling session of this server. */
export class SessionHub {
  readonly sessions = new Set<SignalingSession>();

  /** Ends every session: `restarting` tells each client to reconnect at once. */
  closeAll(end: SessionEnd): void {
    for (const session of [...this.sessions]) session.close(end);
  }
}

/** Registers `/ws` on `app` and returns the hub of its sessions. */
export async function signalingPlugin(app: FastifyInstance, options: SignalingPluginOptions, hub: SessionHub): Promise<void> {
  const sockets = new Set<WebSocket>();
  const alive = new WeakSet<WebSocket>();

  app.get('/ws', { websocket: true, preValidation: originGuard(options.publicUrl) }, (socket, request) => {
    const limits = options.limits;
    const release = limits ? limits.openSocket(request.ip) : () => {};
    if (!release) {
      // Accepted, told why, then closed: a browser's WebSocket cannot read an HTTP 429.
      const error = limits!.tooManySockets();
      socket.send(JSON.stringify({ type: 'error', code: error.code, message: error.message }));
      socket.close(TOO_MANY_SOCKETS_CLOSE_CODE, 'too many connections from this address');
      return;
    }
    sockets.add(socket);
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    const sessionSocket = webSocketSession(socket, (err) => options.log.debug({ err }, 'signaling socket error'));
    const session = new SignalingSession(sessionSocket, options, limits?.guardFor(request.ip));
    hub.sessions.add(session);
    socket.on('close', () => {
      release();
      sockets.delete(socket);
      hub.sessions.delete(session);
    });
  });

  // A tab that died without closing its socket stops answering pings: drop it so the
  // meeting keeps no ghosts.
  const heartbeat = setInterval(() => {
    for (const socket of sockets) {
      if (!alive.has(socket)) {
        socket.close(CLOSE_CODES.heartbeat, 'heartbeat missed');
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, options.heartbeatMs);
  heartbeat.unref();

  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    for (const socket of sockets) socket.terminate();
    sockets.clear();
  });
}
