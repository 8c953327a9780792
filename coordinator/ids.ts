/** Random identifiers: short readable meeting ids, unguessable participant ids and secrets. */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'; // no l/1/o/0: read aloud, typed by hand

/** A meeting id like `k3f-9qxa-2mz` (50 bits): short enough to share, too many to guess. */
export function newMeetingId(): string {
  const bytes = randomBytes(10);
  let out = '';
  for (let i = 0; i < 10; i++) {
    out += ALPHABET[bytes[i]! % ALPHABET.length];
    if (i === 2 || i === 6) out += '-';
  }
  return out;
}

/** A recording's id (also its file name). */
export function newRecordingId(): string {
  return randomBytes(9).toString('base64url');
}

/** A participant id, unique per join. */
export function newParticipantId(): string {
  return randomBytes(9).toString('base64url');
}

/** A creator credential: 256 random bits, shown once to the creator, never listed. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a secret (SHA-256, hex): what the record keeps, never the secret itself. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares a presented secret with a stored hash (`hashSecret`) in constant time. */
export function secretMatches(presented: string | undefined, expectedHash: string): boolean {
  if (presented === undefined) return false;
  // Hashes have equal lengths, so the comparison leaks nothing about the secret's length.
  const a = Buffer.from(hashSecret(presented), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
