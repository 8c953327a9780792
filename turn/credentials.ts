/**
 * Short-lived TURN credentials in the TURN REST API scheme (draft-uberti-behave-turn-rest,
 * coturn's `use-auth-secret`): the username carries its own expiry, the password is an
 * HMAC of the username under a secret shared with the TURN server, so the coordinator can
 * mint credentials without telling the TURN server about each one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A credential handed to one participant: put `username` and `credential` in RTCIceServer. */
export interface TurnCredential {
  /** `${expiryUnixSeconds}:${userId}` */
  username: string;
  /** base64(HMAC-SHA1(secret, username)) */
  credential: string;
  /** When the credential stops working, in Unix milliseconds. */
  expiresAt: number;
}

/** Why a credential was refused. */
export type TurnCredentialRejection = 'malformed' | 'expired' | 'bad-signature';

/** The outcome of `verifyTurnCredential`. */
export type TurnCredentialCheck =
  | { ok: true; userId: string; expiresAt: number }
  | { ok: false; reason: TurnCredentialRejection };

/** The password for `username` under `secret`: base64(HMAC-SHA1(secret, username)). */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** Mints a credential for `userId` valid for `ttlSeconds` from `now` (Unix ms). */
export function issueTurnCredential(
  secret: string,
  userId: string,
  ttlSeconds: number,
  now: number = Date.now(),
): TurnCredential {
  if (secret.length === 0) throw new RangeError('TURN secret must not be empty');
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new RangeError(`TURN credential ttl must be a positive whole number of seconds, got ${ttlSeconds}`);
  }
  // Whole seconds, as the scheme (and coturn) expect a Unix timestamp in the username.
  const expiry = Math.floor(now / 1000) + ttlSeconds;
  const username = `${expiry}:${userId}`;
  return { username, credential: turnPassword(secret, username), expiresAt: expiry * 1000 };
}

/** Checks a username/credential pair against `secret` at `now` (Unix ms), as a TURN server would. */
export function verifyTurnCredential(
  secret: string,
  username: string,
  credential: string,
  now: number = Date.now(),
): TurnCredentialCheck {
  const colon = username.indexOf(':');
  const expiryText = colon > 0 ? username.slice(0, colon) : '';
  if (!/^\d+$/.test(expiryText)) return { ok: false, reason: 'malformed' };
  const expiresAt = Number(expiryText) * 1000;

  const expected = Buffer.from(turnPassword(secret, username));
  const given = Buffer.from(credential);
  // Constant-time compare so the check does not leak how much of a guess was right.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad-signature' };
  }
  if (now >= expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, userId: username.slice(colon + 1), expiresAt };
}
