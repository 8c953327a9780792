/** The coordinator's settings: embedded defaults, overridden by environment variables. */
import { isIP } from 'node:net';
import { join } from 'node:path';

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
  /** Addresses the relay offers as host candidates besides its interfaces (werift skips loopback). */
  relayHostAddresses: string[];
  /** Pino log level. */
  logLevel: string;
  /** Serve HTTPS (and `wss://`) with this PEM certificate and key; plain HTTP when unset. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

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

/** Defaults for everything; `overrides` win (tests pass port 0 and a temp DB). */
export function defaultConfig(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
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
    relayHostAddresses: ['127.0.0.1'],
    ...overrides,
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads PORT, HOST, DB_PATH, PUBLIC_URL, HEARTBEAT_MS and LOG_LEVEL; throws ConfigError. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  const overrides: Partial<CoordinatorConfig> = {};
  const port = nonEmpty(env.PORT);
  if (port !== undefined) overrides.port = parsePort(port, 'PORT');
  const host = nonEmpty(env.HOST);
  if (host !== undefined) overrides.host = parseHost(host);
  const dbPath = nonEmpty(env.DB_PATH);
  if (dbPath !== undefined) overrides.dbPath = dbPath;
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
  return defaultConfig(overrides);
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
