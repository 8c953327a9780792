/**
 * The one internal audio format of the relay mixer: mono, 48 kHz, 20 ms frames, samples on
 * the Int16 scale (±32768) held in Float32 accumulators so sums of talkers never wrap.
 */

/** Opus and WebRTC run at 48 kHz; decoding and encoding at the native rate avoids resampling. */
export const SAMPLE_RATE = 48_000;

/** One mix step; Chrome sends 20 ms Opus packets by default (ptime 20). */
export const FRAME_MS = 20;

/** Samples per mono frame (960). */
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;

/** Longest Opus packet (120 ms), the most one decode can return. */
export const MAX_PACKET_SAMPLES = (SAMPLE_RATE * 120) / 1000;

/** Full scale of an Int16 sample; levels and the limiter ceiling are relative to it. */
export const FULL_SCALE = 32_768;
