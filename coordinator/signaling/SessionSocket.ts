/**
 * What a signaling session needs of its socket. Usually a browser's WebSocket on this
 * node; with several nodes, a socket on another node whose frames arrive over Redis.
 */
import type { WebSocket } from 'ws';

export interface SessionSocket {
  readonly isOpen: boolean;
  send(data: string): void;
  close(code: number, reason: string): void;
  /** Each frame from the browser, in order. */
  onMessage(listener: (raw: Buffer) => void): void;
  /** Once, when the socket is gone (closed by either side). */
  onClose(listener: () => void): void;
}

/** A browser's WebSocket on this node. */
export function webSocketSession(socket: WebSocket, onError: (err: Error) => void): SessionSocket {
  socket.on('error', onError);
  return {
    get isOpen() {
      return socket.readyState === socket.OPEN;
    },
    send: (data) => socket.send(data),
    close: (code, reason) => socket.close(code, reason),
    onMessage: (listener) => socket.on('message', (raw: Buffer) => listener(raw)),
    onClose: (listener) => socket.on('close', listener),
  };
}
