import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { canTransition } from '../../coordinator/meetings/lifecycle';
import { MeetingRegistry } from '../../coordinator/meetings/MeetingRegistry';
import type { ParticipantLink } from '../../coordinator/meetings/Participant';
import { EventStore } from '../../coordinator/records/EventStore';
import { CodedError } from '../../protocol/errors';
import type { ServerMessage } from '../../protocol/signaling';

const log = pino({ level: 'silent' });

function link(): ParticipantLink & { messages: ServerMessage[]; closedWith: string | null } {
  const l = {
    messages: [] as ServerMessage[],
    closedWith: null as string | null,
    send: (m: ServerMessage) => l.messages.push(m),
    close: (reason: 'cancelled' | 'ended' | 'replaced') => (l.closedWith = reason),
  };
  return l;
}

function setup() {
  const store = new EventStore(':memory:');
  const registry = new MeetingRegistry(store, log, { departureGraceMs: 50 });
  return { store, registry };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CodedError ? err.code : 'not coded';
  }
  return undefined;
}

test('an open meeting can be cancelled or end; a closed one goes nowhere', () => {
  assert.ok(canTransition('open', 'cancelled'));
  assert.ok(canTransition('open', 'ended'));
  for (const to of ['open', 'cancelled', 'ended'] as const) {
    assert.not.ok(canTransition('cancelled', to), `cancelled -> ${to}`);
    assert.not.ok(canTransition('ended', to), `ended -> ${to}`);
  }
  assert.not.ok(canTransition('open', 'open'));
});

test('the last participant out ends the meeting and it leaves the list', () => {
  const { registry, store } = setup();
  const { meeting } = registry.create('Standup', 'auto');
  const a = meeting.join('Alice', link());
  const b = meeting.join('Bob', link());
  assert.is(registry.listJoinable()[0]?.participants, 2);
  meeting.leave(a.id, 'left');
  assert.is(meeting.state, 'open');
  meeting.leave(b.id, 'timed-out');
  assert.is(meeting.state, 'ended');
  assert.equal(registry.listJoinable(), []);
  assert.is(registry.get(meeting.id), undefined);
  assert.equal(store.events(meeting.id).map((e) => e.type), ['created', 'joined', 'joined', 'left', 'left', 'ended']);
});

test('a non-creator cannot cancel; the creator can, and everyone is removed with a notice', () => {
  const { registry } = setup();
  const { meeting, creatorToken } = registry.create('Review', 'auto');
  const aliceLink = link();
  const bobLink = link();
  meeting.join('Alice', aliceLink, creatorToken);
  meeting.join('Bob', bobLink, 'a-guess');
  assert.is(codeOf(() => meeting.cancel('a-guess')), 'NOT_CREATOR');
  assert.is(codeOf(() => meeting.cancel(undefined)), 'NOT_CREATOR');
  assert.is(meeting.state, 'open');
  meeting.cancel(creatorToken);
  assert.is(meeting.state, 'cancelled');
  assert.is(meeting.size, 0);
  for (const l of [aliceLink, bobLink]) {
    assert.ok(l.messages.some((m) => m.type === 'meeting-closed' && m.reason === 'cancelled'));
    assert.is(l.closedWith, 'cancelled');
  }
  assert.is(codeOf(() => meeting.join('Carol', link())), 'MEETING_CANCELLED');
  assert.is(codeOf(() => meeting.cancel(creatorToken)), 'MEETING_CANCELLED');
});

test('only the holder of the creator token is marked creator', () => {
  const { registry } = setup();
  const { meeting, creatorToken } = registry.create('X', 'auto');
  assert.ok(meeting.join('Alice', link(), creatorToken).isCreator);
  assert.not.ok(meeting.join('Bob', link(), creatorToken.slice(1)).isCreator);
  assert.not.ok(meeting.join('Carol', link()).isCreator);
});

test('an ended meeting refuses joins', () => {
  const { registry } = setup();
  const { meeting } = registry.create('X', 'auto');
  const a = meeting.join('Alice', link());
  meeting.leave(a.id, 'left');
  assert.is(codeOf(() => meeting.join('Bob', link())), 'MEETING_ENDED');
});

test('a chat line reaches every other member once; a repeated id is dropped', () => {
  const { registry } = setup();
  const { meeting } = registry.create('X', 'auto');
  const links = [link(), link(), link()];
  const [alice] = links.map((l, i) => meeting.join(`P${i}`, l));
  meeting.chat(alice!, 'm-1', 'hello');
  meeting.chat(alice!, 'm-1', 'hello');
  const chats = links.map((l) => l.messages.filter((m) => m.type === 'chat').length);
  assert.equal(chats, [0, 1, 1]);
});

test('a signal can only be sent to a member of the same meeting', () => {
  const { registry } = setup();
  const one = registry.create('One', 'auto').meeting;
  const two = registry.create('Two', 'auto').meeting;
  const a = one.join('A', link());
  const b = one.join('B', link());
  const x = two.join('X', link());
  assert.is(codeOf(() => one.relaySignal(a, x.id, 'c1', { type: 'renegotiate', renegotiate: true })), 'NOT_IN_MEETING');
  assert.is(codeOf(() => one.relaySignal(a, a.id, 'c1', { type: 'renegotiate', renegotiate: true })), 'NOT_IN_MEETING');
  assert.is(codeOf(() => one.relaySignal(a, b.id, 'c1', { type: 'renegotiate', renegotiate: true })), undefined);
});

test('a meeting nobody joins ends after the unused timeout', async () => {
  const store = new EventStore(':memory:');
  const registry = new MeetingRegistry(store, log, { departureGraceMs: 50 }, 30);
  const { meeting } = registry.create('Ghost', 'auto');
  // The server's timer is unref'd (it must not keep a process alive); hold this one open.
  const keepAlive = setTimeout(() => {}, 5000);
  await new Promise<void>((resolve) => meeting.once('state', () => resolve()));
  clearTimeout(keepAlive);
  assert.is(meeting.state, 'ended');
  assert.equal(registry.listJoinable(), []);
});

test('a dropped participant is kept for the grace and can resume; a resume token takes over the socket', () => {
  const { registry, store } = setup();
  const { meeting } = registry.create('Wifi', 'auto');
  const first = link();
  const a = meeting.join('Alice', first);
  const b = meeting.join('Bob', link());
  meeting.drop(a.id);
  assert.is(meeting.size, 2, 'still a member during the grace');
  assert.not.ok(a.connected);
  const again = link();
  assert.is(meeting.resume('not-the-token', again), undefined);
  assert.is(meeting.resume(a.resumeToken, again), a, 'same participant');
  assert.ok(a.connected);
  // Resuming while the old socket is still attached replaces it.
  const third = link();
  assert.is(meeting.resume(a.resumeToken, third), a);
  assert.is(again.closedWith, 'replaced');
  assert.ok(b.connected);
  assert.equal(store.events(meeting.id).map((e) => e.type), ['created', 'joined', 'joined', 'dropped', 'resumed', 'resumed']);
  assert.not.ok(store.events(meeting.id).some((e) => e.type === 'left'), 'nobody saw a leave');
});

test('a participant who does not come back within the grace leaves as timed out; the last one ends the meeting', async () => {
  const { registry, store } = setup();
  const { meeting } = registry.create('Gone', 'auto');
  const a = meeting.join('Alice', link());
  meeting.drop(a.id);
  const keepAlive = setTimeout(() => {}, 5000);
  await new Promise<void>((resolve) => meeting.once('state', () => resolve()));
  clearTimeout(keepAlive);
  assert.is(meeting.state, 'ended');
  const left = store.events(meeting.id).find((e) => e.type === 'left');
  assert.is(left?.detail?.reason, 'timed-out');
});

test('open meetings are restored from the record with their creator credential', () => {
  const store = new EventStore(':memory:');
  const before = new MeetingRegistry(store, log, { departureGraceMs: 50 });
  const { meeting, creatorToken } = before.create('Survivor', 'relay', { listed: false });
  meeting.join('Alice', link());
  store.record(meeting.id, 'mode-switched', undefined, { from: 'p2p', to: 'relay', completed: true });
  before.suspendAll();
  const after = new MeetingRegistry(store, log, { departureGraceMs: 50 });
  const [restored] = after.restore();
  assert.is(restored?.id, meeting.id);
  assert.is(restored?.title, 'Survivor');
  assert.is(restored?.topology, 'relay');
  assert.ok(restored?.isCreatorToken(creatorToken));
  assert.not.ok(restored?.isCreatorToken('guess'));
  assert.is(restored?.size, 0, 'people come back by themselves');
  assert.is(restored?.listed, false, 'an unlisted meeting stays unlisted');
  assert.is(restored?.path.mode, 'relay', 'it starts on the path it was on');
  assert.equal(after.listJoinable(), []);
  assert.ok(store.events(meeting.id).some((e) => e.type === 'restored'));
});

test.run();
