/**
 * RTP framing for the mixed audio the relay sends to one participant: its own sequence and
 * timestamp space, continuous across silences (RFC 3550 §5.1, RFC 7587).
 */
import { randomInt } from 'node:crypto';
import { OPUS_CLOCK_RATE, opusPacketSamples } from './opus';

/** Header fields for one outgoing audio packet. */
export interface AudioRtpFields {
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

/** The mixer works in 20 ms frames (960 samples at 48 kHz) unless a packet says otherwise. */
const DEFAULT_FRAME_SAMPLES = 960;

/** A gap longer than this many frames between two packets is a silence (the mixer sent nothing). */
const SILENCE_GAP_FRAMES = 2;

/** Numbers RTP headers for one audio stream. */
export class OpusPacketizer {
  // RFC 3550 §5.1: initial sequence number and timestamp are random.
  private sequenceNumber = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 0x1_0000_0000);
  private lastSentAt: number | undefined;
  private lastSamples = DEFAULT_FRAME_SAMPLES;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Header fields for the next packet. The first packet after a silence carries the marker
   * (RFC 3551 §4.1, start of a talkspurt) and its timestamp skips the frames not sent, so the
   * receiver's jitter buffer sees the sampling clock, not the packet count (RFC 3550 §5.1).
   * `mediaTimeMs` is the frame's place on the sender's clock (default: now).
   */
  next(payload: Uint8Array, mediaTimeMs?: number): AudioRtpFields {
    const fields: AudioRtpFields = { sequenceNumber: 0, timestamp: 0, marker: false };
    this.nextInto(fields, payload, mediaTimeMs);
    return fields;
  }

  /** As `next`, writing the fields into `target` (an RTP header reused packet after packet). */
  nextInto(target: AudioRtpFields, payload: Uint8Array, mediaTimeMs?: number): void {
    // The mixer's schedule when given: a burst of catch-up ticks after a stall is not a silence.
    const now = mediaTimeMs ?? this.now();
    const frameMs = (this.lastSamples / OPUS_CLOCK_RATE) * 1000;
    let marker = false;
    if (this.lastSentAt === undefined) {
      marker = true;
    } else {
      const elapsedMs = now - this.lastSentAt;
      let advance = this.lastSamples;
      if (elapsedMs > SILENCE_GAP_FRAMES * frameMs) {
        marker = true;
        advance = Math.round(elapsedMs / frameMs) * this.lastSamples;
      }
      this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
      this.timestamp = (this.timestamp + advance) >>> 0;
    }
    this.lastSentAt = now;
    this.lastSamples = opusPacketSamples(payload) ?? DEFAULT_FRAME_SAMPLES;
    target.sequenceNumber = this.sequenceNumber;
    target.timestamp = this.timestamp;
    target.marker = marker;
  }
}
