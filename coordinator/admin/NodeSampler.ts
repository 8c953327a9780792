/**
 * What the operator dashboard draws: every few seconds, a sample of this node (participants
 * by path, what the relay sends, the CPU of the coordinator and of each media worker,
 * late mixer ticks), kept for the last 15 minutes, and each meeting's relay bitrate. Rates
 * are differences of the same lifetime counters `/metrics` exports, so the two agree.
 */
import type { AdminMeeting, AdminSample, AdminWorker } from '../../protocol/admin';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import type { RelayCounterSource } from '../media/RelayCounterSource';

export interface NodeSamplerOptions {
  /** How often a sample is taken (the dashboard updates as often). */
  sampleMs: number;
  /** How far back the charts reach. */
  windowMs: number;
}

export const DEFAULT_SAMPLING: NodeSamplerOptions = { sampleMs: 2000, windowMs: 15 * 60_000 };

/** The lifetime counters one sample is the difference of. */
interface Reading {
  atMs: number;
  relayBytes: number;
  coordinatorCpuS: number;
  workerCpuS: Array<number | undefined>;
  lateTicks: number;
  meetingBytes: Map<string, number>;
}

export class NodeSampler {
  private readonly samples: AdminSample[] = [];
  private last: Reading;
  private meetingBitrates = new Map<string, number>();
  private workerCores: Array<number | null> = [];
  private coordinatorCores = 0;
  private readonly timer: NodeJS.Timeout;
  readonly startedAt = Date.now();

  constructor(
    private readonly registry: MeetingRegistry,
    private readonly media: RelayCounterSource,
    readonly options: NodeSamplerOptions = DEFAULT_SAMPLING,
  ) {
    this.last = this.read();
    this.timer = setInterval(() => this.sample(), options.sampleMs);
    this.timer.unref();
  }

  /** Samples taken after `sinceMs` (Unix ms), oldest first. */
  samplesSince(sinceMs = 0): AdminSample[] {
    return this.samples.filter((s) => s.at > sinceMs);
  }

  /** Open meetings held here, with their relay bitrate over the last sample. */
  meetings(): AdminMeeting[] {
    return this.registry.all().map((m) => ({
      id: m.id,
      title: m.title,
      mode: m.mode,
      participants: m.size,
      relayBitrateBps: Math.round(this.meetingBitrates.get(m.id) ?? 0),
      recording: m.recording,
    }));
  }

  /** Each media worker now, its CPU over the last sample. */
  workers(): AdminWorker[] {
    return this.media.workerStats().workers.map((w) => ({
      index: w.index,
      meetings: w.meetings,
      participants: w.participants,
      utilization: w.utilization,
      cpuCores: this.workerCores[w.index] ?? (w.figures.process ? 0 : null),
      rssBytes: w.figures.process ? w.figures.process.rssBytes : null,
      starts: w.starts,
    }));
  }

  coordinator(): { cpuCores: number; rssBytes: number } {
    return { cpuCores: this.coordinatorCores, rssBytes: process.memoryUsage.rss() };
  }

  close(): void {
    clearInterval(this.timer);
  }

  private read(): Reading {
    const totals = this.media.totalsByMode();
    const cpu = process.cpuUsage();
    const meetingBytes = new Map<string, number>();
    for (const m of this.registry.all()) meetingBytes.set(m.id, this.media.countersFor(m.id).bytes);
    return {
      atMs: performance.now(),
      relayBytes: totals.p2p.bytes + totals.relay.bytes + totals.switching.bytes,
      coordinatorCpuS: (cpu.user + cpu.system) / 1e6,
      workerCpuS: this.media.workerStats().workers.map((w) => w.figures.process?.cpuSeconds),
      lateTicks: this.media.mixerStats().lateTicks,
      meetingBytes,
    };
  }

  private sample(): void {
    const now = this.read();
    const before = this.last;
    this.last = now;
    const seconds = Math.max(0.001, (now.atMs - before.atMs) / 1000);
    const rate = (a: number, b: number) => Math.max(0, b - a) / seconds;
    this.meetingBitrates = new Map([...now.meetingBytes].map(([id, bytes]) => [id, 8 * rate(before.meetingBytes.get(id) ?? bytes, bytes)]));
    this.coordinatorCores = rate(before.coordinatorCpuS, now.coordinatorCpuS);
    this.workerCores = now.workerCpuS.map((cpu, i) => {
      const previous = before.workerCpuS[i];
      return cpu === undefined ? null : rate(previous ?? cpu, cpu);
    });
    let p2pParticipants = 0;
    let relayParticipants = 0;
    for (const m of this.registry.all()) {
      if (m.mode === 'p2p') p2pParticipants += m.size;
      else relayParticipants += m.size; // switching counts with the relay: both paths are up
    }
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    this.samples.push({
      at: Date.now(),
      p2pParticipants,
      relayParticipants,
      relayBitrateBps: Math.round(8 * rate(before.relayBytes, now.relayBytes)),
      coordinatorCpuCores: round3(this.coordinatorCores),
      workerCpuCores: this.workerCores.filter((c): c is number => c !== null).map(round3),
      lateTicks: Math.max(0, now.lateTicks - before.lateTicks),
    });
    const oldest = Date.now() - this.options.windowMs;
    while (this.samples.length > 0 && this.samples[0]!.at < oldest) this.samples.shift();
  }
}
