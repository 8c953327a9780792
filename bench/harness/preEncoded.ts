/**
 * Pre-encoded media for the light load client: it replays RTP payloads instead of encoding,
 * so a load client costs a timer and a native send per packet (LiveKit's load tester does
 * the same with files). Made once per run, in memory:
 * - Opus: 20 ms frames of a sine, encoded by @evan/opus (one second, which loops seamlessly
 *   for a whole number of hertz);
 * - VP8: real libwebrtc output (@roamhq/wrtc encoding a scrolling test picture), captured as
 *   RTP by a node-datachannel receiver on loopback, in a process of its own
 *   (`workers/vp8Recorder.ts`: libwebrtc and libdatachannel in one process crash at exit
 *   once libdatachannel is cleaned up). The capture starts at a keyframe, so every loop (and
 *   every keyframe request, which restarts the loop) begins with one.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { Encoder } from '@evan/opus';

const OPUS_RATE = 48_000;
const FRAME_SAMPLES = OPUS_RATE / 50;

/** One RTP packet of a recorded stream, relative to the stream's start. */
export interface RecordedPacket {
  payload: Buffer;
  marker: boolean;
  /** RTP timestamp offset from the first packet (90 kHz for video). */
  timestampOffset: number;
  /** Whether this packet starts a keyframe (VP8 payload descriptor S bit and frame tag P bit). */
  keyframeStart: boolean;
}

/** A loop of recorded video: packets grouped by frame, frame 0 a keyframe. */
export interface RecordedVideo {
  width: number;
  height: number;
  fps: number;
  frames: RecordedPacket[][];
}

/** One second of 20 ms Opus frames of a `hz` sine (mono, voice settings as Chrome sends). */
export function opusTone(hz: number, amplitude = 6000): Buffer[] {
  const encoder = new Encoder({ channels: 1, sample_rate: OPUS_RATE, application: 'voip' });
  encoder.bitrate = 32_000;
  const pcm = new Int16Array(FRAME_SAMPLES);
  const frames: Buffer[] = [];
  const step = (2 * Math.PI * Math.round(hz)) / OPUS_RATE;
  for (let f = 0; f < 50; f++) {
    for (let i = 0; i < FRAME_SAMPLES; i++) pcm[i] = Math.round(amplitude * Math.sin(step * (f * FRAME_SAMPLES + i)));
    frames.push(Buffer.from(encoder.encode(pcm)));
  }
  return frames;
}

/** The recording as it crosses the process boundary (payloads in base64). */
export interface RecordedVideoMessage {
  width: number;
  height: number;
  fps: number;
  frames: Array<Array<Omit<RecordedPacket, 'payload'> & { payload: string }>>;
}

/**
 * Records `seconds` of VP8 from libwebrtc's encoder at `width`×`height`, `fps` (a child
 * process does it; about `seconds` + 3 s).
 */
export function recordVp8(width: number, height: number, fps: number, seconds: number): Promise<RecordedVideo> {
  const child = fork(join(import.meta.dirname, '..', 'workers', 'vp8Recorder.ts'), [String(width), String(height), String(fps), String(seconds)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<RecordedVideo>((resolve, reject) => {
    let done = false;
    child.once('message', (message: RecordedVideoMessage | { error: string }) => {
      done = true;
      if ('error' in message) {
        reject(new Error(message.error));
        return;
      }
      resolve({ ...message, frames: message.frames.map((frame) => frame.map((p) => ({ ...p, payload: Buffer.from(p.payload, 'base64') }))) });
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`the VP8 recorder exited with code ${code} before it sent a recording`));
    });
  });
}
