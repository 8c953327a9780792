/** The cluster's settings and the messages nodes exchange are checked at their edge. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, configFromEnv } from '../../coordinator/config';
import { decodeNodeMessage } from '../../coordinator/cluster/NodeMessage';

test('REDIS_URL turns a node into a cluster member with its defaults; unset, nothing changes', () => {
  assert.is(configFromEnv({}).cluster, undefined);
  const config = configFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379', NODE_ID: 'node-a' });
  assert.equal(config.cluster, { redisUrl: 'redis://127.0.0.1:6379', nodeId: 'node-a', heartbeatMs: 1000, nodeTtlMs: 3000 });
});

test('bad cluster settings are refused with the variable named', () => {
  for (const [env, variable] of [
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://h', NODE_ID: 'a b' }, 'NODE_ID'],
    [{ REDIS_URL: 'redis://h', CLUSTER_HEARTBEAT_MS: '5' }, 'CLUSTER_HEARTBEAT_MS'],
    [{ REDIS_URL: 'redis://h', CLUSTER_HEARTBEAT_MS: '1000', CLUSTER_NODE_TTL_MS: '1500' }, 'CLUSTER_NODE_TTL_MS'],
  ] as const) {
    try {
      configFromEnv(env);
      assert.unreachable(`${JSON.stringify(env)} accepted`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).variable, variable);
    }
  }
});

test('node messages: every kind decodes; anything else is refused, never thrown', () => {
  const valid = [
    { type: 'open', session: 'b/1', from: 'b' },
    { type: 'frame', session: 'b/1', data: '{"type":"leave"}' },
    { type: 'closed', session: 'b/1' },
    { type: 'deliver', session: 'b/1', data: '{}' },
    { type: 'end', session: 'b/1', code: 4004, reason: 'restarting' },
    { type: 'create', requestId: 'r1', from: 'a', title: 'T', topology: 'auto', listed: true },
    { type: 'cancel', requestId: 'r2', from: 'a', meetingId: 'm' },
    { type: 'result', requestId: 'r1', ok: true, meetingId: 'm', creatorToken: 't' },
  ];
  for (const message of valid) assert.equal(decodeNodeMessage(JSON.stringify(message)), message);
  for (const raw of [
    'not json',
    'null',
    '[]',
    JSON.stringify({ type: 'open', session: 'b/1' }),
    JSON.stringify({ type: 'frame', session: 'b/1', data: 42 }),
    JSON.stringify({ type: 'end', session: 'b/1', code: 'x', reason: '' }),
    JSON.stringify({ type: 'create', requestId: 'r', from: 'a', title: 'T', topology: 'mesh', listed: true }),
    JSON.stringify({ type: 'open', session: 'b/1', from: 'b', extra: true }),
    JSON.stringify({ type: 'teleport' }),
  ]) {
    assert.is(decodeNodeMessage(raw), undefined, raw);
  }
});

test.run();
