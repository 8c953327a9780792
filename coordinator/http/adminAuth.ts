/**
 * Who may see the operator dashboard: whoever shows `ADMIN_TOKEN`, as `Authorization:
 * Bearer <token>` (scripts, curl) or once through the login form, which trades it for a
 * session cookie. The token is compared in constant time and never travels in a URL; the
 * cookie carries no token, only an expiry signed with it (HMAC), so every node of a
 * deployment sharing the token accepts it and a changed token ends every session.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'meetmesh_admin';
/** How long a dashboard login lasts. */
export const SESSION_MS = 12 * 3600_000;

/** Equal strings, in time independent of where they differ (both are hashed to one length first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

export class AdminAuth {
  constructor(private readonly token: string) {}

  /** Whether a request shows the token or a live session. */
  allows(headers: { authorization?: string | undefined; cookie?: string | undefined }, nowMs = Date.now()): boolean {
    const bearer = /^Bearer (.+)$/i.exec(headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return constantTimeEqual(bearer, this.token);
    const session = cookieValue(headers.cookie, SESSION_COOKIE);
    return session !== undefined && this.validSession(session, nowMs);
  }

  /** The login form's check. */
  matches(candidate: string): boolean {
    return constantTimeEqual(candidate, this.token);
  }

  /** A new session's cookie value: `<expiry ms>.<HMAC of it>`. */
  newSession(nowMs = Date.now()): string {
    const expires = String(nowMs + SESSION_MS);
    return `${expires}.${this.sign(expires)}`;
  }

  private validSession(value: string, nowMs: number): boolean {
    const [expires, signature] = value.split('.');
    if (!expires || !signature || !/^\d+$/.test(expires) || Number(expires) < nowMs) return false;
    return constantTimeEqual(signature, this.sign(expires));
  }

  private sign(expires: string): string {
    return createHmac('sha256', this.token).update(`meetmesh-admin-session:${expires}`).digest('base64url');
  }
}

/** One cookie's value from a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
