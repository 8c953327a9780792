/** The coordinator's settings: embedded defaults, overridden by environment variables. */
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
  /** Pino log level. */
  logLevel: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export const ROOT_DIR = join(import.meta.dirname, '..');

/** Defaults for everything; `overrides` win (tests pass port 0 and a temp DB). */
export function defaultConfig(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    host: '127.0.0.1',
    port: 8080,
    dbPath: join(ROOT_DIR, 'data', 'meetings.db'),
    heartbeatMs: 15_000,
    clientDir: join(ROOT_DIR, 'dist', 'client'),
    logLevel: 'info',
    ...overrides,
  };
}

/** Reads PORT, HOST, DB_PATH, PUBLIC_URL, HEARTBEAT_MS and LOG_LEVEL. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  const overrides: Partial<CoordinatorConfig> = {};
  if (env.PORT) overrides.port = parsePort(env.PORT, 'PORT');
  if (env.HOST) overrides.host = env.HOST;
  if (env.DB_PATH) overrides.dbPath = env.DB_PATH;
  if (env.PUBLIC_URL) overrides.publicUrl = env.PUBLIC_URL.replace(/\/$/, '');
  if (env.HEARTBEAT_MS) overrides.heartbeatMs = Number(env.HEARTBEAT_MS);
  if (env.LOG_LEVEL) overrides.logLevel = env.LOG_LEVEL;
  return defaultConfig(overrides);
}

/** Parses a port number or fails with a sentence naming the variable. */
export function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0-65535), not "${value}"`);
  }
  return port;
}
