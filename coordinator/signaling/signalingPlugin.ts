/**
 * The `/ws` endpoint as a Fastify plugin: one `SignalingSession` per socket, the set of
 * live sessions, and the heartbeat that drops sockets which stopped answering pings.
 * `SessionHub` is how the rest of the coordinator reaches every session at once.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, SignalingSession, type SessionDeps, type SessionEnd } from './SignalingSession';

export interface SignalingPluginOptions extends SessionDeps {
  /** Ping interval; a socket that did not answer the previous ping is dropped. */
  heartbeatMs: number;
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

  app.get('/ws', { websocket: true }, (socket) => {
    sockets.add(socket);
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    const session = new SignalingSession(socket, options);
    hub.sessions.add(session);
    socket.on('close', () => {
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
