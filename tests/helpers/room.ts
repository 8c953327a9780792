/** Browser-test steps shared by the media tests: create a meeting, put people in it. */
import type { Browser } from 'playwright-core';
import type { CreatedMeeting, TopologyPreference } from '../../protocol/rest';
import { newParticipant, type Participant } from './browser';
import { toneInitScript } from './media';
import { api } from './server';

export interface Person extends Participant {
  name: string;
  hz: number;
}

/** Creates a meeting over the REST API. */
export async function createMeeting(baseUrl: string, title: string, topology: TopologyPreference = 'auto'): Promise<CreatedMeeting> {
  return (await api<CreatedMeeting>(baseUrl, 'POST', '/api/meetings', { title, topology })).body;
}

/** Opens the meeting link as `name` with a microphone playing `hz`, small video, and waits until joined. */
export async function joinAs(
  browser: Browser,
  baseUrl: string,
  meetingId: string,
  name: string,
  hz: number,
  query = '',
): Promise<Person> {
  const participant = await newParticipant(browser, { initScript: toneInitScript(hz) });
  await participant.page.goto(`${baseUrl}/m/${meetingId}?name=${encodeURIComponent(name)}&video=320x240${query}`);
  await participant.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
  return { ...participant, name, hz };
}
