/** The coordinator's settings: embedded defaults, overridden by environment variables. */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { RelayNetworkConfig } from './media/RelayNetwork';

export interface CoordinatorConfig {
  host: string;
  port: number;
  /** SQLite file of the durable record (`:memory:` for throwaway runs). */
  dbPath: string;
  /** Base URL printed and used in shareable links; derived from each request when unset. */
  publicUrl?: string;
  /** How often the server pings each socket; a socket that missed a ping is dropped. */
  heartbeatMs: number;
  /** Built client (esbuild output). */
  clientDir: string;
  /** A meeting back at two participants returns to P2P only after this long (no flapping). */
  p2pHoldMs: number;
  /** How long clients get to bring up a new path before a switch commits or falls back. */
  switchTimeoutMs: number;
  /** How long a participant whose socket dropped is kept for them to resume (reload, network loss). */
  departureGraceMs: number;
  /** Where recordings of meetings' mixes are written (default: `recordings/` beside the record). */
  recordingsDir?: string;
  /** A recording stops by itself at this size. */
  recordingMaxBytes: number;
  /** Addresses the relay offers as host candidates besides its interfaces (libjuice does not gather loopback). */
  relayHostAddresses: string[];
  /** `RELAY_PORT` and `RELAY_ANNOUNCED_IP`: one UDP port per media worker, the address in the relay's candidates. */
  relayNetwork: RelayNetworkConfig;
  /** Pino log level. */
  logLevel: string;
  /** Media workers running meetings' relays and mixers (one per core by default); 0 runs them on the main thread. */
  mediaWorkers: number;
  /** Serve HTTPS (and `wss://`) with this PEM certificate and key; plain HTTP when unset. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Abuse limits per client address and per meeting (see `LimitsConfig`). */
  limits: LimitsConfig;
  /**
   * Behind a reverse proxy: `true` takes the client address from `X-Forwarded-For` (Fastify's
   * `trustProxy`), a list trusts only those proxy addresses/CIDRs. Off by default.
   */
  trustProxy?: boolean | string[];
  /** `ADMIN_TOKEN`: turns on the operator dashboard at `/admin` for whoever shows it (off when unset). */
  adminToken?: string;
  /** Several nodes over Redis (`REDIS_URL`); a single process when unset. */
  cluster?: {
    redisUrl: string;
    /** `NODE_ID`; default `<host name>-<port>` (stable across restarts). */
    nodeId?: string;
    /** `CLUSTER_HEARTBEAT_MS` (1000): how often a node announces itself. */
    heartbeatMs: number;
    /** `CLUSTER_NODE_TTL_MS` (3000): a node silent this long is dead and its meetings move. */
    nodeTtlMs: number;
  };
}

/** Rate and size limits; every address counts, loopback included. */
export interface LimitsConfig {
  /** `POST /api/meetings` per client address per minute (also the burst). */
  createsPerMin: number;
  /** WebSockets open at once per client address. */
  socketsPerAddress: number;
  /** `join` requests per client address per minute (also the burst). */
  joinsPerMin: number;
  /** Signaling frames per socket per second, any type (burst: two seconds' worth). */
  messagesPerSec: number;
  /** People in one meeting at once; one more gets MEETING_FULL. */
  maxParticipants: number;
}

/** Generous on purpose: a real team meeting, a NATed office and our own tests stay far below. */
export const DEFAULT_LIMITS: LimitsConfig = {
  createsPerMin: 30,
  socketsPerAddress: 100,
  joinsPerMin: 60,
  messagesPerSec: 50,
  maxParticipants: 50,
};

/** The environment variable of each limit. */
export const LIMIT_VARIABLES: Record<keyof LimitsConfig, string> = {
  createsPerMin: 'LIMIT_CREATES_PER_MIN',
  socketsPerAddress: 'LIMIT_SOCKETS_PER_IP',
  joinsPerMin: 'LIMIT_JOINS_PER_MIN',
  messagesPerSec: 'LIMIT_MESSAGES_PER_SEC',
  maxParticipants: 'MAX_PARTICIPANTS',
};

export const ROOT_DIR = join(import.meta.dirname, '..');

/** A setting that cannot be used; `variable` names the environment variable at fault. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** What `defaultConfig` takes: any setting, and any subset of the limits. */
export type ConfigOverrides = Partial<Omit<CoordinatorConfig, 'limits'>> & { limits?: Partial<LimitsConfig> };

/** Defaults for everything; `overrides` win (tests pass port 0 and a temp DB). */
export function defaultConfig(overrides: ConfigOverrides = {}): CoordinatorConfig {
  return {
    host: '127.0.0.1',
    port: 8080,
    dbPath: join(ROOT_DIR, 'data', 'meetings.db'),
    heartbeatMs: 15_000,
    clientDir: join(ROOT_DIR, 'dist', 'client'),
    logLevel: 'info',
    p2pHoldMs: 3000,
    switchTimeoutMs: 8000,
    departureGraceMs: 20_000,
    recordingMaxBytes: 100 * 1024 * 1024,
    relayHostAddresses: ['127.0.0.1'],
    relayNetwork: {},
    mediaWorkers: availableParallelism(),
    ...overrides,
    limits: { ...DEFAULT_LIMITS, ...overrides.limits },
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads PORT, HOST, DB_PATH, PUBLIC_URL, HEARTBEAT_MS, LOG_LEVEL, MEDIA_WORKERS, RELAY_PORT, RELAY_ANNOUNCED_IP, the limits, TRUST_PROXY, REDIS_URL and ADMIN_TOKEN; throws ConfigError. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  const overrides: ConfigOverrides = {};
  const port = nonEmpty(env.PORT);
  if (port !== undefined) overrides.port = parsePort(port, 'PORT');
  const host = nonEmpty(env.HOST);
  if (host !== undefined) overrides.host = parseHost(host);
  const dbPath = nonEmpty(env.DB_PATH);
  if (dbPath !== undefined) overrides.dbPath = dbPath;
  const recordingsDir = nonEmpty(env.RECORDINGS_DIR);
  if (recordingsDir !== undefined) overrides.recordingsDir = recordingsDir;
  const recordingMax = nonEmpty(env.RECORDING_MAX_BYTES);
  if (recordingMax !== undefined) {
    if (!/^\d+$/.test(recordingMax) || Number(recordingMax) < 4096) throw new ConfigError('RECORDING_MAX_BYTES', `must be a number of bytes of at least 4096, not "${recordingMax}"`);
    overrides.recordingMaxBytes = Number(recordingMax);
  }
  const publicUrl = nonEmpty(env.PUBLIC_URL);
  if (publicUrl !== undefined) overrides.publicUrl = parsePublicUrl(publicUrl);
  const heartbeat = nonEmpty(env.HEARTBEAT_MS);
  if (heartbeat !== undefined) {
    const ms = Number(heartbeat);
    if (!/^\d+$/.test(heartbeat) || ms < 100 || ms > 600_000) {
      throw new ConfigError('HEARTBEAT_MS', `must be a number of milliseconds from 100 to 600000, not "${heartbeat}"`);
    }
    overrides.heartbeatMs = ms;
  }
  const workers = nonEmpty(env.MEDIA_WORKERS);
  if (workers !== undefined) {
    if (!/^\d+$/.test(workers) || Number(workers) > 64) throw new ConfigError('MEDIA_WORKERS', `must be a number of media workers from 0 to 64, not "${workers}"`);
    overrides.mediaWorkers = Number(workers);
  }
  overrides.relayNetwork = parseRelayNetwork(env, overrides.mediaWorkers ?? availableParallelism());
  // The relay runs on node-datachannel only (the werift relay was retired): an old setting
  // that asks for something else is refused rather than ignored.
  const transport = nonEmpty(env.RELAY_TRANSPORT);
  if (transport !== undefined && transport !== 'datachannel') {
    throw new ConfigError('RELAY_TRANSPORT', `the relay runs on node-datachannel only (the werift relay was retired); unset it, not "${transport}"`);
  }
  const logLevel = nonEmpty(env.LOG_LEVEL);
  if (logLevel !== undefined) {
    if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`);
    overrides.logLevel = logLevel;
  }
  for (const [name, key] of [['P2P_HOLD_MS', 'p2pHoldMs'], ['SWITCH_TIMEOUT_MS', 'switchTimeoutMs'], ['DEPARTURE_GRACE_MS', 'departureGraceMs']] as const) {
    const value = nonEmpty(env[name]);
    if (value === undefined) continue;
    if (!/^\d+$/.test(value) || Number(value) > 600_000) throw new ConfigError(name, `must be a number of milliseconds up to 600000, not "${value}"`);
    overrides[key] = Number(value);
  }
  const limits: Partial<LimitsConfig> = {};
  for (const key of Object.keys(LIMIT_VARIABLES) as (keyof LimitsConfig)[]) {
    const name = LIMIT_VARIABLES[key];
    const value = nonEmpty(env[name]);
    if (value === undefined) continue;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) {
      throw new ConfigError(name, `must be a whole number from 1 to 1000000, not "${value}"`);
    }
    limits[key] = Number(value);
  }
  overrides.limits = limits;
  const trustProxy = nonEmpty(env.TRUST_PROXY);
  if (trustProxy !== undefined) overrides.trustProxy = parseTrustProxy(trustProxy);
  const redisUrl = nonEmpty(env.REDIS_URL);
  if (redisUrl !== undefined) overrides.cluster = parseCluster(redisUrl, env);
  const adminToken = nonEmpty(env.ADMIN_TOKEN);
  if (adminToken !== undefined) {
    // A short token is guessed; the login is rate-limited, but a Bearer header is not.
    if (adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters (e.g. `openssl rand -hex 16`)');
    overrides.adminToken = adminToken;
  }
  return defaultConfig(overrides);
}

/** RELAY_PORT (one UDP port per media worker process, from this one up) and RELAY_ANNOUNCED_IP. */
function parseRelayNetwork(env: NodeJS.ProcessEnv, mediaWorkers: number): RelayNetworkConfig {
  const network: RelayNetworkConfig = {};
  const port = nonEmpty(env.RELAY_PORT);
  if (port !== undefined) {
    network.udpPort = parsePort(port, 'RELAY_PORT');
    const last = network.udpPort + Math.max(1, mediaWorkers) - 1;
    if (network.udpPort !== 0 && last > 65535) {
      throw new ConfigError('RELAY_PORT', `${port} leaves no port for each of the ${Math.max(1, mediaWorkers)} media workers (they use ${port} up to ${last}): lower it, or set MEDIA_WORKERS`);
    }
  }
  const announced = nonEmpty(env.RELAY_ANNOUNCED_IP);
  if (announced !== undefined) {
    if (isIP(announced) === 0 || isWildcard(announced)) {
      throw new ConfigError('RELAY_ANNOUNCED_IP', `must be the IP address browsers reach the relay at (the server's public address), not "${announced}"`);
    }
    network.announcedIp = announced;
  }
  return network;
}

/** REDIS_URL with NODE_ID, CLUSTER_HEARTBEAT_MS and CLUSTER_NODE_TTL_MS. */
function parseCluster(redisUrl: string, env: NodeJS.ProcessEnv): NonNullable<CoordinatorConfig['cluster']> {
  if (!/^rediss?:\/\/[^\s]+$/.test(redisUrl)) throw new ConfigError('REDIS_URL', `must be a URL such as redis://127.0.0.1:6379, not "${redisUrl}"`);
  const cluster: NonNullable<CoordinatorConfig['cluster']> = { redisUrl, heartbeatMs: 1000, nodeTtlMs: 3000 };
  const nodeId = nonEmpty(env.NODE_ID);
  if (nodeId !== undefined) {
    if (!/^[\w.:-]{1,100}$/.test(nodeId)) throw new ConfigError('NODE_ID', `must be letters, digits, '.', ':', '-' or '_' (up to 100), not "${nodeId}"`);
    cluster.nodeId = nodeId;
  }
  for (const [name, key, min] of [['CLUSTER_HEARTBEAT_MS', 'heartbeatMs', 100], ['CLUSTER_NODE_TTL_MS', 'nodeTtlMs', 500]] as const) {
    const value = nonEmpty(env[name]);
    if (value === undefined) continue;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > 600_000) {
      throw new ConfigError(name, `must be a number of milliseconds from ${min} to 600000, not "${value}"`);
    }
    cluster[key] = Number(value);
  }
  if (cluster.nodeTtlMs < 2 * cluster.heartbeatMs) throw new ConfigError('CLUSTER_NODE_TTL_MS', 'must be at least twice CLUSTER_HEARTBEAT_MS');
  return cluster;
}

/** `1`/`true` trusts any proxy, `0`/`false` none, else a comma list of proxy addresses or CIDRs. */
function parseTrustProxy(value: string): boolean | string[] {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  const list = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const entry of list) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw new ConfigError('TRUST_PROXY', `must be 1, 0 or a comma list of proxy addresses/CIDRs, not "${value}"`);
    }
  }
  return list;
}

/** True for the addresses that mean "every interface". */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** Parses a port number or fails with a sentence naming the variable. */
export function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new ConfigError(name, `must be a port number (0-65535), not "${value}"`);
  }
  return port;
}

function parseHost(value: string): string {
  // An IP, or a host name such as localhost; anything with a scheme, port or path is a slip.
  if (isIP(value) !== 0 || /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(value)) return value;
  throw new ConfigError('HOST', `must be an address or host name to listen on (such as 0.0.0.0 or 127.0.0.1), not "${value}"`);
}

function parsePublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PUBLIC_URL', `must be a URL such as https://meet.example.org, not "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('PUBLIC_URL', `must start with https:// or http://, not "${value}"`);
  }
  return value.replace(/\/+$/, '');
}

/** A trimmed environment value, or undefined when unset or blank. */
export function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
