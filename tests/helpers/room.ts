/** Browser-test steps shared by the media tests: create a meeting, put people in it. */
import type { Browser } from 'playwright-core';
import type { CreatedMeeting, MeetingDetail, MeetingEventRecord, TopologyPreference } from '../../protocol/rest';
import { newParticipant, type Participant } from './browser';
import * as assert from 'uvu/assert';
import { assertTonesAbsent, framesOf, HEARD_DB, tileVideo, toneInitScript, toneLevels, type ScriptedPage, type TileVideo } from './media';
import { waitFor } from './wait';
import { api } from './server';

export interface Person extends Participant {
  name: string;
  hz: number;
}

/** Someone in a meeting as the checks below see them, in Chromium (a Person) or Firefox (tests/helpers/firefox.ts). */
export interface Member {
  name: string;
  /** The tone their microphone plays. */
  hz: number;
  page: ScriptedPage;
}

/** Creates a meeting over the REST API. */
export async function createMeeting(baseUrl: string, title: string, topology: TopologyPreference = 'auto'): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(baseUrl, 'POST', '/api/meetings', { title, topology })).body;
}

/** Opens the meeting link as `name` with a microphone playing `hz`, small video (unless `query` sets `video=`), and waits until joined. */
export async function joinAs(
  browser: Browser,
  baseUrl: string,
  meetingId: string,
  name: string,
  hz: number,
  query = '',
  /** More page script to install before the page loads (e.g. the benchmarks' audio probe). */
  extraInitScript = '',
  /** A larger window than the default 960×640 (tiles big enough for a full 640×480 layer). */
  viewport?: { width: number; height: number },
): Promise<Person> {
  const participant = await newParticipant(browser, { initScript: toneInitScript(hz) + extraInitScript, ...(viewport ? { viewport } : {}) });
  // Small video unless the query asks for a capture size of its own.
  const video = /[?&]video=/.test(query) ? '' : '&video=320x240';
  await participant.page.goto(`${baseUrl}/m/${meetingId}?name=${encodeURIComponent(name)}${video}${query}`);
  await participant.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
  return { ...participant, name, hz };
}

/** Opens the meeting for each member in turn, each page from its own base URL (e.g. a node of a cluster). */
export async function joinGroup(browser: Browser, meetingId: string, members: Array<{ base: string; name: string; hz: number }>): Promise<Person[]> {
  const group: Person[] = [];
  for (const m of members) group.push(await joinAs(browser, m.base, meetingId, m.name, m.hz));
  return group;
}

/** Waits until every listener hears every other person's tone (to time a recovery; see below for the full check). */
export async function waitUntilEveryoneHearsTheOthers(group: Member[], timeoutMs = 20_000): Promise<void> {
  for (const listener of group) {
    const others = group.filter((p) => p !== listener);
    await waitFor(async () => (await toneLevels(listener.page, others.map((p) => p.hz))).every((l) => l > HEARD_DB), timeoutMs,
      `${listener.name} to hear ${others.map((p) => `${p.name} (${p.hz} Hz)`).join(' and ')}`);
  }
}

/** Every listener hears every other person's tone and never its own. */
export async function assertEveryoneHearsTheOthers(group: Member[], timeoutMs = 20_000): Promise<void> {
  await waitUntilEveryoneHearsTheOthers(group, timeoutMs);
  for (const listener of group) await assertTonesAbsent(listener.page, [listener.hz], `${listener.name} must not hear their own voice`);
}

/** Every viewer decodes every other person's video, with frames advancing. */
export async function assertEveryoneSeesTheOthers(group: Member[]): Promise<void> {
  for (const viewer of group) {
    for (const other of group.filter((p) => p !== viewer)) {
      await waitFor(() => framesOf(viewer.page, other.name), 20_000, `${viewer.name} to decode ${other.name}'s video`);
      await assertPictureAdvances(viewer, other.name);
    }
  }
}

/**
 * `name`'s picture on `viewer`'s screen advances by more than five frames. A path switch may
 * hand the tile another stream, whose count starts over: frames are compared within one
 * stream. A failure says what the tile showed along the way.
 */
async function assertPictureAdvances(viewer: Member, name: string, timeoutMs = 10_000): Promise<void> {
  const seen: TileVideo[] = [];
  const firstOf = new Map<string, number>();
  try {
    await waitFor(async () => {
      const now = await tileVideo(viewer.page, name);
      if (!now) return false;
      const last = seen.at(-1);
      if (!last || last.streamId !== now.streamId || last.frames !== now.frames || last.tracks !== now.tracks) seen.push(now);
      if (now.frames === 0) return false;
      if (!firstOf.has(now.streamId)) firstOf.set(now.streamId, now.frames);
      return now.frames > firstOf.get(now.streamId)! + 5;
    }, timeoutMs, `${name}'s video on ${viewer.name}'s screen to advance`, 100);
  } catch (err) {
    const story = seen.slice(-12).map((v) => `${v.streamId.slice(0, 8)} ${v.frames} frames ${v.width}×${v.height}${v.paused ? ' paused' : ''} [${v.tracks}]`).join('; ');
    throw new Error(`${(err as Error).message}; the tile showed: ${story || 'nothing'}`);
  }
}

/** Waits until `p`'s topology badge says `mode`. */
export async function badgeSays(p: Member | Person, mode: 'p2p' | 'relay' | 'switching' | 'waiting', timeoutMs = 20_000): Promise<void> {
  const page: ScriptedPage = p.page;
  const shown = () => page.evaluate(() => document.querySelector('[data-testid="topology-badge"]')?.getAttribute('data-mode'), undefined);
  await waitFor(async () => (await shown()) === mode, timeoutMs, `${p.name}'s badge to say ${mode}`);
}

/** `GET /api/meetings/:id` of a server. */
export async function meetingDetail(baseUrl: string, id: string): Promise<MeetingDetail> {
  return (await api<MeetingDetail>(baseUrl, 'GET', `/api/meetings/${id}`)).body;
}

/** The durable record of a meeting (`GET /api/meetings/:id/events`). */
export async function meetingEvents(baseUrl: string, id: string): Promise<MeetingEventRecord[]> {
  return (await api<MeetingEventRecord[]>(baseUrl, 'GET', `/api/meetings/${id}/events`)).body;
}

/** Types `text` into `p`'s chat and sends it. */
export async function sendChat(p: Person, text: string): Promise<void> {
  await p.page.getByTestId('chat-input').fill(text);
  await p.page.getByTestId('chat-send').click();
}

/** Waits for a chat line containing `text` on `reader`'s screen and asserts it is there exactly once. */
export async function assertChatShownOnce(reader: Person, text: string, timeoutMs = 10_000): Promise<void> {
  const line = reader.page.getByTestId('chat-message').filter({ hasText: text });
  await line.first().waitFor({ timeout: timeoutMs });
  assert.is(await line.count(), 1, `${reader.name} has "${text}" once`);
}
