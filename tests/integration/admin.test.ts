/**
 * The operator dashboard's API: absent without ADMIN_TOKEN; refused without the token;
 * open to a Bearer header or the session cookie the login form gets (which carries no
 * token); its state lists the node's meetings, workers and samples; and, with several
 * nodes over a real Redis, each node lists the others with a link to their dashboard.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AdminState } from '../../protocol/admin';
import type { CreatedMeeting } from '../../protocol/rest';
import { spawn } from 'node:child_process';
import { ROOT_DIR } from '../../coordinator/config';
import { startRedis, type TestRedis } from '../helpers/redis';
import { api, freeTcpPort, startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const TOKEN = 'test-admin-token-0123456789abcdef';
const servers: TestServer[] = [];
let redis: TestRedis | undefined;

test.after(async () => {
  await Promise.allSettled(servers.map((s) => s.dispose()));
  await redis?.stop();
});

async function start(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer({ mediaWorkers: 0, ...overrides });
  servers.push(server);
  return server;
}

const state = (server: TestServer, headers: Record<string, string> = {}) => fetch(`${server.url}/admin/api/state`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('without ADMIN_TOKEN there is no dashboard', async () => {
  const server = await start();
  assert.is((await fetch(`${server.url}/admin`)).status, 404);
  assert.is((await state(server, bearer(TOKEN))).status, 404);
  assert.is((await api(server.url, 'POST', '/admin/api/login', { token: TOKEN })).status, 404);
});

test('the state is refused without the token or with a wrong one, and given with a Bearer header', async () => {
  const server = await start({ adminToken: TOKEN });
  const refused = await state(server);
  assert.is(refused.status, 401);
  assert.is(((await refused.json()) as { error: { code: string } }).error.code, 'ADMIN_TOKEN_REQUIRED');
  assert.is((await state(server, bearer(TOKEN + 'x'))).status, 401);
  assert.is((await state(server, bearer(TOKEN.slice(0, -1)))).status, 401);
  assert.is((await state(server, { cookie: 'meetmesh_admin=99999999999999.forged' })).status, 401, 'a forged session cookie');

  const { body: meeting } = await api<CreatedMeeting>(server.url, 'POST', '/api/meetings', { title: 'Watched' });
  const ok = await state(server, bearer(TOKEN));
  assert.is(ok.status, 200);
  const body = (await ok.json()) as AdminState;
  assert.is(body.node.id, 'single');
  assert.equal(body.meetings.map((m) => [m.id, m.title, m.mode, m.participants, m.recording]), [[meeting.id, 'Watched', 'p2p', 0, false]]);
  assert.is(body.workers.length, 1);
  assert.is(body.workers[0]!.cpuCores, null, 'a main-thread worker has no CPU of its own');
  assert.equal(body.nodes, [], 'one node: no deployment list');
});

test('the login form trades the token (in a POST body) for an HttpOnly session cookie that carries no token', async () => {
  const server = await start({ adminToken: TOKEN });
  const page = await fetch(`${server.url}/admin`);
  assert.is(page.status, 200);
  assert.match(await page.text(), /admin\.js/);

  const wrong = await api<{ error: { code: string } }>(server.url, 'POST', '/admin/api/login', { token: 'not-the-token' });
  assert.is(wrong.status, 401);
  assert.is(wrong.body.error.code, 'ADMIN_TOKEN_REQUIRED');

  const login = await fetch(`${server.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
  assert.is(login.status, 204);
  const setCookie = login.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /^meetmesh_admin=[^;]+; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  assert.not.ok(setCookie.includes(TOKEN), 'the cookie does not carry the token');
  const cookie = setCookie.split(';')[0]!;
  assert.is((await state(server, { cookie })).status, 200);

  // Samples come every few seconds; `since` gives only the newer ones.
  const first = await waitFor(async () => {
    const body = (await (await state(server, { cookie })).json()) as AdminState;
    return body.samples.length > 0 ? body : undefined;
  }, 10_000, 'a first sample');
  const last = first.samples.at(-1)!.at;
  const later = (await (await fetch(`${server.url}/admin/api/state?since=${last}`, { headers: { cookie } })).json()) as AdminState;
  assert.ok(later.samples.every((s) => s.at > last));

  const logout = await fetch(`${server.url}/admin/api/logout`, { method: 'POST', headers: { cookie } });
  assert.match(logout.headers.get('set-cookie') ?? '', /^meetmesh_admin=; .*Max-Age=0/);
});

test('the token never reaches the log, even at trace level', async () => {
  const port = await freeTcpPort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT_DIR,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DB_PATH: ':memory:', TURN_DISABLED: '1', MEDIA_WORKERS: '0', LOG_LEVEL: 'trace', NO_COLOR: '1', ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/api/health`).catch(() => undefined))?.ok === true, 20_000, 'the server to start', 100);
    const post = (body: unknown) => fetch(`${url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.is((await post({ token: TOKEN })).status, 204);
    assert.is((await post({ token: `${TOKEN}-wrong` })).status, 401);
    assert.is((await post({ token: TOKEN, extra: 1 })).status, 400);
    assert.is((await fetch(`${url}/admin/api/state`, { headers: bearer(TOKEN) })).status, 200);
    assert.is((await fetch(`${url}/admin/api/state`, { headers: bearer(`${TOKEN}-wrong`) })).status, 401);
    await waitFor(() => log.includes('admin login refused'), 5000, 'the refused login to be logged');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  assert.ok(log.includes('/admin/api/state'), 'requests are logged');
  assert.not.ok(log.includes(TOKEN), 'the token is nowhere in the log');
});

test('with several nodes over Redis, each dashboard lists the others with a link to theirs', async () => {
  redis = await startRedis();
  const cluster = (nodeId: string) => ({ adminToken: TOKEN, cluster: { redisUrl: redis!.url, nodeId, heartbeatMs: 200, nodeTtlMs: 800 } });
  const a = await start(cluster('node-a'));
  const b = await start(cluster('node-b'));
  for (const [self, other] of [[a, b], [b, a]] as const) {
    const body = await waitFor(async () => {
      const s = (await (await state(self, bearer(TOKEN))).json()) as AdminState;
      return s.nodes.length === 2 ? s : undefined;
    }, 10_000, 'both nodes listed');
    const [first, second] = body.nodes;
    assert.ok(first!.self, 'this node first');
    assert.is(first!.id, self === a ? 'node-a' : 'node-b');
    assert.is(second!.id, other === a ? 'node-a' : 'node-b');
    assert.is(second!.dashboardUrl, `${other.url}/admin`);
  }
});

test.run();
