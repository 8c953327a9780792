/**
 * One participant's microphone on the way into the mix: reorder buffer → Opus decoder →
 * loss concealment → exactly one 20 ms frame per tick, plus whether that frame is speech.
 *
 * Concealment uses libopus' own PLC. @evan/opus refuses an empty buffer (BadArgument), but
 * libopus treats a packet with no frame data as lost: decoding just the TOC byte of the
 * last good packet makes the decoder extrapolate that packet's duration of audio, fading
 * out over consecutive losses, exactly like `opus_decode(dec, NULL, 0, ...)`.
 */
import { Decoder } from '@evan/opus';
import { FRAME_MS, FRAME_SAMPLES, MAX_PACKET_SAMPLES, SAMPLE_RATE } from './AudioFormat';
import { opusPacketSamples } from '../opus';
import { rmsLevel } from './AudioLevel';
import { ArrivalJitter } from './ArrivalJitter';
import { JitterBuffer, type JitterBufferOptions } from './JitterBuffer';

/** Opus packets of ≤ 2 bytes carry no audio (DTX / comfort noise, RFC 6716 §3.2.1). */
const DTX_MAX_BYTES = 2;

/** −50 dBov: below this a frame is not speech (line noise, comfort noise, digital silence). */
const SPEECH_LEVEL = 10 ** (-50 / 20);

/**
 * Ticks the buffer must have held more than it needs before one quiet frame is skipped (1 s).
 * After a network burst, or a talkspurt that started with more wait than its jitter needs,
 * the surplus would otherwise stay as latency for as long as the sender never pauses
 * (Chrome without DTX sends a packet every 20 ms, silence or not). Timed (packets with
 * arrival times): more than it needs = every packet played over that time waited at least
 * a frame plus SHED_MARGIN_MS, so playing one frame earlier leaves none of them late.
 * Untimed: more packets waiting than the buffer's depth.
 */
const SURPLUS_TICKS = 50;
/**
 * A talker who never pauses (a hum, speech over a fan louder than −50 dBov) gives no quiet
 * frame to skip, and kept its surplus for the whole meeting: in mouth-to-ear's meeting of
 * three, Bob (humming from the moment he joined, when a talkspurt is held the most because
 * his arrival jitter is not yet known) waited 86–88 ms at the relay on an arrival spread of
 * 3–4 ms, against 17–33 ms for the others. After this many ticks of surplus (3 s) one frame
 * of speech is skipped anyway, blended into the next over `CROSSFADE_SAMPLES` so it is not
 * a click (what NetEq's accelerate does more finely), then at most one a second.
 */
const FORCED_SHED_TICKS = 150;
const FORCED_SHED_INTERVAL_TICKS = 50;
/** 2.5 ms: the start of a skipped speech frame fades into the next frame over this many samples. */
const CROSSFADE_SAMPLES = 120;
/** Slack kept beyond one frame before a timed buffer counts as holding a frame too many (tick timer jitter). */
const SHED_MARGIN_MS = 2;
/** While the surplus lasts, further quiet frames are skipped every this many ticks (200 ms). */
const SHED_INTERVAL_TICKS = 10;
/** Arrival times kept by sequence number (a power of two above the buffer's span). */
const ARRIVALS = 64;
/** Weight of each played packet in the held-time average. */
const HOLD_SMOOTHING = 0.05;

/** Cumulative counts for the mixer's counters. */
export interface InputStats {
  decodes: number;
  concealed: number;
  decodeErrors: number;
  /** Quiet frames decoded but skipped to shed latency built up by a burst. */
  skipped: number;
}

/** Where the newest samples of the current frame came from. */
type FrameSource = 'packet' | 'dtx' | 'concealed' | 'none';

/** Reports a decode error without letting it escape the tick. */
export type DecodeErrorHandler = (error: Error) => void;

/** Decodes and conceals one participant's audio into 20 ms frames. */
export class ParticipantInput {
  readonly jitter: JitterBuffer;
  readonly stats: InputStats = { decodes: 0, concealed: 0, decodeErrors: 0, skipped: 0 };
  /** This tick's frame (Int16 scale); valid after `pull()`. */
  readonly frame = new Float32Array(FRAME_SAMPLES);
  /** Sum of squares of `frame`, for levels. */
  frameEnergy = 0;
  /** Whether `frame` holds speech: decoded from real packets and above the speech level. */
  frameIsSpeech = false;
  private decoder: Decoder | null = null;
  /** Decoded samples not yet played (packets longer than 20 ms spill over ticks). */
  private readonly pending = new Int16Array(MAX_PACKET_SAMPLES + FRAME_SAMPLES);
  private pendingLength = 0;
  /** TOC byte of the last good packet, decoded alone to run PLC. */
  private plcPacket: Uint8Array | null = null;
  private source: FrameSource = 'none';
  private muted = false;
  private surplusTicks = 0;
  /** The start of a skipped speech frame, faded into the next frame played (`fadeLength` samples; 0: none). */
  private readonly fade = new Int16Array(CROSSFADE_SAMPLES);
  private fadeLength = 0;
  private readonly arrivalJitter: ArrivalJitter;
  /** When each recent packet arrived, by sequence number modulo ARRIVALS. */
  private readonly arrivals = new Float64Array(ARRIVALS);
  /** Average time (ms) a packet waited here between its arrival and its tick; -1 before any. */
  private holdAverageMs = -1;

  constructor(
    jitterOptions: JitterBufferOptions = {},
    private readonly onDecodeError: DecodeErrorHandler = () => {},
  ) {
    this.jitter = new JitterBuffer(jitterOptions);
    // A talkspurt is held at most `depth` frames.
    this.arrivalJitter = new ArrivalJitter(this.jitter.depth * FRAME_MS);
  }

  /** How long (ms) packets wait here before they are mixed, on average (0 before any was timed). */
  get heldMs(): number {
    return Math.max(0, this.holdAverageMs);
  }

  /** The spread of this talker's arrival times now (ms, p95 − p50 of transit). */
  get arrivalSpreadMs(): number {
    return this.arrivalJitter.spreadMs;
  }

  /** Whether the participant's microphone is muted (its packets are dropped). */
  get isMuted(): boolean {
    return this.muted;
  }

  /**
   * Queues one RTP payload; returns false when it was dropped (muted, late, duplicate).
   * With its RTP `timestamp` and arrival time `at` (the clock `pull` is given), a
   * talkspurt it starts is held only as long as the measured arrival jitter needs.
   */
  push(sequenceNumber: number, payload: Uint8Array, timestamp?: number, at?: number): boolean {
    if (this.muted) return false;
    let playAt: number | undefined;
    if (timestamp !== undefined && at !== undefined) {
      const transit = this.arrivalJitter.record(timestamp, at);
      this.arrivals[sequenceNumber % ARRIVALS] = at;
      if (this.jitter.state === 'idle') playAt = at + this.arrivalJitter.holdFor(transit);
    }
    return this.jitter.push(sequenceNumber, payload, playAt) === 'queued';
  }

  /** Mutes or unmutes; on unmute everything stale is forgotten so old audio never plays. */
  setMuted(muted: boolean): void {
    if (muted === this.muted) return;
    this.muted = muted;
    this.jitter.reset();
    this.decoder?.reset();
    this.pendingLength = 0;
    this.fadeLength = 0;
    this.plcPacket = null;
    this.source = 'none';
  }

  /** Produces this tick's frame into `frame`, pulling slots from the jitter buffer as needed (`now`: the tick's time). */
  pull(now?: number): void {
    if (this.muted) return this.silence();
    if (this.pendingLength === 0) this.source = 'none';
    while (this.pendingLength < FRAME_SAMPLES) {
      const slot = this.jitter.pop(now);
      if (slot.kind === 'empty') break;
      if (slot.kind === 'packet') {
        if (now !== undefined) this.timeHold(now - this.arrivals[slot.seq % ARRIVALS]!);
        this.decodePacket(slot.payload);
      } else this.conceal();
    }
    if (this.fadeLength > 0) this.crossfade();
    const n = Math.min(this.pendingLength, FRAME_SAMPLES);
    if (n === 0) return this.silence();
    const frame = this.frame;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const s = this.pending[i];
      frame[i] = s;
      energy += s * s;
    }
    frame.fill(0, n);
    this.pending.copyWithin(0, n, this.pendingLength);
    this.pendingLength -= n;
    this.frameEnergy = energy;
    this.frameIsSpeech =
      this.source === 'packet' && rmsLevel(energy, FRAME_SAMPLES) >= SPEECH_LEVEL;
    this.shedSurplus();
  }

  /** Drops the decoder (it has no explicit free; the native state goes with the object). */
  close(): void {
    this.decoder = null;
    this.jitter.reset();
    this.pendingLength = 0;
  }

  /**
   * Skips one 20 ms frame during a quiet moment when the buffer has held surplus packets
   * for a while. The packet is still decoded (Opus state stays continuous) but not played
   * when it is quiet too: dropping 20 ms of silence is inaudible, unlike speeding up speech.
   * A talker who has given no quiet frame for `FORCED_SHED_TICKS` loses one of speech,
   * blended into the next (see there).
   */
  private shedSurplus(): void {
    const timed = this.holdAverageMs >= 0;
    if (this.jitter.state !== 'playing' || this.jitter.size === 0 || (!timed && this.jitter.size <= this.jitter.depth)) {
      this.surplusTicks = 0;
      return;
    }
    this.surplusTicks += 1;
    const forced = this.surplusTicks >= FORCED_SHED_TICKS;
    if (this.surplusTicks < SURPLUS_TICKS || (this.frameIsSpeech && !forced) || this.pendingLength > 0) return;
    const slot = this.jitter.pop();
    let shedSpeech = false;
    if (slot.kind === 'packet') {
      this.decodePacket(slot.payload);
      // Skipped when quiet too; speech (an onset) stays pending and plays next tick, unless forced.
      let energy = 0;
      const n = Math.min(this.pendingLength, FRAME_SAMPLES);
      for (let i = 0; i < n; i++) energy += this.pending[i]! * this.pending[i]!;
      if (this.source !== 'packet' || rmsLevel(energy, FRAME_SAMPLES) < SPEECH_LEVEL) {
        this.pendingLength = 0;
        this.stats.skipped += 1;
      } else if (forced) {
        // Its start continues the frame just played: the next frame fades in from it.
        this.fadeLength = Math.min(CROSSFADE_SAMPLES, this.pendingLength);
        this.fade.set(this.pending.subarray(0, this.fadeLength));
        this.pendingLength = 0;
        this.stats.skipped += 1;
        shedSpeech = true;
      }
    }
    this.surplusTicks = shedSpeech ? FORCED_SHED_TICKS - FORCED_SHED_INTERVAL_TICKS : Math.min(this.surplusTicks, SURPLUS_TICKS - SHED_INTERVAL_TICKS);
  }

  /** Blends the start of a skipped speech frame into the start of the frame that follows it. */
  private crossfade(): void {
    const n = Math.min(this.fadeLength, this.pendingLength);
    for (let i = 0; i < n; i++) {
      const w = (i + 1) / (n + 1);
      this.pending[i] = Math.round(this.fade[i]! * (1 - w) + this.pending[i]! * w);
    }
    this.fadeLength = 0;
  }

  private timeHold(ms: number): void {
    this.holdAverageMs = this.holdAverageMs < 0 ? ms : this.holdAverageMs + HOLD_SMOOTHING * (ms - this.holdAverageMs);
    // A packet that needed (nearly) all its wait: no frame to spare yet.
    if (ms < FRAME_MS + SHED_MARGIN_MS) this.surplusTicks = 0;
  }

  private silence(): void {
    this.frame.fill(0);
    this.frameEnergy = 0;
    this.frameIsSpeech = false;
  }

  private decodePacket(payload: Uint8Array): void {
    const decoder = (this.decoder ??= new Decoder({ channels: 1, sample_rate: SAMPLE_RATE }));
    let pcm: Uint8Array;
    try {
      // A client's packet is untrusted: one that breaks RFC 6716 §3.4 never reaches libopus.
      if (opusPacketSamples(payload) === undefined) throw new Error(`malformed Opus packet (${payload.length} bytes)`);
      pcm = decoder.decode(payload);
      this.stats.decodes += 1;
    } catch (error) {
      // A corrupt packet costs one concealed frame, never the meeting.
      this.stats.decodeErrors += 1;
      this.onDecodeError(error instanceof Error ? error : new Error(String(error)));
      this.conceal();
      return;
    }
    this.append(pcm);
    if (payload.length > 0) this.plcPacket = payload.subarray(0, 1);
    this.source = payload.length <= DTX_MAX_BYTES ? 'dtx' : 'packet';
  }

  private conceal(): void {
    if (this.decoder === null || this.plcPacket === null) return;
    try {
      this.append(this.decoder.decode(this.plcPacket));
      this.stats.concealed += 1;
      this.source = 'concealed';
    } catch (error) {
      this.stats.decodeErrors += 1;
      this.onDecodeError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Appends decoded little-endian Int16 bytes to the pending samples. */
  private append(bytes: Uint8Array): void {
    const count = Math.min(bytes.byteLength >> 1, this.pending.length - this.pendingLength);
    // The binding returns a fresh copy at offset 0, so a direct Int16 view is aligned.
    const samples =
      bytes.byteOffset % 2 === 0
        ? new Int16Array(bytes.buffer, bytes.byteOffset, count)
        : new Int16Array(bytes.slice(0, count * 2).buffer);
    this.pending.set(samples, this.pendingLength);
    this.pendingLength += count;
  }
}
