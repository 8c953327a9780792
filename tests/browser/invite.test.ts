/**
 * The room's invite: `copy-link` puts the meeting link on the clipboard and says so; a host
 * also gets the host link. The server has a `PUBLIC_URL` (here its own origin under the name
 * `localhost`, as the `/ws` Origin check wants), and the link a joining socket is handed is
 * built on it even when the socket came to another address.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedMeeting } from '../../protocol/rest';
import { newParticipant, type Participant } from '../helpers/browser';
import { browserSuite } from '../helpers/browserSuite';
import { createMeeting, joinAs } from '../helpers/room';
import { freeTcpPort, startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { TestSocket } from '../helpers/wsClient';

let publicUrl: string;
const suite = browserSuite(test, async () => {
  const port = await freeTcpPort();
  publicUrl = `http://localhost:${port}`;
  return startServer({ port, publicUrl });
});

async function clipboardOf(p: Participant): Promise<string> {
  return p.page.evaluate(() => navigator.clipboard.readText());
}

test('the meeting link a participant is handed is built on PUBLIC_URL, whatever address the socket came to', async () => {
  const meeting = await createMeeting(suite.server.url, 'Linked');
  const socket = await TestSocket.connect(suite.server.wsUrl);
  try {
    assert.match(suite.server.wsUrl, /^ws:\/\/127\.0\.0\.1:/);
    const joined = await socket.join(meeting.id, 'Ann');
    assert.is(joined.link, `${publicUrl}/m/${meeting.id}`);
    assert.is(meeting.link, joined.link);
  } finally {
    socket.close();
  }
});

test('copy-link copies the meeting link and says "Link copied"; only the host also gets the host link', async () => {
  const meeting: CreatedMeeting = await createMeeting(publicUrl, 'Invite');
  // The host opens the host link, as the creator's browser would after creating.
  const host = await newParticipant(suite.browser);
  suite.people.push(host);
  await host.context.grantPermissions(['camera', 'microphone', 'clipboard-read', 'clipboard-write'], { origin: publicUrl });
  await host.page.goto(`${publicUrl}/m/${meeting.id}?name=Hana&video=320x240#host=${encodeURIComponent(meeting.creatorToken)}`);
  await host.page.getByTestId('leave-meeting').waitFor({ timeout: 15_000 });
  const guest = await joinAs(suite.browser, publicUrl, meeting.id, 'Gus', 800);
  suite.people.push(guest);
  await guest.context.grantPermissions(['camera', 'microphone', 'clipboard-read', 'clipboard-write'], { origin: publicUrl });

  for (const p of [host, guest]) {
    await p.page.getByTestId('copy-link').click();
    await waitFor(async () => (await p.page.getByTestId('invite-status').innerText()).includes('Link copied'), 5000, '"Link copied"');
    assert.is(await clipboardOf(p), meeting.link);
  }
  assert.is(meeting.link, `${publicUrl}/m/${meeting.id}`);

  assert.is(await guest.page.getByTestId('copy-host-link').count(), 0, 'a guest has no host link to give away');
  await host.page.getByTestId('copy-host-link').click();
  await waitFor(async () => (await host.page.getByTestId('invite-status').innerText()).includes('Host link copied'), 5000, '"Host link copied"');
  assert.is(await clipboardOf(host), meeting.hostLink);
});

test.run();
