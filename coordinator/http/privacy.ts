/**
 * What a stranger may see of an unlisted meeting (one reached by link only): how many
 * people are in it and what happened when, but not who. The creator, presenting the
 * creator token as `Authorization: Bearer`, sees everything.
 */
import type { MeetingEventRecord } from '../../protocol/rest';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
}

/** One entry per person, with id and name blanked (the count stays observable). */
export function withholdNames(participants: readonly { id: string; name: string }[]): { id: string; name: string }[] {
  return participants.map(() => ({ id: '', name: '' }));
}

/** The events without participant names and ids. */
export function withholdEventNames(events: readonly MeetingEventRecord[]): MeetingEventRecord[] {
  return events.map(({ participant: _name, detail, ...rest }) => {
    if (!detail || !('participantId' in detail)) return detail ? { ...rest, detail } : rest;
    const { participantId: _id, ...others } = detail;
    return { ...rest, detail: others };
  });
}
