/**
 * The media half of a light load participant: a native DTLS-SRTP peer (node-datachannel:
 * libdatachannel, libjuice, libsrtp) whose offer has the browser's relay layout — audio
 * sendrecv, camera sendonly, then `slots` recvonly videos — that replays pre-encoded Opus
 * and VP8 (`preEncoded.ts`) and counts what it receives without decoding. Signaling is the
 * caller's: `LightClient` speaks `/ws`.
 */
import nodeDataChannel, { type PeerConnection, type Track } from 'node-datachannel';
import { isRtcp, writeRtp } from '../../relay/rtpBytes';
import type { RecordedVideo } from './preEncoded';
import { MediaClock } from './MediaClock';

const OPUS_TYPE = 111;
const VP8_TYPE = 96;
const AUDIO_FRAME_MS = 20;
const OPUS_SAMPLES_PER_FRAME = 960;
/** The shared media clock's period: a 20 ms frame leaves at most this late. */
const PUMP_MS = 5;

export interface LightPeerOptions {
  /** Names the connection in libdatachannel's logs. */
  name: string;
  /** The microphone's Opus frames (looped); null: nothing sent. */
  mic: Buffer[] | null;
  /** The camera's recorded VP8 (looped); null: nothing sent. */
  camera: RecordedVideo | null;
  /** recvonly video m-lines after the camera (the browser offers `LIMITS.relayVideoSlots`). */
  slots: number;
  /** Local address for ICE (127.0.0.1 against a server on loopback; unset: every interface). */
  bindAddress?: string;
}

/** What one peer received and sent (RTP only). */
export interface LightPeerCounters {
  audioIn: number;
  audioBytesIn: number;
  videoIn: number;
  videoBytesIn: number;
  audioOut: number;
  videoOut: number;
  /** Keyframe requests (PLI/FIR) that reached this peer's camera. */
  keyframeRequests: number;
  /** Longest time between two received audio packets since `resetGap()` (ms). */
  longestAudioGapMs: number;
}

/** One clock for every light peer in the process. */
const pump = new MediaClock<LightPeer>(PUMP_MS);

/** Whether a compound RTCP packet holds a PLI or FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1). */
function asksForKeyframe(rtcp: Buffer): boolean {
  let offset = 0;
  while (offset + 4 <= rtcp.length) {
    const fmt = rtcp[offset]! & 0x1f;
    const type = rtcp[offset + 1]!;
    if (type === 206 && (fmt === 1 || fmt === 4)) return true;
    offset += 4 * (rtcp.readUInt16BE(offset + 2) + 1);
  }
  return false;
}

/**
 * Ends libdatachannel's threads and the callbacks it holds into JavaScript: without it a
 * process that used light peers may stay alive long after they closed (a peer whose
 * connection never came up keeps its track callbacks). Call once every peer is closed
 * (end of a test file, of a load run, of a benchmark).
 */
export function releaseNativePeers(): void {
  nodeDataChannel.cleanup();
}


/**
 * Sends one packet; false when the track is not open. A connection can be up while one of its
 * tracks is not open yet (or no longer): libdatachannel then throws, and a load run of a
 * hundred peers once ended on it.
 */
function sendOnTrack(track: Track, packet: Buffer): boolean {
  if (!track.isOpen()) return false;
  try {
    return track.sendMessageBinary(packet);
  } catch {
    return false;
  }
}

export class LightPeer {
  readonly counters: LightPeerCounters = {
    audioIn: 0,
    audioBytesIn: 0,
    videoIn: 0,
    videoBytesIn: 0,
    audioOut: 0,
    videoOut: 0,
    keyframeRequests: 0,
    longestAudioGapMs: 0,
  };
  /** Each local ICE candidate, to be signalled. */
  onCandidate: (candidate: string, mid: string) => void = () => {};
  /** Each received audio packet (RTP, as delivered), for a caller that wants to decode it. */
  onAudioPacket: ((rtp: Buffer) => void) | null = null;
  /** The connection failed or closed by itself. */
  onFailed: (state: string) => void = () => {};

  private readonly pc: PeerConnection;
  /** Held so they live: a Track the script drops is destroyed, and its m-line with it. */
  private readonly tracks: Track[] = [];
  private readonly audio: Track;
  /** Whether the camera is sent (the relay turns it off when nobody has a slot for it). */
  private cameraActive = true;
  private readonly camera: Track;
  private readonly out = Buffer.alloc(1500);
  private readonly ssrc = { audio: (Math.random() * 2 ** 32) >>> 0, video: (Math.random() * 2 ** 32) >>> 0 };
  private readonly seq = { audio: (Math.random() * 65536) | 0, video: (Math.random() * 65536) | 0 };
  private readonly pendingCandidates: Array<{ candidate: string; mid: string }> = [];
  private answered = false;
  private closed = false;
  private startedAt = 0;
  private audioSent = 0;
  private framesSent = 0;
  /** Next recorded frame to send; 0 (the keyframe) after a keyframe request. */
  private frameIndex = 0;
  private lastAudioAt = 0;

  constructor(private readonly options: LightPeerOptions) {
    this.pc = new nodeDataChannel.PeerConnection(options.name, { iceServers: [], ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}) });
    const audio = new nodeDataChannel.Audio('0', 'SendRecv');
    audio.addOpusCodec(OPUS_TYPE);
    audio.addSSRC(this.ssrc.audio, options.name, 'light', 'mic');
    const camera = new nodeDataChannel.Video('1', 'SendOnly');
    camera.addVP8Codec(VP8_TYPE);
    camera.addSSRC(this.ssrc.video, options.name, 'light', 'camera');
    this.audio = this.keep(this.pc.addTrack(audio));
    this.camera = this.keep(this.pc.addTrack(camera));
    // Receiver reports, as a browser sends them.
    this.audio.setMediaHandler(new nodeDataChannel.RtcpReceivingSession());
    this.audio.onMessage((packet) => this.onAudio(packet));
    this.camera.onMessage((packet) => {
      if (isRtcp(packet) && asksForKeyframe(packet)) {
        this.counters.keyframeRequests += 1;
        this.frameIndex = 0;
      }
    });
    for (let i = 0; i < options.slots; i++) {
      const slot = new nodeDataChannel.Video(String(2 + i), 'RecvOnly');
      slot.addVP8Codec(VP8_TYPE);
      const track = this.keep(this.pc.addTrack(slot));
      track.setMediaHandler(new nodeDataChannel.RtcpReceivingSession());
      track.onMessage((packet) => {
        if (isRtcp(packet)) return;
        this.counters.videoIn += 1;
        this.counters.videoBytesIn += packet.length;
      });
    }
    this.pc.onLocalCandidate((candidate, mid) => this.onCandidate(candidate, mid));
    this.pc.onStateChange((state) => {
      if ((state === 'failed' || state === 'closed') && !this.closed) this.onFailed(state);
    });
  }

  get state(): string {
    return this.closed ? 'closed' : this.pc.state();
  }

  /** The offer (with the layout above); candidates follow through `onCandidate`. */
  offer(): Promise<string> {
    return new Promise<string>((resolve) => {
      this.pc.onLocalDescription((sdp) => resolve(sdp));
      this.pc.setLocalDescription();
    });
  }

  /** Applies the answer; media starts once ICE and DTLS are up. */
  accept(answer: string): void {
    this.pc.setRemoteDescription(answer, 'answer');
    this.answered = true;
    for (const { candidate, mid } of this.pendingCandidates.splice(0)) this.addCandidate(candidate, mid);
    pump.add(this);
  }

  /** A remote ICE candidate (queued until the answer is applied). */
  addCandidate(candidate: string, mid: string): void {
    if (this.closed || !candidate) return;
    if (!this.answered) {
      this.pendingCandidates.push({ candidate, mid });
      return;
    }
    try {
      this.pc.addRemoteCandidate(candidate, mid);
    } catch {
      // An address libjuice cannot use (e.g. IPv6 here): harmless, another one will do.
    }
  }

  /** Starts a new window for `longestAudioGapMs`. */
  resetGap(): void {
    this.counters.longestAudioGapMs = 0;
    this.lastAudioAt = 0;
  }

  /** Sends the microphone and camera frames due by `now` (the shared pump calls it). */
  pump(now: number): void {
    if (this.closed || this.pc.state() !== 'connected') return;
    if (this.startedAt === 0) this.startedAt = now;
    const elapsed = now - this.startedAt;
    const mic = this.options.mic;
    if (mic) {
      const due = Math.floor(elapsed / AUDIO_FRAME_MS);
      // A late timer catches up (bounded), so the microphone keeps real time.
      if (due - this.audioSent > 10) this.audioSent = due - 10;
      for (; this.audioSent < due; this.audioSent++) {
        const frame = mic[this.audioSent % mic.length]!;
        const packet = writeRtp(this.out, OPUS_TYPE, false, this.seq.audio++, this.audioSent * OPUS_SAMPLES_PER_FRAME, this.ssrc.audio, frame);
        if (sendOnTrack(this.audio, packet)) this.counters.audioOut += 1;
      }
    }
    const video = this.options.camera;
    if (video) {
      const due = Math.floor((elapsed * video.fps) / 1000);
      // Late frames are skipped, as a camera would; the loop restarts at its keyframe.
      if (due > this.framesSent) {
        this.framesSent = due;
        if (!this.cameraActive) return;
        if (this.frameIndex >= video.frames.length) this.frameIndex = 0;
        const frame = video.frames[this.frameIndex++]!;
        const timestamp = Math.round((due * 90_000) / video.fps);
        for (const packet of frame) {
          const rtp = writeRtp(this.out, VP8_TYPE, packet.marker, this.seq.video++, timestamp, this.ssrc.video, packet.payload);
          if (sendOnTrack(this.camera, rtp)) this.counters.videoOut += 1;
        }
      }
    }
  }

  /**
   * Stops or resumes sending the camera, as a browser does when the relay turns its layer off
   * (nobody has a slot for it); it resumes at its keyframe, as an encoder restarts.
   */
  setCameraActive(active: boolean): void {
    if (active && !this.cameraActive) this.frameIndex = 0;
    this.cameraActive = active;
  }

  /** Stops the media and closes the connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    pump.remove(this);
    for (const track of this.tracks) track.close();
    this.pc.close();
  }

  private keep(track: Track): Track {
    this.tracks.push(track);
    return track;
  }

  private onAudio(packet: Buffer): void {
    if (isRtcp(packet)) return;
    const now = performance.now();
    if (this.lastAudioAt > 0) this.counters.longestAudioGapMs = Math.max(this.counters.longestAudioGapMs, now - this.lastAudioAt);
    this.lastAudioAt = now;
    this.counters.audioIn += 1;
    this.counters.audioBytesIn += packet.length;
    this.onAudioPacket?.(packet);
  }
}
