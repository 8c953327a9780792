import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canSwitch, TopologyController, type SwitchRecord, type TopologySnapshot } from '../../coordinator/topology/TopologyController';

function controller(preference: 'auto' | 'relay' = 'auto', holdMs = 40, prepareTimeoutMs = 200) {
  const c = new TopologyController(preference, { holdMs, prepareTimeoutMs });
  const changes: TopologySnapshot[] = [];
  const switches: SwitchRecord[] = [];
  c.on('change', (s) => changes.push(s));
  c.on('switched', (r) => switches.push(r));
  return { c, changes, switches };
}

/** Resolves when `predicate` holds, checking on each change (never a fixed sleep). */
function until(c: TopologyController, predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => reject(new Error('condition not reached')), timeoutMs);
    c.on('change', () => {
      if (predicate()) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

test('the transition table allows only the make-before-break cycle', () => {
  assert.ok(canSwitch('p2p', 'to-relay'));
  assert.ok(canSwitch('to-relay', 'relay'));
  assert.ok(canSwitch('relay', 'to-p2p'));
  assert.ok(canSwitch('to-p2p', 'p2p'));
  assert.ok(canSwitch('to-p2p', 'relay'), 'a failed switch to P2P falls back');
  assert.not.ok(canSwitch('p2p', 'relay'), 'never skip preparing');
  assert.not.ok(canSwitch('relay', 'p2p'));
  assert.not.ok(canSwitch('to-relay', 'p2p'), 'a switch to the relay is never abandoned');
});

test('two stay P2P; a third starts a switch to the relay that commits when everyone is ready', () => {
  const { c, changes, switches } = controller();
  c.setMembers(['a', 'b']);
  assert.is(c.snapshot().state, 'p2p');
  c.setMembers(['a', 'b', 'c']);
  assert.equal(c.snapshot(), { state: 'to-relay', mode: 'switching', target: 'relay', epoch: 1 });
  c.pathReady('a', 1);
  c.pathReady('b', 1);
  c.pathReady('c', 0); // a stale epoch does not count
  assert.is(c.snapshot().state, 'to-relay');
  c.pathReady('c', 1);
  assert.is(c.snapshot().state, 'relay');
  assert.equal(changes.map((s) => s.state), ['to-relay', 'relay']);
  assert.is(switches.length, 1);
  assert.equal({ from: switches[0]!.from, to: switches[0]!.to, completed: switches[0]!.completed }, { from: 'p2p', to: 'relay', completed: true });
  c.close();
});

test('back at two, the meeting returns to P2P only after the hold time', async () => {
  const { c, changes } = controller('auto', 60);
  c.setMembers(['a', 'b', 'c']);
  for (const id of ['a', 'b', 'c']) c.pathReady(id, 1);
  const leftAt = Date.now();
  c.setMembers(['a', 'b']);
  assert.is(c.snapshot().state, 'relay', 'not at once');
  await until(c, () => c.snapshot().state === 'to-p2p');
  assert.ok(Date.now() - leftAt >= 55);
  c.pathReady('a', 2);
  c.pathReady('b', 2);
  assert.is(c.snapshot().state, 'p2p');
  assert.equal(changes.map((s) => s.state), ['to-relay', 'relay', 'to-p2p', 'p2p']);
  c.close();
});

test('a rejoin within the hold time causes no switch', async () => {
  const { c, changes } = controller('auto', 60);
  c.setMembers(['a', 'b', 'c']);
  for (const id of ['a', 'b', 'c']) c.pathReady(id, 1);
  c.setMembers(['a', 'b']);
  c.setMembers(['a', 'b', 'c2']);
  // Prove the hold timer was disarmed: a fresh controller's hold would have fired by now.
  const probe = controller('auto', 60);
  probe.c.setMembers(['x', 'y', 'z']);
  for (const id of ['x', 'y', 'z']) probe.c.pathReady(id, 1);
  probe.c.setMembers(['x', 'y']);
  await until(probe.c, () => probe.c.snapshot().state === 'to-p2p');
  assert.is(c.snapshot().state, 'relay');
  assert.equal(changes.map((s) => s.state), ['to-relay', 'relay']);
  c.close();
  probe.c.close();
});

test('a switch to P2P that is not ready in time falls back to the relay', async () => {
  const { c, switches } = controller('auto', 20, 80);
  c.setMembers(['a', 'b', 'c']);
  for (const id of ['a', 'b', 'c']) c.pathReady(id, 1);
  c.setMembers(['a', 'b']);
  await until(c, () => c.snapshot().state === 'to-p2p');
  c.pathReady('a', 2); // b never gets there
  await until(c, () => c.snapshot().state === 'relay');
  assert.is(switches.at(-1)!.completed, false);
  assert.is(switches.at(-1)!.to, 'relay');
  assert.ok(c.snapshot().epoch > 2, 'late path-ready messages of the abandoned switch are ignored');
  c.close();
});

test('a third joining during a switch to P2P sends everyone back to the relay', async () => {
  const { c } = controller('auto', 20, 5000);
  c.setMembers(['a', 'b', 'c']);
  for (const id of ['a', 'b', 'c']) c.pathReady(id, 1);
  c.setMembers(['a', 'b']);
  await until(c, () => c.snapshot().state === 'to-p2p');
  c.setMembers(['a', 'b', 'd']);
  assert.is(c.snapshot().state, 'relay');
  c.close();
});

test('a member who dies mid-switch does not block the commit', () => {
  const { c } = controller();
  c.setMembers(['a', 'b', 'c']);
  c.pathReady('a', 1);
  c.pathReady('b', 1);
  c.setMembers(['a', 'b']); // c's tab closed before it was ready
  assert.is(c.snapshot().state, 'relay');
  c.close();
});

test('a switch to the relay commits on timeout rather than splitting the meeting', async () => {
  const { c, switches } = controller('auto', 10_000, 60);
  c.setMembers(['a', 'b', 'c']);
  c.pathReady('a', 1);
  await until(c, () => c.snapshot().state === 'relay');
  assert.ok(switches[0]!.completed);
  assert.match(switches[0]!.reason, 'without every member ready');
  c.close();
});

test('when P2P fails, two people move to the relay and stay there', async () => {
  const { c, changes } = controller('auto', 20);
  c.setMembers(['a', 'b']);
  c.p2pFailed('a', 1); // stale epoch: ignored
  assert.is(c.snapshot().state, 'p2p');
  c.p2pFailed('a', 0);
  assert.is(c.snapshot().state, 'to-relay');
  c.pathReady('a', 1);
  c.pathReady('b', 1);
  assert.is(c.snapshot().state, 'relay');
  // A fresh controller shows how long the hold would take; this one must not switch back.
  const probe = controller('auto', 20);
  probe.c.setMembers(['x', 'y', 'z']);
  for (const id of ['x', 'y', 'z']) probe.c.pathReady(id, 1);
  probe.c.setMembers(['x', 'y']);
  await until(probe.c, () => probe.c.snapshot().state === 'to-p2p');
  c.setMembers(['a', 'b']);
  assert.is(c.snapshot().state, 'relay');
  assert.equal(changes.map((s) => s.state), ['to-relay', 'relay']);
  c.close();
  probe.c.close();
});

test('a P2P failure during a switch back abandons it at once', async () => {
  const { c, switches } = controller('auto', 20, 5000);
  c.setMembers(['a', 'b', 'c']);
  for (const id of ['a', 'b', 'c']) c.pathReady(id, 1);
  c.setMembers(['a', 'b']);
  await until(c, () => c.snapshot().state === 'to-p2p');
  c.p2pFailed('b', c.snapshot().epoch);
  assert.is(c.snapshot().state, 'relay');
  assert.equal({ to: switches.at(-1)!.to, completed: switches.at(-1)!.completed }, { to: 'relay', completed: false });
  c.close();
});

test('an always-relay meeting never switches', () => {
  const { c, changes } = controller('relay');
  assert.is(c.snapshot().state, 'relay');
  c.setMembers(['a', 'b']);
  c.setMembers(['a']);
  assert.equal(changes, []);
  c.close();
});

test('pinned to the relay (recording), two people move to the relay and stay; released, they return to P2P after the hold', async () => {
  const { c, switches } = controller('auto', 40, 200);
  c.setMembers(['a', 'b']);
  c.pinToRelay('recording');
  assert.is(c.snapshot().state, 'to-relay');
  c.pathReady('a', c.snapshot().epoch);
  c.pathReady('b', c.snapshot().epoch);
  assert.is(c.snapshot().state, 'relay');
  assert.is(switches[0]?.reason, 'recording');
  // Longer than the hold: still on the relay while pinned.
  const waited = new Promise((resolve) => setTimeout(resolve, 120));
  await waited;
  assert.is(c.snapshot().state, 'relay');
  c.pinToRelay(null);
  await until(c, () => c.snapshot().state === 'to-p2p');
  c.close();
});

test.run();
