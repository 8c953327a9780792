/** TURN REST API credentials: what coturn's `use-auth-secret` expects, and their checks. */
import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issueTurnCredential, verifyTurnCredential } from '../../turn/credentials';

const SECRET = 'north-wind-42';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0, 250);
const NOW_S = Math.floor(NOW / 1000);

test('the username is the expiry in Unix seconds, a colon, and the user id', () => {
  const c = issueTurnCredential(SECRET, 'alice', 3600, NOW);
  assert.is(c.username, `${NOW_S + 3600}:alice`);
  assert.is(c.expiresAt, (NOW_S + 3600) * 1000);
});

test('the credential is base64(HMAC-SHA1(secret, username))', () => {
  const c = issueTurnCredential(SECRET, 'alice', 3600, NOW);
  const expected = createHmac('sha1', SECRET).update(`${NOW_S + 3600}:alice`).digest('base64');
  assert.is(c.credential, expected);
  // A known vector, so a change of hash or encoding cannot hide behind the line above.
  assert.is(issueTurnCredential('secret', 'u', 1, 0).credential, createHmac('sha1', 'secret').update('1:u').digest('base64'));
});

test('a fresh credential verifies and yields its user id', () => {
  const c = issueTurnCredential(SECRET, 'room:7/bob', 60, NOW);
  assert.equal(verifyTurnCredential(SECRET, c.username, c.credential, NOW), {
    ok: true,
    userId: 'room:7/bob',
    expiresAt: c.expiresAt,
  });
});

test('a tampered credential is rejected', () => {
  const c = issueTurnCredential(SECRET, 'alice', 60, NOW);
  const flipped = (c.credential[0] === 'A' ? 'B' : 'A') + c.credential.slice(1);
  assert.equal(verifyTurnCredential(SECRET, c.username, flipped, NOW), { ok: false, reason: 'bad-signature' });
  assert.equal(verifyTurnCredential(SECRET, c.username, '', NOW), { ok: false, reason: 'bad-signature' });
});

test('a username with a pushed-back expiry is rejected', () => {
  const c = issueTurnCredential(SECRET, 'alice', 60, NOW);
  const extended = `${NOW_S + 999_999}:alice`;
  assert.equal(verifyTurnCredential(SECRET, extended, c.credential, NOW), { ok: false, reason: 'bad-signature' });
});

test('a credential signed with another secret is rejected', () => {
  const c = issueTurnCredential('other-secret', 'alice', 60, NOW);
  assert.equal(verifyTurnCredential(SECRET, c.username, c.credential, NOW), { ok: false, reason: 'bad-signature' });
});

test('a credential is rejected from its expiry second on', () => {
  const c = issueTurnCredential(SECRET, 'alice', 60, NOW);
  assert.ok(verifyTurnCredential(SECRET, c.username, c.credential, c.expiresAt - 1).ok);
  assert.equal(verifyTurnCredential(SECRET, c.username, c.credential, c.expiresAt), { ok: false, reason: 'expired' });
});

test('a username without a leading expiry is malformed', () => {
  for (const username of ['alice', ':alice', 'soon:alice', '-5:alice']) {
    assert.equal(verifyTurnCredential(SECRET, username, 'x', NOW), { ok: false, reason: 'malformed' }, username);
  }
});

test('a ttl that is not a positive whole number of seconds is refused', () => {
  for (const ttl of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => issueTurnCredential(SECRET, 'alice', ttl, NOW), /ttl/);
  }
  assert.throws(() => issueTurnCredential('', 'alice', 60, NOW), /secret/);
});

test.run();
