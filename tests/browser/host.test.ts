/**
 * Host controls as people use them, in real Chromium: a host (who opened the host link)
 * mutes someone and the others hear them go silent, removes someone, and locks the
 * meeting against newcomers; nobody else sees these controls.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newParticipant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { ABSENT_DB, HEARD_DB, toneLevels } from '../helpers/media';
import { assertEveryoneHearsTheOthers, badgeSays, createMeeting, joinAs, type Person } from '../helpers/room';
import { startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const suite = browserSuite(test, () => startServer());

const item = (viewer: Person, name: string) => viewer.page.locator(`[data-testid="participant-item"][data-participant="${name}"]`);

/** Three people on the relay; the host came in through the host link. */
async function hostedMeeting(title: string): Promise<[Person, Person, Person]> {
  const meeting = await createMeeting(suite.server.url, title, 'relay');
  const fragment = meeting.hostLink.slice(meeting.hostLink.indexOf('#'));
  const host = await joinAs(suite.browser, suite.server.url, meeting.id, 'Hana', 600, fragment);
  const ben = await joinAs(suite.browser, suite.server.url, meeting.id, 'Ben', 1100);
  const cat = await joinAs(suite.browser, suite.server.url, meeting.id, 'Cat', 1900);
  suite.people.push(host, ben, cat);
  for (const p of [host, ben, cat]) await badgeSays(p, 'relay');
  assert.not.ok(host.page.url().includes('#host='), 'the credential leaves the address bar');
  return [host, ben, cat];
}

test('a host mutes someone: they go silent for everyone, their button shows it, and they may unmute', async () => {
  const [host, ben, cat] = await hostedMeeting('Mute');
  await assertEveryoneHearsTheOthers([host, ben, cat]);
  assert.is(await ben.page.getByTestId('mute-participant').count(), 0, 'a non-host sees no host controls');
  assert.is(await ben.page.getByTestId('lock-meeting').count(), 0);

  await item(host, 'Ben').getByTestId('mute-participant').click();
  await waitFor(async () => (await ben.page.getByTestId('toggle-mic').getAttribute('aria-pressed')) === 'false', 10_000, "Ben's mic button to show off");
  for (const listener of [host, cat]) {
    await waitFor(async () => (await toneLevels(listener.page, [ben.hz]))[0]! < ABSENT_DB, 10_000, `${listener.name} to stop hearing Ben`);
  }
  const [catHearsHost] = await toneLevels(cat.page, [host.hz]);
  assert.ok(catHearsHost! > HEARD_DB, 'the others still talk');
  assert.match(await ben.page.getByTestId('room-notice').innerText(), 'turned your microphone off');

  await ben.page.getByTestId('toggle-mic').click();
  await waitFor(async () => (await toneLevels(cat.page, [ben.hz]))[0]! > HEARD_DB, 10_000, 'Cat to hear Ben again');
});

test('a host removes someone: told and out, gone from the others\' list', async () => {
  const [host, ben, cat] = await hostedMeeting('Remove');
  await item(host, 'Cat').getByTestId('remove-participant').click();
  await waitFor(async () => (await cat.page.getByTestId('room-notice').innerText().catch(() => '')).includes('removed you'), 10_000, 'Cat to be told');
  assert.is(await cat.page.getByTestId('leave-meeting').count(), 0, 'Cat is out of the room');
  await item(ben, 'Cat').waitFor({ state: 'detached', timeout: 10_000 });
  await assertEveryoneHearsTheOthers([host, ben]);
});

test('a locked meeting turns newcomers away with a notice; unlocked, they get in', async () => {
  const [host] = await hostedMeeting('Lock');
  const meetingId = host.page.url().split('/m/')[1]!.split('?')[0]!;
  const lock = host.page.getByTestId('lock-meeting');
  await lock.click();
  await waitFor(async () => (await lock.getAttribute('aria-pressed')) === 'true', 5000, 'the lock to show pressed');
  const late = await newParticipant(suite.browser);
  try {
    await late.page.goto(`${suite.server.url}/m/${meetingId}?name=Dan&video=320x240`);
    await waitFor(async () => (await late.page.getByTestId('room-notice').innerText().catch(() => '')).includes('locked'), 15_000, 'Dan to be told the meeting is locked');
    assert.is(await late.page.getByTestId('leave-meeting').count(), 0);
    await lock.click();
    await waitFor(async () => (await lock.getAttribute('aria-pressed')) === 'false', 5000, 'the lock to show released');
    await late.page.reload();
    await late.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
    await item(host, 'Dan').waitFor({ timeout: 10_000 });
  } finally {
    await late.context.close();
  }
});

test.run();
