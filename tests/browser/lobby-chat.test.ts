import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newParticipant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { startServer } from '../helpers/server';

const suite = browserSuite(test, () => startServer());

test('two people: create from the lobby, join from the list, chat both ways, creator cancels', async () => {
  const alice = await newParticipant(suite.browser);
  const bob = await newParticipant(suite.browser);
  suite.people.push(alice, bob);

  // Alice creates a meeting from the lobby.
  await alice.page.goto(suite.server.url + '/');
  await alice.page.getByTestId('display-name').fill('Alice');
  await alice.page.getByTestId('meeting-title').fill('Design review');
  await alice.page.getByTestId('create-meeting').click();
  await alice.page.waitForURL(/\/m\/[^/]+$/);
  const meetingId = alice.page.url().split('/m/')[1]!;
  await alice.page.getByText('You are the only one here').waitFor();
  const badge = alice.page.getByTestId('topology-badge');
  assert.is(await badge.getAttribute('data-mode'), 'waiting');

  // Bob finds it in the live list and joins.
  await bob.page.goto(suite.server.url + '/');
  await bob.page.getByTestId('display-name').fill('Bob');
  const item = bob.page.locator(`[data-testid="meeting-item"][data-meeting-id="${meetingId}"]`);
  await item.waitFor();
  assert.match(await item.innerText(), 'Design review');
  await item.getByTestId('join-meeting').click();
  await bob.page.waitForURL(`**/m/${meetingId}`);
  await bob.page.locator('[data-testid="participant-item"][data-participant="Alice"]').waitFor();
  await alice.page.locator('[data-testid="participant-item"][data-participant="Bob"]').waitFor();

  // Chat both ways: each line shows the sender's name and a time.
  await alice.page.getByTestId('chat-input').fill('Hi Bob, can you see the draft?');
  await alice.page.getByTestId('chat-send').click();
  const onBob = bob.page.getByTestId('chat-message').filter({ hasText: 'can you see the draft' });
  await onBob.waitFor();
  assert.is(await onBob.getByTestId('chat-sender').innerText(), 'Alice');
  assert.match(await onBob.getByTestId('chat-time').innerText(), /\d{1,2}[:.]\d{2}/);

  await bob.page.getByTestId('chat-input').fill('Yes, looks good');
  await bob.page.keyboard.press('Enter');
  const onAlice = alice.page.getByTestId('chat-message').filter({ hasText: 'Yes, looks good' });
  await onAlice.waitFor();
  assert.is(await onAlice.getByTestId('chat-sender').innerText(), 'Bob');
  assert.match(await onAlice.getByTestId('chat-time').innerText(), /\d{1,2}[:.]\d{2}/);
  assert.is(await bob.page.getByTestId('chat-message').filter({ hasText: 'can you see the draft' }).count(), 1);

  // Only the creator sees cancel; after a reload Alice still can.
  assert.is(await bob.page.getByTestId('cancel-meeting').count(), 0);
  await alice.page.reload();
  await alice.page.locator('[data-testid="participant-item"][data-participant="Bob"]').waitFor();
  await alice.page.getByTestId('cancel-meeting').click();
  await alice.page.getByTestId('confirm-cancel').click();

  const notice = bob.page.getByTestId('room-notice');
  await notice.waitFor();
  assert.match(await notice.innerText(), 'cancelled');
  assert.ok(await bob.page.getByTestId('chat-input').isDisabled(), 'chat is closed after cancel');
  await alice.page.getByTestId('room-notice').waitFor();

  // The meeting is gone from the list.
  await bob.page.goto(suite.server.url + '/');
  await bob.page.getByTestId('meeting-list').getByText('No meetings right now').waitFor();
});

test('a link to an unknown meeting says so', async () => {
  const carol = await newParticipant(suite.browser);
  suite.people.push(carol);
  await carol.page.goto(`${suite.server.url}/m/no-such-meeting?name=Carol`);
  const notice = carol.page.getByTestId('room-notice');
  await notice.waitFor();
  assert.match(await notice.innerText(), 'does not exist');
});

test.run();
