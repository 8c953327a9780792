/**
 * `npm start` as an operator runs it: scripts/start.ts in its own process, configured only
 * through the environment, read only through what it prints, its HTTP API, its signaling
 * socket, its TURN server and its exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT_DIR } from '../../coordinator/config';
import type { CreatedMeeting } from '../../protocol/rest';
import type { IceServer } from '../../protocol/signaling';
import { api, apiTrusting, tempDir } from '../helpers/server';
import { TurnClient } from '../helpers/turnClient';
import { waitFor } from '../helpers/wait';
import { TestSocket } from '../helpers/wsClient';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** One run of scripts/start.ts. */
interface StartedProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const temp = tempDir('meetmesh-start-');
const running: StartedProcess[] = [];
const cleanups: (() => void)[] = [];

test.after.each(() => {
  for (const c of cleanups.splice(0)) c();
  // A test that failed half-way must not leave a server behind.
  for (const p of running.splice(0)) if (!p.exit()) p.child.kill('SIGKILL');
});
test.after(() => temp.remove());

/** Spawns `node --import tsx scripts/start.ts` with only the settings given (and a temp record). */
function launch(settings: Record<string, string>): StartedProcess {
  const env: NodeJS.ProcessEnv = {};
  // Only what a shell needs: no inherited HTTPS, TURN_*, ICE_SERVERS or PORT to change the run.
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'SystemRoot']) if (process.env[key] !== undefined) env[key] = process.env[key];
  Object.assign(env, { NO_COLOR: '1', LOG_LEVEL: 'warn', DB_PATH: join(temp.dir, `run-${running.length}-${Date.now()}.db`) }, settings);
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.on('exit', (code, signal) => (exit = { code, signal }));
  const started: StartedProcess = { child, stdout: () => stdout, stderr: () => stderr, exit: () => exit };
  running.push(started);
  return started;
}

/** Waits for the "open <url>" line and the TURN line; fails with the output if it exits first. */
async function ready(p: StartedProcess): Promise<{ url: string; turnLine: string }> {
  const found = await waitFor(
    () => {
      const url = /Meetings are ready: open (\S+)/.exec(p.stdout())?.[1];
      const turnLine = /^\s*TURN: .*$/m.exec(p.stdout())?.[0];
      if (url && turnLine) return { url, turnLine: turnLine.trim() };
      if (p.exit()) return { exited: true as const };
      return undefined;
    },
    START_TIMEOUT_MS,
    'start.ts to print its URL',
  );
  if ('exited' in found) throw new Error(`start.ts exited early (${JSON.stringify(p.exit())}):\n${p.stdout()}\n${p.stderr()}`);
  return found;
}

/** Waits for the process to end (it must, within `timeoutMs`). */
async function exited(p: StartedProcess, timeoutMs: number) {
  return waitFor(() => p.exit(), timeoutMs, 'start.ts to exit');
}

function urlsOf(server: IceServer): string[] {
  return Array.isArray(server.urls) ? server.urls : [server.urls];
}

test('npm start serves the API and hands each participant fresh credentials for its bundled TURN server', async () => {
  const p = launch({ HOST: '127.0.0.1', PORT: '0', TURN_PORT: '0' });
  const { url, turnLine } = await ready(p);
  // PORT=0: the printed URL carries the port actually bound.
  const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(url)?.[1]);
  assert.ok(port > 0, `a real port in ${url}`);
  const turnPort = Number(/^TURN: turn:127\.0\.0\.1:(\d+) /.exec(turnLine)?.[1]);
  assert.ok(turnPort > 0 && turnPort !== 3478, `a real TURN port in "${turnLine}"`);

  const health = await api(url, 'GET', '/api/health');
  assert.equal(health, { status: 200, body: { ok: true } });

  const { body: meeting } = await api<CreatedMeeting>(url, 'POST', '/api/meetings', { title: 'Started' });
  assert.is(meeting.link, `${url}/m/${meeting.id}`);
  const socket = await TestSocket.connect(`${url.replace(/^http/, 'ws')}/ws`);
  cleanups.push(() => socket.close());
  const joined = await socket.join(meeting.id, 'Alice');

  const stun = joined.iceServers.find((s) => urlsOf(s).some((u) => u.startsWith('stun:')));
  const turn = joined.iceServers.find((s) => urlsOf(s).some((u) => u.startsWith('turn:')));
  assert.ok(stun, `a stun: entry in ${JSON.stringify(joined.iceServers)}`);
  assert.ok(turn, `a turn: entry in ${JSON.stringify(joined.iceServers)}`);
  assert.ok(urlsOf(stun).includes(`stun:127.0.0.1:${turnPort}`), `stun at the printed port: ${JSON.stringify(stun)}`);
  assert.ok(urlsOf(turn).some((u) => u.startsWith(`turn:127.0.0.1:${turnPort}`)), `turn at the printed port: ${JSON.stringify(turn)}`);
  assert.type(turn.username, 'string');
  assert.type(turn.credential, 'string');

  // The credential really opens a relay on that server...
  const client = await TurnClient.open({ address: '127.0.0.1', port: turnPort });
  cleanups.push(() => client.close());
  const allocation = await client.allocate(turn.username!, turn.credential!);
  assert.ok(allocation.ok, `allocation with the handed-out credential: ${JSON.stringify(allocation)}`);

  // ...and stops working once its participant has left.
  socket.send({ type: 'leave' });
  await waitFor(
    async () => {
      const late = await TurnClient.open({ address: '127.0.0.1', port: turnPort });
      try {
        const result = await late.allocate(turn.username!, turn.credential!);
        return !result.ok && result.code === 401;
      } finally {
        late.close();
      }
    },
    5000,
    'the credential of a participant who left to be refused',
  );

  p.child.kill('SIGTERM');
  const end = await exited(p, STOP_TIMEOUT_MS);
  assert.equal(end, { code: 0, signal: null }, `clean exit on SIGTERM; stderr: ${p.stderr()}`);
});

test('HTTPS=1 serves https:// with a self-signed certificate kept in TLS_DIR', async () => {
  const tlsDir = join(temp.dir, 'tls');
  const p = launch({ HOST: '127.0.0.1', PORT: '0', TURN_PORT: '0', HTTPS: '1', TLS_DIR: tlsDir });
  const { url } = await ready(p);
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(p.stdout(), /HTTPS certificate: +self-signed, generated/);
  const ca = readFileSync(join(tlsDir, 'cert.pem'), 'utf8');
  assert.equal(await apiTrusting(ca, url, 'GET', '/api/health'), { status: 200, body: { ok: true } });
  const { body: meeting } = await apiTrusting<CreatedMeeting>(ca, url, 'POST', '/api/meetings', { title: 'Secure' });
  assert.ok(meeting.link.startsWith(`${url}/m/`), meeting.link);

  p.child.kill('SIGINT');
  assert.equal(await exited(p, STOP_TIMEOUT_MS), { code: 0, signal: null });
});

test('a bad setting stops the start with one sentence naming it and exit code 1', async () => {
  const cases = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ TURN_PORT: '99999' }, 'TURN_PORT'],
    [{ ICE_SERVERS: '[{"url":"stun:stun.example.org"}]' }, 'ICE_SERVERS'],
    [{ TLS_CERT: join(temp.dir, 'missing.pem'), TLS_KEY: join(temp.dir, 'missing-key.pem') }, 'TLS_CERT'],
  ] as const;
  const runs = cases.map(([settings]) => launch({ PORT: '0', TURN_PORT: '0', ...settings }));
  for (const [i, [settings, variable]] of cases.entries()) {
    const p = runs[i]!;
    const end = await exited(p, START_TIMEOUT_MS);
    assert.equal(end, { code: 1, signal: null }, `exit code for ${JSON.stringify(settings)}`);
    const lines = p.stderr().trim().split('\n');
    assert.is(lines.length, 1, `one line, no stack trace: ${p.stderr()}`);
    assert.match(lines[0]!, new RegExp(`^MeetMesh could not start: .*${variable}`));
    assert.not.match(p.stdout(), /Meetings are ready/);
  }
});

test('a port already in use stops the start with a sentence saying so and exit code 1', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => blocker.close());
  const taken = (blocker.address() as { port: number }).port;

  const p = launch({ HOST: '127.0.0.1', PORT: String(taken), TURN_PORT: '0' });
  assert.equal(await exited(p, START_TIMEOUT_MS), { code: 1, signal: null });
  const lines = p.stderr().trim().split('\n');
  assert.is(lines.length, 1, `one line, no stack trace: ${p.stderr()}`);
  assert.match(lines[0]!, `port ${taken} on 127.0.0.1 is already in use`);
  assert.match(lines[0]!, 'PORT');
});

test('npm start prints the address and UDP port the relay offers, and warns when a public PUBLIC_URL gets only private relay addresses', async () => {
  const announced = launch({ HOST: '127.0.0.1', PORT: '0', TURN_DISABLED: '1', MEDIA_WORKERS: '2', RELAY_PORT: '41000', RELAY_ANNOUNCED_IP: '203.0.113.7', PUBLIC_URL: 'https://meet.example.org' });
  const lan = launch({ HOST: '127.0.0.1', PORT: '0', TURN_DISABLED: '1', MEDIA_WORKERS: '1', RELAY_PORT: '41000', RELAY_ANNOUNCED_IP: '10.0.0.7', PUBLIC_URL: 'https://meet.example.org' });
  const unset = launch({ HOST: '127.0.0.1', PORT: '0', TURN_DISABLED: '1' });
  for (const p of [announced, lan, unset]) await ready(p);
  assert.match(announced.stdout(), /^ {2}Relay: 203\.0\.113\.7 \(RELAY_ANNOUNCED_IP\), UDP ports 41000-41001 \(one per media worker\)$/m);
  assert.not.match(announced.stdout(), /Warning/);
  assert.match(lan.stdout(), /^ {2}Relay: 10\.0\.0\.7 \(RELAY_ANNOUNCED_IP\), UDP port 41000$/m);
  assert.match(lan.stdout(), /Warning: PUBLIC_URL https:\/\/meet\.example\.org is served, but the relay offers only private addresses \(10\.0\.0\.7\).*RELAY_ANNOUNCED_IP/);
  // Unset: the interface addresses and loopback, a port per connection.
  assert.match(unset.stdout(), /^ {2}Relay: .*127\.0\.0\.1, a free UDP port per connection \(set RELAY_PORT for one\)$/m);
  for (const p of [announced, lan, unset]) p.child.kill('SIGINT');
  for (const p of [announced, lan, unset]) assert.equal(await exited(p, STOP_TIMEOUT_MS), { code: 0, signal: null });
});

test.run();
