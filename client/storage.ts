/** What the browser remembers: the display name and the creator credential per meeting. */
const NAME_KEY = 'meetmesh.name';
const CREATOR_KEY = (meetingId: string) => `meetmesh.creator.${meetingId}`;

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback; // storage disabled (private mode, sandboxed frame)
  }
}

export const storage = {
  name: (): string => safe(() => localStorage.getItem(NAME_KEY) ?? '', ''),
  setName: (name: string): void => safe(() => localStorage.setItem(NAME_KEY, name), undefined),
  creatorToken: (meetingId: string): string | undefined =>
    safe(() => localStorage.getItem(CREATOR_KEY(meetingId)) ?? undefined, undefined),
  setCreatorToken: (meetingId: string, token: string): void =>
    safe(() => localStorage.setItem(CREATOR_KEY(meetingId), token), undefined),
  forgetCreatorToken: (meetingId: string): void => safe(() => localStorage.removeItem(CREATOR_KEY(meetingId)), undefined),
};
