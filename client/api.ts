/** The lobby's calls to the coordinator's REST API. */
import type { ErrorBody } from '../protocol/errors';
import type { CreatedMeeting, MeetingSummary, TopologyPreference } from '../protocol/rest';

/** An HTTP error with the server's catalog code. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init);
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => null)) as T | ErrorBody | null;
  if (!response.ok) {
    const error = body && typeof body === 'object' && 'error' in body ? body.error : undefined;
    throw new ApiError(error?.code ?? 'HTTP_' + response.status, error?.message ?? response.statusText);
  }
  return body as T;
}

export function listMeetings(): Promise<MeetingSummary[]> {
  return call('/api/meetings');
}

/** Creates a meeting; `listed: false` keeps it out of the lobby list (link only). */
export function createMeeting(title: string, topology: TopologyPreference, listed = true): Promise<CreatedMeeting> {
  return call('/api/meetings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title, topology, ...(listed ? {} : { listed: false }) }),
  });
}

export function cancelMeeting(id: string, creatorToken: string): Promise<void> {
  return call(`/api/meetings/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${creatorToken}` },
  });
}
