/**
 * What two browsers say to each other on the P2P data channel. It crosses the network, so
 * the receiver checks it with `decodePeerData` before use (a small hand-written guard:
 * the browser bundle stays free of a schema compiler).
 */
import { LIMITS } from './limits';
import type { ChatMessage } from './signaling';

/**
 * A chat line, or the receiver's acknowledgement of one (the sender resends until
 * acknowledged); or, after a switch to the relay, "I play the relay now": the receiver may
 * stop playing this peer's P2P audio and close the connection once it plays the relay too.
 */
export type PeerDataMessage = { kind: 'chat'; message: ChatMessage } | { kind: 'chat-ack'; id: string } | { kind: 'relay-playing' };

const isShortString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** Parses and checks one data-channel message; undefined when it is not one of ours. */
export function decodePeerData(raw: string): PeerDataMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, message, id: ackId } = value as { kind?: unknown; message?: Record<string, unknown>; id?: unknown };
  if (kind === 'relay-playing') return { kind };
  if (kind === 'chat-ack') return isShortString(ackId, 64) ? { kind, id: ackId } : undefined;
  if (kind !== 'chat' || typeof message !== 'object' || message === null) return undefined;
  const { id, from, name, at, text } = message;
  if (!isShortString(id, 64) || !isShortString(from, 64) || !isShortString(name, LIMITS.nameMax)) return undefined;
  if (!isShortString(at, 40) || Number.isNaN(Date.parse(at)) || !isShortString(text, LIMITS.chatTextMax)) return undefined;
  return { kind, message: { id, from, name, at, text } };
}
