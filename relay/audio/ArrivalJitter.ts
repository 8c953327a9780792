/**
 * How unevenly one talker's packets arrive, and so how long a talkspurt must wait before it
 * plays. Each packet's transit is its arrival time minus its RTP timestamp (as ms): constant
 * for a perfectly steady network, higher for a packet that came late (RFC 3550 §6.4.1 uses
 * the same difference). A talkspurt that starts on a packet of transit `t` is held until the
 * packets after it, arriving up to (high percentile of recent transits − t) later than
 * their schedule, are still on time: nothing more. A steady sender on a steady network
 * plays at the first tick after its packet arrives.
 */

/** Recent packets the estimate covers (5 s of 20 ms packets). */
const WINDOW = 250;
/** Packets seen before the estimate is trusted (1 s); until then a talkspurt is held the most. */
const MIN_HISTORY = 50;
/** The transit percentile a talkspurt is held for: rarer late packets are concealed. */
const PERCENTILE = 95;
/** A timestamp jump this large (ms) is a sender restart: the history no longer applies. */
const RESTART_MS = 10_000;
/** RTP clock of Opus (RFC 7587): 48 kHz whatever the audio's bandwidth. */
const OPUS_CLOCK_KHZ = 48;

/** Arrival jitter of one talker's packets. */
export class ArrivalJitter {
  private readonly transits = new Float64Array(WINDOW);
  private count = 0;
  private cursor = 0;
  private lastTimestamp: number | undefined;
  /** Media time (ms) of the last packet, unwrapped from the 32-bit RTP timestamp. */
  private mediaMs = 0;

  constructor(private readonly maxHoldMs: number) {}

  /** Records a packet that arrived at `at` (ms) with RTP `timestamp`; returns its transit (ms, relative). */
  record(timestamp: number, at: number): number {
    if (this.lastTimestamp !== undefined) {
      const stepMs = ((timestamp - this.lastTimestamp) | 0) / OPUS_CLOCK_KHZ;
      if (Math.abs(stepMs) > RESTART_MS) this.count = 0;
      else this.mediaMs += stepMs;
    }
    this.lastTimestamp = timestamp >>> 0;
    const transit = at - this.mediaMs;
    this.transits[this.cursor] = transit;
    this.cursor = (this.cursor + 1) % WINDOW;
    if (this.count < WINDOW) this.count += 1;
    return transit;
  }

  /** How long (ms) a talkspurt starting on a packet of `transit` waits: 0 on a steady path, at most `maxHoldMs`. */
  holdFor(transit: number): number {
    if (this.count < MIN_HISTORY) return this.maxHoldMs;
    const sorted = this.transits.slice(0, this.count).sort();
    const high = sorted[Math.min(this.count - 1, Math.ceil((PERCENTILE / 100) * this.count) - 1)]!;
    return Math.min(this.maxHoldMs, Math.max(0, high - transit));
  }

  /** The spread (ms) between the typical and the late arrivals now (p95 − p50 of transit). */
  get spreadMs(): number {
    if (this.count < 2) return 0;
    const sorted = this.transits.slice(0, this.count).sort();
    const at = (p: number) => sorted[Math.min(this.count - 1, Math.ceil((p / 100) * this.count) - 1)]!;
    return at(PERCENTILE) - at(50);
  }
}
