/** Starts a real coordinator on 127.0.0.1, port 0, with its own temporary record. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, ROOT_DIR, type ConfigOverrides } from '../../coordinator/config';
import { buildCoordinator, type Coordinator, type CoordinatorParts } from '../../coordinator/server';
import { turnConfigFromEnv } from '../../turn/iceServers';
import { TurnServer } from '../../turn/TurnServer';

export interface TestServer {
  coordinator: Coordinator;
  /** `https://…` when started with `tls`. */
  url: string;
  /** `wss://…/ws` when started with `tls`. */
  wsUrl: string;
  dbPath: string;
  /** The bundled TURN server, when started with `{ turn: true }`. */
  turn?: TestTurn;
  /** Stops the server; the record file stays until `dispose`. */
  close(): Promise<void>;
  /** Stops the server and deletes its record. */
  dispose(): Promise<void>;
}

/** A fresh temporary directory, removed by `remove`. */
export function tempDir(prefix = 'meetmesh-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh temporary directory for a record file. */
export function tempDbPath(): { dbPath: string; remove: () => void } {
  const { dir, remove } = tempDir();
  return { dbPath: join(dir, 'meetings.db'), remove };
}

/** A bundled TURN server run for a test server, whose advertised port a test can redirect. */
export interface TestTurn {
  server: TurnServer;
  /** The UDP port written into the ICE servers handed out at join. */
  readonly advertisedPort: number;
  /** Advertise `port` (e.g. an impairment proxy in front of the TURN server) to everyone who joins from now on; `undefined` goes back to the TURN server's own port. */
  advertise(port: number | undefined): void;
}

/** What else to run next to the coordinator. */
export interface StartOptions {
  /** Run a bundled TURN server on 127.0.0.1 (free port) and hand its credentials out at join. */
  turn?: boolean;
}

/**
 * The relay of a test server offers (and binds) loopback only, never this machine's
 * interface addresses: test traffic stays on 127.0.0.1. A test of the relay's network
 * settings passes its own `relayNetwork`.
 */
export const LOOPBACK_RELAY = { announcedIp: '127.0.0.1' } as const;

/** MEDIA_WORKERS, when set, runs a whole suite on that media plane. */
function mediaPlaneFromEnv(): ConfigOverrides {
  return process.env.MEDIA_WORKERS ? { mediaWorkers: Number(process.env.MEDIA_WORKERS) } : {};
}

/** Starts a coordinator on a free port with a temporary record (and, if asked, a bundled TURN server). */
export async function startServer(
  overrides: ConfigOverrides = {},
  parts: CoordinatorParts = {},
  options: StartOptions = {},
): Promise<TestServer> {
  const temp = overrides.dbPath ? undefined : tempDbPath();
  const dbPath = overrides.dbPath ?? temp!.dbPath;
  // The same wiring as `npm start`: a bundled TURN server on 127.0.0.1, a free port.
  const turnParts: CoordinatorParts = options.turn === true ? { turn: turnConfigFromEnv({ TURN_PORT: '0', TURN_TTL: '600' }, { httpHost: '127.0.0.1' }) } : {};
  const coordinator = await buildCoordinator(
    defaultConfig({ port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn', relayNetwork: LOOPBACK_RELAY, ...mediaPlaneFromEnv(), ...overrides, dbPath }),
    { ...parts, ...turnParts },
  );
  const url = await coordinator.start();
  const close = () => coordinator.close();
  const ice = coordinator.ice;
  const turnServer = ice?.turn;
  const turn: TestTurn | undefined = ice && turnServer && {
    server: turnServer,
    get advertisedPort() {
      return ice.advertisedPort ?? turnServer.port;
    },
    advertise(port) {
      ice.advertisedPort = port;
    },
  };
  return {
    coordinator,
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/ws',
    dbPath,
    ...(turn === undefined ? {} : { turn }),
    close,
    async dispose() {
      await close();
      temp?.remove();
    },
  };
}

/** A free TCP port on 127.0.0.1 (to start a server on the same port twice). */
export async function freeTcpPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * `npm start` in a process of its own (no TURN), on `port` with the record `dbPath`: to kill
 * and restart it. `extraEnv`: more settings (e.g. `REDIS_URL` and `NODE_ID` for a cluster node).
 */
export function spawnServerProcess(port: number, dbPath: string, extraEnv: Record<string, string> = {}): ChildProcess {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DB_PATH: dbPath, TURN_DISABLED: '1', LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? 'warn', NO_COLOR: '1', RELAY_ANNOUNCED_IP: LOOPBACK_RELAY.announcedIp, ...extraEnv };
  return spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT_DIR, env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A JSON call to the server's REST API. */
export async function api<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * A JSON call over HTTPS that trusts only `ca` (a PEM certificate), the way a browser trusts
 * a self-signed certificate once its user accepted it. (Global `fetch` takes no CA.)
 */
export function apiTrusting<T = unknown>(
  ca: string | Buffer,
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, base),
      { method, ca, headers: payload === undefined ? {} : { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
