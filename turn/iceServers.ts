/**
 * The ICE server list the coordinator hands each participant, and the TURN configuration
 * read from the environment that decides it: the bundled node-turn server, an external
 * TURN server such as coturn sharing our secret, a literal list, or nothing.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { issueTurnCredential, type TurnCredential } from './credentials';
import { parseIpRange } from './peerPolicy';

/** One entry of an RTCPeerConnection's `iceServers` (the DOM's RTCIceServer, without DOM types). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Run our own TURN server (node-turn, UDP only) next to the HTTP server. */
export interface BundledTurnConfig {
  mode: 'bundled';
  /** UDP port to listen on; 0 picks a free one (tests). */
  port: number;
  /** Local addresses to listen on; a wildcard (`0.0.0.0`, `::`) means every interface. */
  listeningIps: string[];
  /** Local addresses for relay sockets; empty: the address the client reached. */
  relayIps: string[];
  /** Address to put in relayed candidates when the server sits behind a NAT. */
  externalIp?: string;
  /** Host (IP or name) that browsers use in the `stun:`/`turn:` URLs. */
  advertisedHost: string;
  realm: string;
  secret: string;
  ttlSeconds: number;
  /** Private ranges peers may be in (`TURN_ALLOWED_PEER_IPS`); default none. */
  allowedPeerIps?: string[];
  /** Extra ranges peers may never be in (`TURN_DENIED_PEER_IPS`); default none. */
  deniedPeerIps?: string[];
}

/** Use an operator's TURN server (coturn with `use-auth-secret`) with REST credentials. */
export interface ExternalTurnConfig {
  mode: 'external';
  /** `turn:`/`turns:` URLs get credentials; `stun:`/`stuns:` URLs are listed without. */
  urls: string[];
  secret: string;
  ttlSeconds: number;
}

/** Hand out exactly this list (from `ICE_SERVERS`), whatever else is configured. */
export interface StaticIceConfig {
  mode: 'static';
  iceServers: IceServer[];
}

/** No STUN or TURN: host candidates only (same machine or LAN). */
export interface DisabledTurnConfig {
  mode: 'disabled';
}

/** Where participants' ICE servers come from. */
export type TurnConfig = BundledTurnConfig | ExternalTurnConfig | StaticIceConfig | DisabledTurnConfig;

/** What `iceServersFor` needs from the running bundled TURN server (TurnServer implements it). */
export interface BundledTurn {
  /** The UDP port actually bound. */
  readonly port: number;
  issue(userId: string, ttlSeconds: number): TurnCredential;
}

/** A TURN setting that cannot be used; `variable` names the environment variable at fault. */
export class TurnConfigError extends Error {
  readonly code = 'TURN_CONFIG_INVALID';
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'TurnConfigError';
    this.variable = variable;
  }
}

/** Where the server is reachable, for deriving TURN defaults. */
export interface TurnEnvContext {
  /** The HTTP server's listening host (`HOST`). */
  httpHost: string;
  /** The externally visible base URL (`PUBLIC_URL`), if configured. */
  publicUrl?: string;
  /** For tests: the machine's interfaces (defaults to `os.networkInterfaces()`). */
  interfaces?: ReturnType<typeof networkInterfaces>;
}

/** Default credential lifetime. The coordinator hands participants fresh credentials before
 * theirs expire, and the bundled server keeps an allocation made with an expired one alive
 * until its participant leaves, so a meeting may last longer than this. */
export const DEFAULT_TURN_TTL_SECONDS = 3600;
/** Default UDP port of the bundled server (the IANA STUN/TURN port). */
export const DEFAULT_TURN_PORT = 3478;
/** Default long-term-credential realm of the bundled server. */
export const DEFAULT_TURN_REALM = 'meetmesh';

const ICE_URL = /^(stun|stuns|turn|turns):[^\s]+$/;

/** Reads the TURN settings (`TURN_*`, `ICE_SERVERS`) from `env`; throws TurnConfigError. */
export function turnConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  context: TurnEnvContext,
): TurnConfig {
  const iceServersJson = nonEmpty(env.ICE_SERVERS);
  if (iceServersJson !== undefined) return { mode: 'static', iceServers: parseIceServers(iceServersJson) };

  if (isTruthy(env.TURN_DISABLED)) return { mode: 'disabled' };

  const ttlSeconds = parseInteger('TURN_TTL', env.TURN_TTL, DEFAULT_TURN_TTL_SECONDS, 1, 30 * 24 * 3600);
  const turnUrls = nonEmpty(env.TURN_URLS);
  const secret = nonEmpty(env.TURN_SECRET);

  if (turnUrls !== undefined) {
    // A random secret would never match the external server's: refuse rather than hand
    // out credentials that are certain to fail.
    if (secret === undefined) {
      throw new TurnConfigError('TURN_SECRET', 'is required with TURN_URLS (the static-auth-secret of your TURN server)');
    }
    const urls = splitList(turnUrls);
    if (urls.length === 0) throw new TurnConfigError('TURN_URLS', 'lists no URL');
    for (const url of urls) {
      if (!ICE_URL.test(url)) {
        throw new TurnConfigError('TURN_URLS', `"${url}" is not a turn:, turns:, stun: or stuns: URL`);
      }
    }
    return { mode: 'external', urls, secret, ttlSeconds };
  }

  const interfaces = context.interfaces ?? networkInterfaces();
  const publicHost = context.publicUrl !== undefined ? hostOfUrl(context.publicUrl) : undefined;
  const externalIp = nonEmpty(env.TURN_EXTERNAL_IP);
  if (externalIp !== undefined && isIP(externalIp) === 0) {
    throw new TurnConfigError('TURN_EXTERNAL_IP', `"${externalIp}" is not an IP address`);
  }
  const listenList = nonEmpty(env.TURN_LISTEN_IPS);
  // `localhost` is the one name HOST commonly holds; node-turn binds addresses only.
  const httpHost = context.httpHost === 'localhost' ? '127.0.0.1' : context.httpHost;
  const listeningIps = listenList !== undefined ? splitList(listenList) : [httpHost];
  for (const ip of listeningIps) {
    if (isIP(ip) === 0) {
      throw new TurnConfigError(listenList !== undefined ? 'TURN_LISTEN_IPS' : 'HOST', `"${ip}" is not an IP address the TURN server can listen on`);
    }
  }

  return {
    mode: 'bundled',
    port: parseInteger('TURN_PORT', env.TURN_PORT, DEFAULT_TURN_PORT, 0, 65535),
    listeningIps,
    relayIps: [],
    externalIp: externalIp ?? natAddress(publicHost, interfaces),
    advertisedHost: externalIp ?? publicHost ?? firstConcrete(listeningIps) ?? firstExternalIpv4(interfaces) ?? '127.0.0.1',
    realm: nonEmpty(env.TURN_REALM) ?? DEFAULT_TURN_REALM,
    allowedPeerIps: parseRangeList('TURN_ALLOWED_PEER_IPS', env.TURN_ALLOWED_PEER_IPS),
    deniedPeerIps: parseRangeList('TURN_DENIED_PEER_IPS', env.TURN_DENIED_PEER_IPS),
    // Per process: credentials die with the server that knew them, which is what we want.
    secret: secret ?? randomBytes(32).toString('base64url'),
    ttlSeconds,
  };
}

/** Parses and validates an `ICE_SERVERS` value (a JSON RTCIceServer[]); throws TurnConfigError. */
export function parseIceServers(json: string): IceServer[] {
  const example = 'expected a JSON list such as [{"urls":"turn:turn.example.org:3478","username":"u","credential":"p"}]';
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new TurnConfigError('ICE_SERVERS', `is not valid JSON (${(err as Error).message}); ${example}`);
  }
  if (!Array.isArray(value)) throw new TurnConfigError('ICE_SERVERS', `is not a list; ${example}`);
  return value.map((entry: unknown, i) => parseIceServer(entry, `ICE_SERVERS[${i}]`));
}

function parseIceServer(entry: unknown, where: string): IceServer {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new TurnConfigError('ICE_SERVERS', `${where} is not an object with "urls"`);
  }
  const record = entry as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'urls' && key !== 'username' && key !== 'credential') {
      const hint = key === 'url' ? ' (the field is called "urls")' : '';
      throw new TurnConfigError('ICE_SERVERS', `${where} has an unknown field "${key}"${hint}`);
    }
  }
  const { urls, username, credential } = record;
  const list = typeof urls === 'string' ? [urls] : urls;
  if (!Array.isArray(list) || list.length === 0 || !list.every((u): u is string => typeof u === 'string')) {
    throw new TurnConfigError('ICE_SERVERS', `${where}.urls must be a URL string or a non-empty list of them`);
  }
  for (const url of list) {
    if (!ICE_URL.test(url)) throw new TurnConfigError('ICE_SERVERS', `${where}: "${url}" is not a stun:, stuns:, turn: or turns: URL`);
  }
  if (username !== undefined && typeof username !== 'string') {
    throw new TurnConfigError('ICE_SERVERS', `${where}.username must be a string`);
  }
  if (credential !== undefined && typeof credential !== 'string') {
    throw new TurnConfigError('ICE_SERVERS', `${where}.credential must be a string`);
  }
  // Browsers throw InvalidAccessError for a TURN URL without both: catch it at startup.
  if (list.some(isTurnUrl) && (username === undefined || credential === undefined)) {
    throw new TurnConfigError('ICE_SERVERS', `${where}: a turn:/turns: server needs "username" and "credential"`);
  }
  const server: IceServer = { urls: urls as string | string[] };
  if (username !== undefined) server.username = username;
  if (credential !== undefined) server.credential = credential;
  return server;
}

/** The ICE servers for participant `userId`; `bundled` is required in bundled mode. */
export function iceServersFor(
  config: TurnConfig,
  userId: string,
  bundled?: BundledTurn,
  now: number = Date.now(),
): IceServer[] {
  switch (config.mode) {
    case 'disabled':
      return [];
    case 'static':
      // Copies, so a caller editing its list cannot change what the next participant gets.
      return config.iceServers.map((s) => ({ ...s, urls: Array.isArray(s.urls) ? [...s.urls] : s.urls }));
    case 'external': {
      const { username, credential } = issueTurnCredential(config.secret, userId, config.ttlSeconds, now);
      const stun = config.urls.filter((u) => !isTurnUrl(u));
      const turn = config.urls.filter(isTurnUrl);
      const servers: IceServer[] = [];
      if (stun.length > 0) servers.push({ urls: stun });
      if (turn.length > 0) servers.push({ urls: turn, username, credential });
      return servers;
    }
    case 'bundled': {
      if (bundled === undefined) throw new Error('iceServersFor: bundled TURN mode needs the running TurnServer');
      const { username, credential } = bundled.issue(userId, config.ttlSeconds);
      const hostPort = `${urlHost(config.advertisedHost)}:${bundled.port}`;
      return [
        { urls: `stun:${hostPort}` },
        // node-turn speaks UDP only, so advertise nothing else.
        { urls: `turn:${hostPort}?transport=udp`, username, credential },
      ];
    }
    default: {
      const unreachable: never = config;
      throw new Error(`unknown TURN mode ${JSON.stringify(unreachable)}`);
    }
  }
}

/** How often participants need fresh ICE servers: well before their credentials expire; undefined when they never do. */
export function iceServerRefreshMs(config: TurnConfig): number | undefined {
  if (config.mode !== 'bundled' && config.mode !== 'external') return undefined;
  // Three quarters of the TTL: 45 minutes for the default hour, leaving room for a slow socket.
  return Math.max(1000, Math.floor(config.ttlSeconds * 750));
}

function isTurnUrl(url: string): boolean {
  return url.startsWith('turn:') || url.startsWith('turns:');
}

/** IPv6 literals need brackets inside a URL. */
function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function firstConcrete(ips: string[]): string | undefined {
  return ips.find((ip) => !isWildcard(ip));
}

function firstExternalIpv4(interfaces: ReturnType<typeof networkInterfaces>): string | undefined {
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return undefined;
}

/** A PUBLIC_URL IP that is no local address is our NAT's: relayed candidates must carry it. */
function natAddress(publicHost: string | undefined, interfaces: ReturnType<typeof networkInterfaces>): string | undefined {
  if (publicHost === undefined || isIP(publicHost) === 0) return undefined;
  const local = Object.values(interfaces).some((list) => (list ?? []).some((i) => i.address === publicHost));
  return local ? undefined : publicHost;
}

function hostOfUrl(publicUrl: string): string {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new TurnConfigError('PUBLIC_URL', `"${publicUrl}" is not a URL`);
  }
  // URL keeps the brackets of an IPv6 host; the rest of this module wants the bare address.
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function isTruthy(value: string | undefined): boolean {
  const v = nonEmpty(value)?.toLowerCase();
  return v === '1' || v === 'true' || v === 'yes';
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** A comma-separated list of IPs and CIDR ranges, each checked now so a typo stops the start. */
function parseRangeList(variable: string, value: string | undefined): string[] {
  const text = nonEmpty(value);
  if (text === undefined) return [];
  const list = splitList(text);
  for (const entry of list) {
    try {
      parseIpRange(entry);
    } catch (err) {
      throw new TurnConfigError(variable, `${(err as Error).message} (expected IPs or CIDR ranges such as 192.168.1.0/24, comma-separated)`);
    }
  }
  return list;
}

function parseInteger(variable: string, value: string | undefined, fallback: number, min: number, max: number): number {
  const text = nonEmpty(value);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new TurnConfigError(variable, `"${text}" is not a whole number from ${min} to ${max}`);
  }
  return n;
}
