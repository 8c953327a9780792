/**
 * The relay's audio conference mixer: decodes every participant's Opus microphone stream,
 * mixes on a steady 20 ms clock (48 kHz mono) and hands each participant one Opus packet
 * per tick holding everyone but themself.
 *
 * Encode cost follows talkers, not participants (as in Asterisk ConfBridge / FreeSWITCH):
 * - A talker (speech in the last TALKER_HANGOVER_TICKS) is mixed in and gets its own N−1
 *   mix (full mix minus its own frame) from its own encoder.
 * - Everyone else is not mixed in, so the full mix already excludes them: they all share
 *   ONE encode of it and receive the very same Uint8Array.
 * - Someone who stops talking (Chrome DTX sends nothing, or only silence) leaves the mix
 *   after the hangover and moves to the shared encoder; someone who starts talking gets an
 *   encoder from a small pool. The receiver's Opus decoder then continues from another
 *   encoder's state: one frame may carry a faint click at that switch, which happens only
 *   at a pause in that participant's own speech, never mid-word (thanks to the hangover).
 * - Muted participants are never mixed in and their packets are dropped.
 * - With many talkers (each needs its own encode of a many-voiced mix) the encoders' Opus
 *   complexity steps down while ticks stay heavy, and back up once they are light
 *   (ComplexityGovernor).
 */
import { FRAME_MS, FRAME_SAMPLES } from './AudioFormat';
import { rmsLevel } from './AudioLevel';
import { ComplexityGovernor, type Complexity } from './ComplexityGovernor';
import { MixDepartures, type DepartureFigures } from './MixDepartures';
import { MixEncoder } from './MixEncoder';
import { sharedMixPhases, type MixPhases } from './MixPhases';
import { ParticipantInput } from './ParticipantInput';
import { TickClock } from './TickClock';
import type { Wakeups } from './Wakeups';
import { TickTimings } from './TickTimings';

/** Mixer health figures, cumulative since construction (departure figures: over the recent ticks). */
export interface MixerCounters extends DepartureFigures {
  ticks: number;
  /** Ticks that started > LATE_START_MS late, took longer than a frame, or were skipped. */
  lateTicks: number;
  tickMsP50: number;
  tickMsP99: number;
  encodes: number;
  decodes: number;
  /** Frames synthesised by Opus PLC (lost packets, underruns, undecodable packets). */
  concealed: number;
  /** Packets dropped because their slot had already been played or concealed. */
  latePackets: number;
  /** Packets libopus rejected (each was concealed instead). */
  decodeErrors: number;
  /** The Opus complexity the mix encoders use now (lowered while ticks are heavy, see ComplexityGovernor). */
  complexity: Complexity;
  /** How long (ms) a microphone packet waits in the relay's jitter buffer before it is mixed, on average; the worst participant's. */
  inputHeldMs: number;
}

/** Callbacks through which the mixer delivers its output. */
export interface AudioMixerOptions {
  /** Called once per tick for every participant with the Opus packet (20 ms, 48 kHz) it should receive. Participants who share the listener mix get the same Uint8Array. */
  onFrame?: (participantId: string, opus: Uint8Array, mediaTimeMs: number) => void;
  /** Called about every 200 ms with each participant's current level (0 = silence .. 1 = full scale) */
  onLevels?: (levels: ReadonlyMap<string, number>) => void;
  /** Decode errors and exceptions thrown by `onFrame`/`onLevels`; they never escape `tick()`. */
  onError?: (error: Error, participantId?: string) => void;
  /**
   * Discontinuous transmission (default on): a mix with nobody in it (no talker, or only the
   * receiver) is digital silence; after `DTX_HANGOVER_FRAMES` of it, the stream is neither
   * encoded nor sent, except one frame every `DTX_KEEPALIVE_FRAMES` (400 ms, as WebRTC keeps a
   * DTX stream alive), so `onFrame` is not called every tick for everyone. RFC 7587 §3.1.3:
   * the receiver's jitter buffer treats the gap as a pause, and the packet after it carries the
   * marker and the timestamp of its place in time (OpusPacketizer).
   */
  dtx?: boolean;
  /** Where the mixer's ticks may fall in the period, apart from other mixers' (default: the process's, `sharedMixPhases()`). */
  phases?: MixPhases;
  /** What wakes the mixer's clock (default: the process's wakeup thread; tests and bench/mix-pacing.ts may give Node's timers). */
  wakeups?: Wakeups;
}

/** Silent frames still sent before a stream goes quiet (lets the receiver's decoder fade out on real frames). */
export const DTX_HANGOVER_FRAMES = 3;
/** While quiet, one frame every this many (400 ms) keeps the stream and its statistics alive. */
export const DTX_KEEPALIVE_FRAMES = 20;

/** Frames of silence after the last speech frame before a talker becomes a listener. */
const TALKER_HANGOVER_TICKS = 15; // 300 ms: keeps word gaps from toggling encoders
/** Levels are reported every this many ticks (200 ms). */
const LEVEL_INTERVAL_TICKS = 10;
/** A clocked tick that starts later than this counts as late. */
const LATE_START_MS = 10;
/** Spare encoders kept for the next talker (creating one costs ~0.05 ms, but allocates). */
const ENCODER_POOL_SIZE = 4;

interface Member {
  readonly id: string;
  readonly input: ParticipantInput;
  /** Own encoder while talking; null while sharing the listener mix. */
  encoder: MixEncoder | null;
  lastSpeechTick: number;
  levelEnergy: number;
  levelSamples: number;
  /** Consecutive silent frames of its own mix (while it has its own encoder). */
  silentRun: number;
}

/** Mixes N participants into N−1 mixes with one shared mix for all non-talkers. */
export class AudioMixer {
  private readonly members = new Map<string, Member>();
  private readonly clock: TickClock;
  private readonly phases: MixPhases;
  /** The phase of the period this mixer ticks at while started (see MixPhases). */
  private phase: number | null = null;
  private readonly timings = new TickTimings();
  private readonly departures = new MixDepartures();
  private readonly governor = new ComplexityGovernor();
  private readonly pool: MixEncoder[] = [];
  private readonly fullMix = new Float32Array(FRAME_SAMPLES);
  private readonly ownMix = new Float32Array(FRAME_SAMPLES);
  private readonly talkers: Member[] = [];
  private listenerEncoder: MixEncoder | null = null;
  /** Consecutive silent frames of the shared listener mix. */
  private listenerSilentRun = 0;
  private readonly dtx: boolean;
  /** This tick's packets, delivered once the tick's mixing is done and timed (reused arrays). */
  private readonly outboxIds: string[] = [];
  private readonly outboxPackets: Uint8Array[] = [];
  /** Gets every tick's full mix (everyone who talks, nobody left out): the recording. */
  private fullMixTap: ((mix: Float32Array) => void) | null = null;
  private closed = false;
  private tickIndex = 0;
  private tickMediaTimeMs = 0;
  private lateTickCount = 0;
  private encodeCount = 0;
  /** Counts of participants who already left, so counters never go backwards. */
  private readonly retired = { decodes: 0, concealed: 0, decodeErrors: 0, latePackets: 0 };

  constructor(private readonly options: AudioMixerOptions = {}) {
    this.dtx = options.dtx ?? true;
    this.clock = new TickClock(FRAME_MS, (lateMs) => this.runTick(lateMs), options.wakeups ? { wakeups: options.wakeups } : {});
    this.phases = options.phases ?? sharedMixPhases();
  }

  /** Current counters (a snapshot; percentiles over the last 500 ticks). */
  get counters(): MixerCounters {
    const sum = { ...this.retired };
    let inputHeldMs = 0;
    for (const m of this.members.values()) {
      inputHeldMs = Math.max(inputHeldMs, m.input.heldMs);
      sum.decodes += m.input.stats.decodes;
      sum.concealed += m.input.stats.concealed;
      sum.decodeErrors += m.input.stats.decodeErrors;
      sum.latePackets += m.input.jitter.stats.late;
    }
    return {
      ticks: this.tickIndex,
      lateTicks: this.lateTickCount + this.clock.skipped,
      tickMsP50: this.timings.percentile(50),
      tickMsP99: this.timings.percentile(99),
      encodes: this.encodeCount,
      complexity: this.governor.complexity,
      inputHeldMs,
      ...this.departures.figures,
      ...sum,
    };
  }

  /** How long (ms, on average) the participant's packets wait here before they are mixed; undefined before any was. */
  heldMsOf(id: string): number | undefined {
    const input = this.members.get(id)?.input;
    return input && input.stats.decodes > 0 ? input.heldMs : undefined;
  }

  /** Adds a participant (no-op if already present); it hears the mix from the next tick. */
  addParticipant(id: string): void {
    if (this.closed || this.members.has(id)) return;
    const input = new ParticipantInput({}, (error) => this.report(error, id));
    this.members.set(id, {
      id,
      input,
      encoder: null,
      lastSpeechTick: Number.NEGATIVE_INFINITY,
      levelEnergy: 0,
      levelSamples: 0,
      silentRun: 0,
    });
  }

  /** Removes a participant and frees its decoder and encoder. No-op if unknown. */
  removeParticipant(id: string): void {
    const member = this.members.get(id);
    if (member === undefined) return;
    this.members.delete(id);
    this.retired.decodes += member.input.stats.decodes;
    this.retired.concealed += member.input.stats.concealed;
    this.retired.decodeErrors += member.input.stats.decodeErrors;
    this.retired.latePackets += member.input.jitter.stats.late;
    this.releaseEncoder(member);
    member.input.close();
  }

  /** One RTP packet's Opus payload from this participant's microphone track. */
  pushPacket(id: string, sequenceNumber: number, timestamp: number, payload: Uint8Array): void {
    // Ordering is by sequence number (with DTX the timestamp jumps while numbers do not); the
    // timestamp and arrival time measure the arrival jitter a talkspurt must be held for.
    this.members.get(id)?.input.push(sequenceNumber, payload, timestamp, performance.now());
  }

  /** Server-side mute: a muted participant is left out of every mix and its level is 0. */
  setMuted(id: string, muted: boolean): void {
    const member = this.members.get(id);
    if (member === undefined) return;
    member.input.setMuted(muted);
    if (muted) member.lastSpeechTick = Number.NEGATIVE_INFINITY;
  }

  /** Hands every tick's full mix to `tap` (null stops); the array is reused: copy or encode at once. */
  setFullMixTap(tap: ((mix: Float32Array) => void) | null): void {
    this.fullMixTap = tap;
  }

  /** Starts the 20 ms clock at a phase apart from the other mixers' (drift-corrected; see TickClock for stalls and catch-up). No-op when started. */
  start(): void {
    if (this.closed || this.phase !== null) return;
    this.phase = this.phases.take();
    this.clock.start({ epoch: this.phases.epoch, phaseMs: this.phase });
  }

  /** One mix step; tests and benchmarks call it directly without the clock. */
  tick(): void {
    this.runTick(0);
  }

  /** Idempotent; stops the clock, frees encoders/decoders. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.stop();
    if (this.phase !== null) this.phases.release(this.phase);
    this.phase = null;
    for (const id of [...this.members.keys()]) this.removeParticipant(id);
    this.pool.length = 0;
    this.talkers.length = 0;
    this.outboxIds.length = 0;
    this.outboxPackets.length = 0;
    this.listenerEncoder = null;
  }

  private runTick(lateMs: number): void {
    if (this.closed) return;
    const started = performance.now();
    // The tick's place on the 20 ms schedule (not when it ran): catch-up ticks after a stall
    // stay 20 ms apart in media time, so the RTP timestamps downstream do too.
    this.tickMediaTimeMs = started - lateMs;
    this.tickIndex += 1;
    this.collectTalkers(started);
    this.mixAndEncode();
    const took = performance.now() - started;
    this.timings.record(took);
    this.governor.record(took);
    if (lateMs > LATE_START_MS || took > FRAME_MS) this.lateTickCount += 1;
    // Out of the timed critical path: sending (SRTP and a syscall per packet) and the levels.
    this.flushOutbox();
    if (this.tickIndex % LEVEL_INTERVAL_TICKS === 0) this.emitLevels();
  }

  /** Pulls one frame from everyone and decides who is a talker this tick. */
  private collectTalkers(now: number): void {
    const talkers = this.talkers;
    talkers.length = 0;
    for (const member of this.members.values()) {
      const input = member.input;
      input.pull(now);
      member.levelEnergy += input.frameEnergy;
      member.levelSamples += FRAME_SAMPLES;
      if (input.frameIsSpeech) member.lastSpeechTick = this.tickIndex;
      const talking = this.tickIndex - member.lastSpeechTick <= TALKER_HANGOVER_TICKS;
      if (talking) {
        member.encoder ??= this.acquireEncoder();
        talkers.push(member);
      } else {
        this.releaseEncoder(member);
      }
    }
  }

  /** Builds the full mix, encodes it once for listeners and once per talker minus itself, into the outbox. */
  private mixAndEncode(): void {
    const full = this.fullMix;
    full.fill(0);
    for (const talker of this.talkers) {
      const frame = talker.input.frame;
      for (let i = 0; i < FRAME_SAMPLES; i++) full[i] += frame[i];
    }
    if (this.fullMixTap !== null) {
      try {
        this.fullMixTap(full);
      } catch (error) {
        this.report(error);
      }
    }
    let listenerPacket: Uint8Array | null = null;
    if (this.talkers.length < this.members.size) {
      // Listeners hear every talker: silent when nobody talks.
      this.listenerSilentRun = this.talkers.length === 0 ? this.listenerSilentRun + 1 : 0;
      if (this.sendsFrame(this.listenerSilentRun)) {
        this.listenerEncoder ??= new MixEncoder();
        listenerPacket = this.encode(this.listenerEncoder, full);
      }
    }
    const own = this.ownMix;
    for (const member of this.members.values()) {
      let packet = listenerPacket;
      if (member.encoder !== null) {
        // A talker hears the other talkers: silent when it is the only one.
        member.silentRun = this.talkers.length === 1 ? member.silentRun + 1 : 0;
        packet = null;
        if (this.sendsFrame(member.silentRun)) {
          const frame = member.input.frame;
          for (let i = 0; i < FRAME_SAMPLES; i++) own[i] = full[i] - frame[i];
          packet = this.encode(member.encoder, own, member.id);
        }
      }
      if (packet !== null) {
        this.outboxIds.push(member.id);
        this.outboxPackets.push(packet);
      }
    }
  }

  /** Whether a stream that has been silent for `silentRun` frames (0: not silent) sends this one. */
  private sendsFrame(silentRun: number): boolean {
    return !this.dtx || silentRun <= DTX_HANGOVER_FRAMES || silentRun % DTX_KEEPALIVE_FRAMES === 0;
  }

  /** Hands this tick's packets to `onFrame` and empties the outbox (its arrays are kept). */
  private flushOutbox(): void {
    const ids = this.outboxIds;
    const packets = this.outboxPackets;
    if (ids.length > 0) this.departures.record(this.tickIndex, performance.now());
    for (let i = 0; i < ids.length; i++) this.deliver(ids[i]!, packets[i]!);
    ids.length = 0;
    packets.length = 0;
  }

  private encode(encoder: MixEncoder, mix: Float32Array, who?: string): Uint8Array | null {
    try {
      const packet = encoder.encode(mix, this.governor.complexity);
      this.encodeCount += 1;
      return packet;
    } catch (error) {
      this.report(error, who);
      return null;
    }
  }

  private deliver(id: string, packet: Uint8Array): void {
    const onFrame = this.options.onFrame;
    if (onFrame === undefined) return;
    try {
      onFrame(id, packet, this.tickMediaTimeMs);
    } catch (error) {
      this.report(error, id);
    }
  }

  private emitLevels(): void {
    const levels = new Map<string, number>();
    for (const member of this.members.values()) {
      levels.set(member.id, rmsLevel(member.levelEnergy, member.levelSamples));
      member.levelEnergy = 0;
      member.levelSamples = 0;
    }
    const onLevels = this.options.onLevels;
    if (onLevels === undefined) return;
    try {
      onLevels(levels);
    } catch (error) {
      this.report(error);
    }
  }

  private acquireEncoder(): MixEncoder {
    return this.pool.pop() ?? new MixEncoder();
  }

  private releaseEncoder(member: Member): void {
    const encoder = member.encoder;
    if (encoder === null) return;
    member.encoder = null;
    member.silentRun = 0;
    if (this.pool.length < ENCODER_POOL_SIZE && !this.closed) {
      encoder.reset();
      this.pool.push(encoder);
    }
  }

  private report(error: unknown, participantId?: string): void {
    const onError = this.options.onError;
    if (onError === undefined) return;
    try {
      onError(error instanceof Error ? error : new Error(String(error)), participantId);
    } catch {
      // An error handler that throws must not stall the meeting either.
    }
  }
}
