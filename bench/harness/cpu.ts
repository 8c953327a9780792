/**
 * CPU and UDP figures from /proc: a server's (its media worker processes included), this
 * process's (the load clients) and the machine's, so a benchmark can say whose CPU a figure is
 * and whether other programs disturbed it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';
import { sleep } from './run';

const CLK_TCK = 100; // USER_HZ on Linux (`getconf CLK_TCK`)

/** CPU seconds of a server: all of it (its media worker processes included), its main thread (the event loop), its media worker processes. */
export interface CpuTimes {
  processS: number;
  mainThreadS: number;
  mediaWorkersS: number;
}

/** A server a benchmark runs in a child process (`ServerProcess`): its pid and CPU times. */
export interface MeasuredServer {
  readonly pid: number;
  cpu(): CpuTimes;
}

/** utime + stime of /proc/<pid>[/task/<tid>]/stat, in seconds. */
export function procCpuSeconds(pid: number, tid?: number): number {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  const stat = readFileSync(path, 'utf8');
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
}

/** A process's children, grandchildren, … (a server's media worker processes), from /proc. */
export function descendantPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)) {
        out.push(child, ...descendantPids(child));
      }
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

/** CPU seconds of a process's descendants (those alive now). */
function descendantsCpuSeconds(pid: number): number {
  let total = 0;
  for (const child of descendantPids(pid)) {
    try {
      total += procCpuSeconds(child);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** CPU times of the server process `pid`: its media workers are its child processes. */
export function serverCpuTimes(pid: number): CpuTimes {
  const mediaWorkersS = descendantsCpuSeconds(pid);
  return { processS: procCpuSeconds(pid) + mediaWorkersS, mainThreadS: procCpuSeconds(pid, pid), mediaWorkersS };
}

/** This process's CPU time (all threads: includes libwebrtc's). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Busy, interrupt (irq + softirq: mostly the kernel's loopback networking) and total jiffies of the machine (/proc/stat). */
export function machineJiffies(): { busy: number; irq: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = values[3] + (values[4] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - idle, irq: (values[5] ?? 0) + (values[6] ?? 0), total };
}

/**
 * Datagrams the kernel dropped because a UDP socket of process `pid` had a full receive
 * buffer (the `drops` column of /proc/net/udp{,6} for that process's sockets): the sign of
 * a receiver that did not read fast enough, e.g. a blocked event loop.
 */
export function udpDropsOf(pid: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith('socket:[')) inodes.add(target.slice(8, -1));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return 0;
  }
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 13 && inodes.has(fields[9]!)) drops += Number(fields[12]);
    }
  }
  return drops;
}

/** CPU counters at one moment: the server's, this process's (the load clients) and the machine's. */
export interface CpuSample {
  at: number;
  server: CpuTimes;
  clients: number;
  machine: { busy: number; irq: number; total: number };
  /** UDP receive-buffer drops so far on the server's sockets and on the load clients'. */
  udpDrops: { server: number; clients: number };
}

/** CPU use between two samples, in cores (1 = one core fully busy). */
export interface CpuWindow {
  seconds: number;
  /** The whole server: every thread, its media worker processes included. */
  serverCores: number;
  /** The server's main thread: HTTP, signaling, records (the media runs in workers). */
  serverMainCores: number;
  /** The server's media worker processes (every thread): the relays, mixers and recordings. */
  mediaWorkerCores: number;
  /** This process: the load clients (libwebrtc threads included). */
  clientCores: number;
  /** Interrupt handling (irq + softirq), mostly the kernel moving our loopback UDP. */
  irqCores: number;
  /** Everything else on the machine (other programs): large values mean the figures are disturbed. */
  backgroundCores: number;
  machineCores: number;
  /** Datagrams dropped for a full receive buffer in the window (server sockets, client sockets). */
  udpDropsServer: number;
  udpDropsClients: number;
}

/** Samples the CPU counters. */
export function sampleCpu(server: MeasuredServer): CpuSample {
  return {
    at: performance.now(),
    server: server.cpu(),
    clients: selfCpuSeconds(),
    machine: machineJiffies(),
    udpDrops: { server: [server.pid, ...descendantPids(server.pid)].reduce((n, pid) => n + udpDropsOf(pid), 0), clients: udpDropsOf(process.pid) },
  };
}

/** CPU use between two samples. */
export function cpuBetween(a: CpuSample, b: CpuSample): CpuWindow {
  const seconds = (b.at - a.at) / 1000;
  const jiffies = Math.max(1, b.machine.total - a.machine.total);
  const machineCores = ((b.machine.busy - a.machine.busy) / jiffies) * cpus().length;
  const irqCores = ((b.machine.irq - a.machine.irq) / jiffies) * cpus().length;
  const serverCores = (b.server.processS - a.server.processS) / seconds;
  const clientCores = (b.clients - a.clients) / seconds;
  return {
    seconds,
    serverCores,
    serverMainCores: (b.server.mainThreadS - a.server.mainThreadS) / seconds,
    mediaWorkerCores: (b.server.mediaWorkersS - a.server.mediaWorkersS) / seconds,
    clientCores,
    irqCores,
    backgroundCores: Math.max(0, machineCores - serverCores - clientCores - irqCores),
    machineCores,
    // Counters of sockets closed in between vanish with them: never below zero.
    udpDropsServer: Math.max(0, b.udpDrops.server - a.udpDrops.server),
    udpDropsClients: Math.max(0, b.udpDrops.clients - a.udpDrops.clients),
  };
}

/**
 * Waits (at most `maxWaitMs`) until other programs use less than `maxBackground` cores over
 * one second, so a measurement window does not start in the middle of someone else's job.
 * Returns the background seen last.
 */
export async function waitForQuiet(server: MeasuredServer, maxBackground = 0.25, maxWaitMs = 60_000): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const a = sampleCpu(server);
    await sleep(1000);
    const background = cpuBetween(a, sampleCpu(server)).backgroundCores;
    if (background < maxBackground || performance.now() > deadline) return background;
  }
}

