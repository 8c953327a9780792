/**
 * The real coordinator (`scripts/start.ts`) in a child process, so its CPU time can be read
 * from /proc apart from the load clients'; its log lines counted, its REST API and
 * `/metrics` at hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeetingDetail } from '../../protocol/rest';
import { serverCpuTimes, type CpuTimes, type MeasuredServer } from './cpu';
import { ROOT } from './run';

/** A warning or error the server logged (pino JSON on stdout). */
export interface ServerLogLine {
  level: number;
  msg: string;
  line: string;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A server's `GET /metrics` as name{labels} → value. */
export async function readMetrics(baseUrl: string): Promise<Map<string, number>> {
  const response = await fetch(baseUrl + '/metrics');
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The coordinator (`scripts/start.ts`: HTTP, signaling, relay, mixer) in its own process, TURN off. */
export class ServerProcess implements MeasuredServer {
  /** The first lines logged at warn or above. */
  readonly logs: ServerLogLine[] = [];
  /** Log lines at warn or above, counted by message. */
  readonly warnings = new Map<string, number>();
  /** Every lifecycle line (info and above, HTTP request lines aside), counted by level, message and reason. */
  readonly events = new Map<string, number>();
  /** The first lifecycle lines after start, with their time (ms since the server was ready). */
  readonly timeline: Array<{ atMs: number; line: string }> = [];
  private readonly readyAt = performance.now();
  private exited = false;
  private readonly exitPromise: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly tempDir: string,
  ) {
    this.exitPromise = new Promise((resolve) => child.once('exit', (code) => {
      this.exited = true;
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws') + '/ws';
  }

  /**
   * Starts `node --import tsx scripts/start.ts` on 127.0.0.1, a free port, a temporary record.
   * `nodeArgs` go to node before the script (e.g. `--cpu-prof` to profile the server under load).
   */
  static async start(options: { timeoutMs?: number; nodeArgs?: string[]; /** More settings, e.g. REDIS_URL and NODE_ID. */ env?: Record<string, string> } = {}): Promise<ServerProcess> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const tempDir = mkdtempSync(join(tmpdir(), 'meetmesh-bench-'));
    const args = [...(options.nodeArgs ?? []), '--import', 'tsx', join(ROOT, 'scripts', 'start.ts')];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        TURN_DISABLED: '1',
        // Every load client comes from loopback: lift the per-address limits and the meeting size cap.
        LIMIT_SOCKETS_PER_IP: '10000',
        LIMIT_JOINS_PER_MIN: '100000',
        LIMIT_MESSAGES_PER_SEC: '10000',
        MAX_PARTICIPANTS: '10000',
        DB_PATH: join(tempDir, 'meetings.db'),
        // The relay offers loopback only, not this machine's interface addresses: bench traffic stays on 127.0.0.1.
        RELAY_ANNOUNCED_IP: '127.0.0.1',
        // Lifecycle lines (peer state, participant left the relay, and why) are info.
        LOG_LEVEL: 'info',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Never leave the server behind, whatever happens to this process (Ctrl-C included).
    const killer = () => child.kill('SIGKILL');
    const interrupted = () => {
      killer();
      process.exit(130);
    };
    process.once('exit', killer);
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    child.once('exit', () => {
      process.off('exit', killer);
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    });

    let server: ServerProcess | undefined;
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`server did not print its URL within ${timeoutMs} ms`)), timeoutMs);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const ready = /Meetings are ready: open (\S+)/.exec(line);
          if (ready) {
            clearTimeout(timer);
            resolve(ready[1]);
          } else if (line.startsWith('{')) {
            server?.onLogLine(line);
          }
        }
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim()) server?.onLogLine(JSON.stringify({ level: 50, msg: `stderr: ${line}` }));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with code ${code} before it was ready`));
      });
    });
    server = new ServerProcess(child, url, tempDir);
    return server;
  }

  /** CPU time used so far by the whole server (its media worker processes included), its main thread and its media workers. */
  cpu(): CpuTimes {
    if (this.exited) throw new Error('server process exited');
    return serverCpuTimes(this.pid);
  }

  /** A JSON call to the server's REST API. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Creates a meeting that always uses the relay; returns its id. */
  async createRelayMeeting(title: string): Promise<string> {
    const created = await this.api<{ id: string }>('POST', '/api/meetings', { title, topology: 'relay' });
    return created.id;
  }

  /** `GET /api/meetings/:id`, whose `relay` object carries the relay and mixer counters. */
  meeting(id: string): Promise<MeetingDetail> {
    return this.api<MeetingDetail>('GET', `/api/meetings/${id}`);
  }

  /** `GET /metrics` as name{labels} → value. */
  metrics(): Promise<Map<string, number>> {
    return readMetrics(this.url);
  }

  /** Lifecycle lines worth a reader's attention: warnings, errors, lost connections, failures. */
  notableEvents(): Record<string, number> {
    return Object.fromEntries([...this.events].filter(([key]) => !key.startsWith('info ') || /lost|fail|error|timeout/i.test(key)));
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and removes its record. */
  async stop(graceMs = 12_000): Promise<void> {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    rmSync(this.tempDir, { recursive: true, force: true });
  }

  private onLogLine(line: string): void {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; reason?: unknown; req?: unknown; res?: unknown };
      const level = entry.level ?? 0;
      const msg = entry.msg ?? '';
      if (entry.req !== undefined || entry.res !== undefined) return; // HTTP request lines
      const key = `${LEVEL_NAMES[level] ?? level} ${msg}${typeof entry.reason === 'string' ? ` (${entry.reason})` : ''}`;
      this.events.set(key, (this.events.get(key) ?? 0) + 1);
      if (this.timeline.length < 2000) this.timeline.push({ atMs: Math.round(performance.now() - this.readyAt), line: line.slice(0, 400) });
      if (level < 40) return;
      if (this.logs.length < 200) this.logs.push({ level, msg, line: line.slice(0, 600) });
      this.warnings.set(msg, (this.warnings.get(msg) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
}

