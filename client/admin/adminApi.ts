/** The dashboard's calls to `/admin/api`: the session cookie goes along by itself (same origin). */
import type { AdminLoginBody, AdminState } from '../../protocol/admin';
import type { ErrorBody } from '../../protocol/errors';

/** The server refused: not logged in (or the session ran out), or another catalog error. */
export class AdminApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { credentials: 'same-origin', ...init });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => null)) as T | ErrorBody | null;
  if (!response.ok) {
    const error = body && typeof body === 'object' && 'error' in body ? body.error : undefined;
    throw new AdminApiError(error?.code ?? `HTTP_${response.status}`, error?.message ?? response.statusText);
  }
  return body as T;
}

/** The node now, and the chart samples taken after `since` (Unix ms; 0: the whole window). */
export function fetchState(since: number): Promise<AdminState> {
  return call<AdminState>(`/admin/api/state${since > 0 ? `?since=${since}` : ''}`);
}

/** Trades the token for a session cookie; the token goes in the body, never in the address. */
export function login(token: string): Promise<void> {
  const body: AdminLoginBody = { token };
  return call<void>('/admin/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export function logout(): Promise<void> {
  return call<void>('/admin/api/logout', { method: 'POST' });
}
