/**
 * Debian's coturn (`/usr/bin/turnserver`) for tests and benchmarks: an external TURN server
 * as an operator runs one (`use-auth-secret` with a shared secret, the coordinator handing
 * out REST credentials from `TURN_URLS` + `TURN_SECRET`), on 127.0.0.1 and a free port.
 *
 * ```ts
 * const coturn = await startCoturn();
 * const ice = coturnIce(coturn);                   // what TURN_URLS + TURN_SECRET would give
 * const server = await startServer({}, ice.parts);
 * ice.advertise(proxy.port);                        // the next joins get a proxy in front of it
 * await coturn.stop();
 * ```
 *
 * coturn refuses peers on loopback by default; `--allow-loopback-peers` lets it relay to the
 * media relay's sockets and to other allocations on 127.0.0.1, where every test keeps its
 * media. Nothing of it touches the repository or `/etc`: `-n` ignores `/etc/turnserver.conf`,
 * and the log, pid file and (unused) user database live in a temporary directory.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { CoordinatorParts } from '../../coordinator/server';
import { iceServersFor, turnConfigFromEnv, type ExternalTurnConfig } from '../../turn/iceServers';
import { tempDir } from './server';
import { TurnClient } from './turnClient';
import { stopProcess } from './stopProcess';

/** Where Debian's coturn package puts the server. */
export const TURNSERVER_PATH = process.env.TURNSERVER_PATH ?? '/usr/bin/turnserver';

/** How to run coturn. */
export interface CoturnOptions {
  /** Long-term-credential realm (default `meetmesh-test`). */
  realm?: string;
  /** How long to wait for it to answer STUN (default 10 s). */
  startTimeoutMs?: number;
  /** More `turnserver` arguments (e.g. `--verbose`). */
  extraArgs?: string[];
}

/** A running coturn. */
export interface Coturn {
  readonly address: '127.0.0.1';
  /** Its UDP and TCP listening port. */
  readonly port: number;
  /** Its `static-auth-secret` (what the coordinator's `TURN_SECRET` must be). */
  readonly secret: string;
  readonly realm: string;
  readonly logPath: string;
  readonly pid: number | undefined;
  /** The end of its log (for a failure message). */
  logTail(lines?: number): string;
  /** Kills it and removes its temporary files. Idempotent. */
  stop(): Promise<void>;
}

/** Whether Debian's coturn is installed (`apt-get install coturn`). */
export function coturnAvailable(): boolean {
  return existsSync(TURNSERVER_PATH);
}

/** Starts coturn on 127.0.0.1 with a random secret; resolves once it answers a STUN Binding request. */
export async function startCoturn(options: CoturnOptions = {}): Promise<Coturn> {
  if (!coturnAvailable()) throw new Error(`${TURNSERVER_PATH} is missing: apt-get install coturn`);
  const temp = tempDir('meetmesh-coturn-');
  const secret = randomBytes(24).toString('base64url');
  const realm = options.realm ?? 'meetmesh-test';
  const logPath = join(temp.dir, 'turnserver.log');
  // A port can be taken between the probe and coturn's bind; coturn then logs the failure
  // and keeps running without that listener, so the STUN check below is what decides.
  for (let attempt = 1; ; attempt++) {
    const port = await freeUdpAndTcpPort();
    const args = [
      '-n', // no configuration file: not /etc/turnserver.conf, only what is here
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      `--realm=${realm}`,
      '--fingerprint',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--no-rfc5780',
      '--no-software-attribute',
      // The media relay and every other peer of a test sit on loopback.
      '--allow-loopback-peers',
      '--no-multicast-peers',
      `--log-file=${logPath}`,
      '--simple-log',
      '--no-stdout-log',
      `--pidfile=${join(temp.dir, 'turnserver.pid')}`,
      `--userdb=${join(temp.dir, 'turndb')}`,
      ...(options.extraArgs ?? []),
    ];
    // At nice −10 (where allowed; `nice` runs it unchanged otherwise): it stands for a TURN
    // server on a machine of its own, and sharing two cores with four browsers at equal
    // priority its sockets overflowed — hundreds of datagrams dropped per run that no cap
    // asked for (`ss -m`), read by the relay as the links' loss.
    const child = spawn('nice', ['-n', '-10', TURNSERVER_PATH, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not start: ${err.message}`));
      child.once('exit', (code, signal) => resolve(`exited (${signal ?? code})`));
    });
    const logTail = (lines = 20) => {
      try {
        return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return stderr.trim();
      }
    };
    const outcome = await Promise.race([
      answersStun(port, options.startTimeoutMs ?? 10_000).then((ok) => (ok ? 'ready' : 'no STUN answer')),
      exited,
    ]);
    if (outcome === 'ready') {
      let stopping: Promise<void> | undefined;
      return {
        address: '127.0.0.1',
        port,
        secret,
        realm,
        logPath,
        pid: child.pid,
        logTail,
        stop() {
          stopping ??= stopProcess(child).then(() => temp.remove());
          return stopping;
        },
      };
    }
    await stopProcess(child);
    if (attempt === 3) {
      const tail = logTail();
      temp.remove();
      throw new Error(`coturn on 127.0.0.1:${port}: ${outcome}\n${tail}`);
    }
  }
}

/** What the coordinator is given for coturn, and the port it advertises (a proxy's, for the next joins). */
export interface CoturnIce {
  /** `startServer({}, ice.parts)`: the TURN settings `TURN_URLS` + `TURN_SECRET` make, with a redirectable port. */
  parts: CoordinatorParts;
  /** The config `TURN_URLS=turn:127.0.0.1:<port>?transport=udp` and `TURN_SECRET` give. */
  config: ExternalTurnConfig;
  /** The port in the `turn:` URL handed out at join. */
  readonly advertisedPort: number;
  /** Hand out `port` (e.g. a UdpImpairProxy in front of coturn) to everyone who joins from now on; `undefined`: coturn's own again. */
  advertise(port: number | undefined): void;
}

/**
 * The coordinator configured for coturn exactly as `npm start` is by `TURN_URLS` and
 * `TURN_SECRET` (through `turnConfigFromEnv`), handing out a UDP `turn:` URL only: a TCP
 * one would let libwebrtc reach coturn around a UDP proxy put in front of it.
 */
export function coturnIce(coturn: Coturn): CoturnIce {
  const urlFor = (port: number) => `turn:${coturn.address}:${port}?transport=udp`;
  const config = turnConfigFromEnv({ TURN_URLS: urlFor(coturn.port), TURN_SECRET: coturn.secret, TURN_TTL: '600' }, { httpHost: '127.0.0.1' });
  if (config.mode !== 'external') throw new Error(`coturnIce: expected an external TURN config, got ${config.mode}`);
  let advertised: number | undefined;
  return {
    config,
    parts: {
      turn: config,
      iceServersFor: (participantId) => iceServersFor({ ...config, urls: [urlFor(advertised ?? coturn.port)] }, participantId),
    },
    get advertisedPort() {
      return advertised ?? coturn.port;
    },
    advertise(port) {
      advertised = port;
    },
  };
}

/** Polls coturn with STUN Binding requests until one is answered or `timeoutMs` runs out. */
async function answersStun(port: number, timeoutMs: number): Promise<boolean> {
  const client = await TurnClient.open({ address: '127.0.0.1', port });
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      // Each request waits up to 200 ms for its answer: a bound coturn answers in well under that.
      const answered = await client.request(0x001, [], { timeoutMs: 200 }).then(() => true, () => false);
      if (answered) return true;
    }
    return false;
  } finally {
    client.close();
  }
}

/** A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const tcp = createServer();
    const tcpFree = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => (tcpFree ? tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcpFree) return port;
  }
}
