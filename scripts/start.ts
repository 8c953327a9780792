/**
 * `npm start`: the whole system on one machine with embedded defaults — the coordinator
 * (HTTP API, signaling, built client, media relay) and the bundled TURN server, over HTTPS
 * when configured. Settings come from the environment; a setting that cannot work stops
 * the start with one sentence naming it, and exit code 1.
 */
import { networkInterfaces } from 'node:os';
import { relative } from 'node:path';
import { ConfigError, configFromEnv, isWildcard, type CoordinatorConfig } from '../coordinator/config';
import { installProcessGuards } from '../coordinator/faults';
import { privateRelayWarning, relayOffer, type RelayOffer } from '../coordinator/media/RelayNetwork';
import { buildCoordinator, type Coordinator } from '../coordinator/server';
import { loadTls, tlsSourceFromEnv, type LoadedTls } from '../coordinator/tls';
import { TurnConfigError, turnConfigFromEnv, type TurnConfig } from '../turn/iceServers';

/** What was being started when something failed, to name the setting at fault. */
type Phase = 'config' | 'record' | 'turn' | 'http';

/** A start failure already explained in one sentence. */
class StartError extends Error {}

/** How long shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

let coordinator: Coordinator | undefined;
let stopping = false;

try {
  await main();
} catch (err) {
  await closeAll().catch(() => undefined);
  console.error(`MeetMesh could not start: ${explain(err)}`);
  if (process.env.LOG_LEVEL === 'debug' && !(err instanceof StartError)) console.error(err);
  process.exit(1);
}

async function main(): Promise<void> {
  let phase: Phase = 'config';
  let config: CoordinatorConfig | undefined;
  let turnConfig: TurnConfig | undefined;
  try {
    config = configFromEnv(process.env);
    const tlsSource = tlsSourceFromEnv(process.env, config);
    turnConfig = turnConfigFromEnv(process.env, {
      httpHost: config.host,
      ...(config.publicUrl !== undefined ? { publicUrl: config.publicUrl } : {}),
    });
    const tls = tlsSource ? await loadTls(tlsSource) : undefined;
    if (tls) config.tls = { cert: tls.cert, key: tls.key };

    phase = 'record';
    coordinator = await buildCoordinator(config, { turn: turnConfig });

    // TURN first, so no participant can join before its relay exists.
    phase = 'turn';
    await coordinator.startTurn();

    phase = 'http';
    installProcessGuards(coordinator.app.log);
    const url = await coordinator.start();
    // A served deployment keeps its media workers warm (tests build servers without them).
    coordinator.media.workers.warmUp();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(signal));
    printReady(config, turnConfig, url, tls);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TurnConfigError || err instanceof StartError) throw err;
    throw new StartError(explainSystemError(err, phase, config, turnConfig), { cause: err });
  }
}

/** Prints where to go, in the plain lines people (and tests) read. */
function printReady(config: CoordinatorConfig, turnConfig: TurnConfig, url: string, tls: LoadedTls | undefined): void {
  const port = new URL(url).port;
  const scheme = tls ? 'https' : 'http';
  const lanAddress = firstLanIpv4();
  const local = `${scheme}://localhost:${port}`;
  // 0.0.0.0 is no address to open: share the LAN one, and say how to open it locally.
  const shown = config.publicUrl ?? (isWildcard(config.host) ? (lanAddress ? `${scheme}://${lanAddress}:${port}` : local) : url);
  const lines = ['', `  Meetings are ready: open ${shown}`];
  if (isWildcard(config.host) && shown !== local) lines.push(`  On this machine:    ${local}`);
  const offer = relayOffer(config.relayNetwork, config.mediaWorkers, config.relayHostAddresses, networkInterfaces());
  lines.push(`  ${relayLine(offer)}`);
  lines.push(`  ${turnLine(turnConfig)}`);
  const relayWarning = privateRelayWarning(config.publicUrl, offer);
  if (relayWarning) lines.push(`  Warning: ${relayWarning}`);
  if (tls) {
    const inside = relative(process.cwd(), tls.certPath);
    const where = inside.startsWith('..') || inside === '' ? tls.certPath : inside;
    const what = tls.origin === 'files' ? 'from TLS_CERT' : tls.origin === 'generated' ? 'self-signed, generated' : 'self-signed, reused';
    lines.push(`  HTTPS certificate:  ${what}, ${where} (SHA-256 ${tls.fingerprint256})`);
    if (tls.origin !== 'files') lines.push('  Browsers warn once about the self-signed certificate: accept it to continue.');
    for (const warning of tls.warnings) lines.push(`  Warning: ${warning}`);
  } else if (!isLoopback(config.host) && !(config.publicUrl ?? '').startsWith('https:')) {
    lines.push('  Note: browsers on other machines allow camera and microphone only over HTTPS:');
    lines.push('        set HTTPS=1 (self-signed certificate) or TLS_CERT and TLS_KEY.');
  }
  console.log(lines.join('\n') + '\n');
}

/** The addresses and UDP ports the relay's candidates will carry (meetings of three or more). */
function relayLine(offer: RelayOffer): string {
  const ports = offer.ports === 'per-connection' ? 'a free UDP port per connection (set RELAY_PORT for one)'
    : offer.ports === 'free' ? 'one free UDP port per media worker (RELAY_PORT=0)'
    : offer.ports[0] === offer.ports[1] ? `UDP port ${offer.ports[0]}`
    : `UDP ports ${offer.ports[0]}-${offer.ports[1]} (one per media worker)`;
  const addresses = offer.addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(', ');
  return `Relay: ${addresses || 'no address'}${offer.announced ? ' (RELAY_ANNOUNCED_IP)' : ''}, ${ports}`;
}

function turnLine(turnConfig: TurnConfig): string {
  switch (turnConfig.mode) {
    case 'bundled': {
      const host = turnConfig.advertisedHost.includes(':') ? `[${turnConfig.advertisedHost}]` : turnConfig.advertisedHost;
      const turn = coordinator?.ice?.turn;
      const listening = turn?.addresses.join(', ') ?? '';
      return `TURN: turn:${host}:${turn?.port ?? turnConfig.port} (bundled, UDP, listening on ${listening})`;
    }
    case 'external':
      return `TURN: ${turnConfig.urls.join(', ')} (external, credentials signed with TURN_SECRET)`;
    case 'static':
      return `TURN: the ${turnConfig.iceServers.length} server(s) listed in ICE_SERVERS`;
    case 'disabled':
      return 'TURN: off (TURN_DISABLED): direct connections only, same machine or LAN';
    default: {
      const unreachable: never = turnConfig;
      return `TURN: ${JSON.stringify(unreachable)}`;
    }
  }
}

/** Closes the coordinator (everyone leaves, so their TURN credentials are revoked), then TURN. */
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second Ctrl-C: the operator does not want to wait.
    process.exit(1);
  }
  stopping = true;
  coordinator?.app.log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    console.error(`MeetMesh did not stop within ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting anyway.`);
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  force.unref();
  try {
    await closeAll();
    process.exit(0);
  } catch (err) {
    console.error(`MeetMesh failed to stop cleanly: ${(err as Error).message}`);
    process.exit(1);
  }
}

/** Closes the coordinator, and with it the bundled TURN server. */
async function closeAll(): Promise<void> {
  await coordinator?.close();
}

function explain(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** Turns an operating-system or SQLite error into one sentence naming the setting to change. */
function explainSystemError(
  err: unknown,
  phase: Phase,
  config: CoordinatorConfig | undefined,
  turnConfig: TurnConfig | undefined,
): string {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (phase === 'http' && config) {
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') return `port ${config.port} on ${config.host} is already in use (another MeetMesh?): stop it or set PORT to a free port`;
    if (code === 'EACCES') return `not allowed to listen on ${where} (ports below 1024 need privileges): set PORT to 1024 or above`;
    if (code === 'EADDRNOTAVAIL') return `HOST ${config.host} is not an address of this machine: use one of its addresses, or 0.0.0.0 for all`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `HOST ${config.host} does not resolve to an address of this machine`;
  }
  if (phase === 'turn' && turnConfig?.mode === 'bundled') {
    const port = turnConfig.port;
    if (code === 'EADDRINUSE') return `UDP port ${port} for the TURN server is already in use (another MeetMesh or coturn?): set TURN_PORT to a free port, or TURN_DISABLED=1`;
    if (code === 'EACCES') return `not allowed to open UDP port ${port} for the TURN server: set TURN_PORT to 1024 or above`;
    if (code === 'EADDRNOTAVAIL') return `the TURN server cannot listen on ${turnConfig.listeningIps.join(', ')}: set TURN_LISTEN_IPS to addresses of this machine`;
  }
  if (phase === 'record' && config && (code.startsWith('SQLITE_') || e.syscall !== undefined)) {
    return `the record DB_PATH (${config.dbPath}) cannot be opened: ${e.message}`;
  }
  return e.message ?? String(err);
}

function firstLanIpv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
