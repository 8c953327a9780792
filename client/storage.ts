/**
 * What the browser remembers: the display name, the chosen camera, microphone and
 * speaker, and the creator credential per meeting (localStorage), and per tab the resume token and the chat of the meeting it is in
 * (sessionStorage: survives a reload of this tab, not shared with other tabs).
 */
import type { ChatMessage } from '../protocol/signaling';

const NAME_KEY = 'meetmesh.name';
const DEVICE_KEY = (kind: MediaDeviceKind) => `meetmesh.device.${kind}`;
const CREATOR_KEY = (meetingId: string) => `meetmesh.creator.${meetingId}`;
const RESUME_KEY = (meetingId: string) => `meetmesh.resume.${meetingId}`;
const CHAT_KEY = (meetingId: string) => `meetmesh.chat.${meetingId}`;
/** Chat lines kept for a reload; older ones are not restored. */
const CHAT_KEPT = 300;

/** A chat line as this tab keeps it across a reload. */
export interface StoredChatLine extends ChatMessage {
  own: boolean;
}

function isStoredChatLine(value: unknown): value is StoredChatLine {
  const v = value as Partial<StoredChatLine> | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.from === 'string' && typeof v.name === 'string'
    && typeof v.at === 'string' && typeof v.text === 'string' && typeof v.own === 'boolean';
}

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
  /** The device of this kind chosen last in this browser (a deviceId), if any. */
  device: (kind: MediaDeviceKind): string | undefined => safe(() => localStorage.getItem(DEVICE_KEY(kind)) ?? undefined, undefined),
  setDevice: (kind: MediaDeviceKind, deviceId: string): void => safe(() => localStorage.setItem(DEVICE_KEY(kind), deviceId), undefined),
  creatorToken: (meetingId: string): string | undefined =>
    safe(() => localStorage.getItem(CREATOR_KEY(meetingId)) ?? undefined, undefined),
  setCreatorToken: (meetingId: string, token: string): void =>
    safe(() => localStorage.setItem(CREATOR_KEY(meetingId), token), undefined),
  forgetCreatorToken: (meetingId: string): void => safe(() => localStorage.removeItem(CREATOR_KEY(meetingId)), undefined),
  resumeToken: (meetingId: string): string | undefined =>
    safe(() => sessionStorage.getItem(RESUME_KEY(meetingId)) ?? undefined, undefined),
  setResumeToken: (meetingId: string, token: string): void =>
    safe(() => sessionStorage.setItem(RESUME_KEY(meetingId), token), undefined),
  /** Forgets what this tab kept of a meeting it left. */
  forgetMeeting: (meetingId: string): void =>
    safe(() => {
      sessionStorage.removeItem(RESUME_KEY(meetingId));
      sessionStorage.removeItem(CHAT_KEY(meetingId));
    }, undefined),
  chat: (meetingId: string): StoredChatLine[] =>
    safe(() => {
      const value: unknown = JSON.parse(sessionStorage.getItem(CHAT_KEY(meetingId)) ?? '[]');
      return Array.isArray(value) ? value.filter(isStoredChatLine) : [];
    }, []),
  setChat: (meetingId: string, messages: StoredChatLine[]): void =>
    safe(() => sessionStorage.setItem(CHAT_KEY(meetingId), JSON.stringify(messages.slice(-CHAT_KEPT))), undefined),
};
