/**
 * The `Origin` check of `/ws`: a browser page of another site must not open a signaling
 * socket with its visitor's cookies and network position (cross-site WebSocket hijacking).
 * The served origin is `PUBLIC_URL`'s when set, else the request's own `Host`. A request
 * without `Origin` is allowed: browsers always send one on a WebSocket, so its absence
 * means a non-browser client (our Node tests, scripts), which could forge any header anyway.
 */
import type { FastifyRequest } from 'fastify';
import { CodedError } from '../../protocol/errors';

/** True when `origin` is absent or names the served origin. */
export function isAllowedOrigin(origin: string | undefined, requestHost: string, publicUrl?: string): boolean {
  if (origin === undefined) return true;
  let claimed: URL;
  try {
    // `null` (sandboxed frames, file://) fails to parse and is refused like any foreign page.
    claimed = new URL(origin);
  } catch {
    return false;
  }
  if (claimed.protocol !== 'http:' && claimed.protocol !== 'https:') return false;
  if (publicUrl !== undefined) return claimed.origin === new URL(publicUrl).origin;
  try {
    // Parse the Host with the origin's scheme so default ports compare equal (":80" vs none).
    return claimed.host === new URL(`${claimed.protocol}//${requestHost}`).host;
  } catch {
    return false;
  }
}

/** A `preValidation` hook for the `/ws` route: a foreign Origin gets 403 FOREIGN_ORIGIN before the upgrade. */
export function originGuard(publicUrl?: string): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const origin = request.headers.origin;
    if (!isAllowedOrigin(origin, request.host, publicUrl)) {
      request.log.info({ origin, host: request.host }, 'refused a signaling socket from a foreign origin');
      throw new CodedError('FOREIGN_ORIGIN');
    }
  };
}
