/** The dashboard's credential checks: the token, a session's signature and expiry, and ADMIN_TOKEN's rules. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminAuth, SESSION_MS, constantTimeEqual, cookieValue } from '../../coordinator/http/adminAuth';
import { ConfigError, configFromEnv } from '../../coordinator/config';

const TOKEN = 'unit-admin-token-0123456789';

test('the token matches only itself, whatever the lengths', () => {
  assert.ok(constantTimeEqual(TOKEN, TOKEN));
  assert.not.ok(constantTimeEqual(TOKEN, TOKEN + 'x'));
  assert.not.ok(constantTimeEqual(TOKEN, ''));
  const auth = new AdminAuth(TOKEN);
  assert.ok(auth.allows({ authorization: `Bearer ${TOKEN}` }));
  assert.not.ok(auth.allows({ authorization: `Bearer ${TOKEN.toUpperCase()}` }));
  assert.not.ok(auth.allows({ authorization: TOKEN }), 'only as a Bearer credential');
  assert.not.ok(auth.allows({}));
});

test('a session is accepted until it expires, and only with its own signature and token', () => {
  const auth = new AdminAuth(TOKEN);
  const now = 1_800_000_000_000;
  const session = auth.newSession(now);
  assert.not.ok(session.includes(TOKEN));
  const cookie = `other=1; meetmesh_admin=${session}`;
  assert.ok(auth.allows({ cookie }, now + 1000));
  assert.not.ok(auth.allows({ cookie }, now + SESSION_MS + 1), 'expired');
  const [expires, signature] = session.split('.');
  assert.not.ok(auth.allows({ cookie: `meetmesh_admin=${Number(expires) + 1}.${signature}` }, now), 'a stretched expiry');
  assert.not.ok(new AdminAuth(TOKEN + '2').allows({ cookie }, now), 'a changed token ends every session');
  assert.ok(new AdminAuth(TOKEN).allows({ cookie }, now), 'another node with the same token accepts it');
});

test('cookieValue finds one cookie among several', () => {
  assert.is(cookieValue('a=1; meetmesh_admin=x.y; b=2', 'meetmesh_admin'), 'x.y');
  assert.is(cookieValue(undefined, 'meetmesh_admin'), undefined);
});

test('ADMIN_TOKEN turns the dashboard on and must not be short', () => {
  assert.is(configFromEnv({}).adminToken, undefined);
  assert.is(configFromEnv({ ADMIN_TOKEN: TOKEN }).adminToken, TOKEN);
  assert.throws(() => configFromEnv({ ADMIN_TOKEN: 'short' }), (err: unknown) => err instanceof ConfigError && err.variable === 'ADMIN_TOKEN');
});

test.run();
