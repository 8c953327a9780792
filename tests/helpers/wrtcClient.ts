/**
 * The one headless relay-mode participant on libwebrtc (@roamhq/wrtc), shaped like the
 * browser client, for the tests (driving a `MeetingRelay` directly or over `/ws`) and for the
 * benchmarks that decode what they receive (`bench/harness/LoadClient.ts` puts our signaling around
 * it). Its offer carries one sendrecv audio transceiver (a sine, or silence, as the mic), one
 * sendonly camera, with `screenLuma` a second sendonly video (its shared screen), and `slots`
 * recvonly video transceivers whose decoded frames it counts and measures.
 *
 * Pictures: `solid` frames of the client's own luma, so a viewer can tell whose video it
 * decodes, or a `moving` textured picture so the encoder has motion to code (load). One
 * shared 10 ms clock feeds every client's mic and camera in the process (N timers would cost
 * more than the media).
 */
import wrtc, { type RTCAudioSink, type RTCAudioSource, type RTCVideoSink, type RTCVideoSource } from '@roamhq/wrtc';
import { cameraFrames } from '../../bench/harness/cameraFrames';
import type { IceCandidateInit, SlotAssignment, VideoSource } from '../../relay/MeetingRelay';
import { VIDEO_SLOTS } from '../../relay/MeetingRelay';
import { MediaClock } from '../../bench/harness/MediaClock';

/** How a client looks and sounds. */
export interface WrtcClientOptions {
  /** Luma (Y) of the camera picture, 16–235 (tells publishers apart). */
  luma: number;
  /** Luma of a shared screen sent on a second video m-line; no screen m-line when absent. */
  screenLuma?: number;
  slots?: number;
  width?: number;
  height?: number;
  fps?: number;
  toneHz?: number;
  /** The mic sends a sine (default), digital silence, or nothing (no track; the m-line stays). */
  mic?: 'tone' | 'silence' | 'off';
  /** Whether the camera sends (default true); without, its m-line stays, without a track. */
  camera?: boolean;
  /** `solid` (default) or `moving` (see the file comment). */
  picture?: 'solid' | 'moving';
  /** How many slots get a frame sink (decoded frames measured); default all. */
  watchedSlots?: number;
  /** Count audible 10 ms chunks of the received mix (default true). */
  listenAudio?: boolean;
}

/** What one slot (by mid) has shown this client so far. */
export interface SlotView {
  frames: number;
  /** Mean luma of the last decoded frame. */
  lastLuma: number | undefined;
  firstFrameAt: number | undefined;
  /** Decoded frames per luma rounded to a multiple of 5. */
  lumaHistogram: Map<number, number>;
}

/** How the client applies the relay's answer (the relay never sees the change). */
export interface AnswerChange {
  /**
   * Slots become inactive: libwebrtc creates no receive stream for them and drops the RTP the
   * relay sends there instead of decoding it (the relay forwards exactly as to a browser).
   */
  dropSlotVideo?: boolean;
  /** `b=AS` on the camera's m-section caps what libwebrtc sends (wrtc's `setParameters` rejects a maxBitrate change). */
  cameraMaxKbps?: number;
}

/** RTP totals of one client, from getStats (bytes are payload, as the stats define them). */
export interface RtpTotals {
  audioIn: {
    packets: number;
    bytes: number;
    headerBytes: number;
    /** Playout: samples played, of which concealed (lost or late: what a listener hears as a glitch). */
    totalSamples: number;
    concealedSamples: number;
    /** Jitter buffer: summed delay (s) over emitted samples. */
    jitterBufferDelayS: number;
    jitterBufferEmitted: number;
  };
  audioOut: { packets: number; bytes: number; headerBytes: number };
  videoIn: { packets: number; bytes: number; framesDecoded: number; streams: number };
  videoOut: { packets: number; bytes: number; framesEncoded: number };
}

const SAMPLE_RATE = 48_000;
const CHUNK_SAMPLES = SAMPLE_RATE / 100; // wrtc's RTCAudioSource takes exactly 10 ms per call
const PUMP_MS = 10;

/** One 10 ms clock feeding every client's sources. */
const pump = new MediaClock<WrtcClient>(PUMP_MS);

/** A second of a sine as 100 chunks of 10 ms (loops seamlessly for an integer frequency). */
function toneChunks(hz: number, amplitude: number): Int16Array[] {
  const step = (2 * Math.PI * Math.round(hz)) / SAMPLE_RATE;
  return Array.from({ length: 100 }, (_, c) => Int16Array.from({ length: CHUNK_SAMPLES }, (_, i) => Math.round(amplitude * Math.sin(step * (c * CHUNK_SAMPLES + i)))));
}

type Frame = { width: number; height: number; data: Uint8Array };

function solidFrame(width: number, height: number, luma: number): Frame {
  const data = new Uint8Array(width * height * 1.5);
  data.fill(luma, 0, width * height);
  data.fill(128, width * height); // neutral chroma
  return { width, height, data };
}

/** One headless participant. */
// @roamhq/wrtc's finalizers crash the process (SIGABRT/SIGSEGV: "Cannot create a handle
// without a HandleScope") when Node's own teardown runs them, even after every connection and
// track is closed; a full GC beforehand does not prevent it. So a file that uses this client
// exits as soon as its event loop is empty (uvu has printed its summary and set exitCode),
// skipping that teardown. A leaked socket or timer still keeps the loop alive, so exit-watch
// still names it.
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

export class WrtcClient {
  readonly pc: RTCPeerConnection;
  /** The slot table the relay last sent, and every table it ever sent. */
  slotTable: SlotAssignment[] = [];
  readonly slotHistory: SlotAssignment[][] = [];
  /** 10 ms chunks of received audio whose RMS shows a signal. */
  audibleChunks = 0;
  /** Candidates gathered locally go here (whoever drives the client forwards them to the relay). */
  onCandidate: (candidate: IceCandidateInit) => void = () => {};

  private readonly options: Required<Omit<WrtcClientOptions, 'screenLuma'>> & Pick<WrtcClientOptions, 'screenLuma'>;
  private readonly audioSource: RTCAudioSource | undefined;
  private readonly videoSource: RTCVideoSource | undefined;
  private readonly screenSource: RTCVideoSource | undefined;
  private readonly tracks: MediaStreamTrack[] = [];
  private readonly sinks: Array<RTCVideoSink | RTCAudioSink> = [];
  private readonly views = new Map<string, SlotView>();
  private readonly pendingCandidates: IceCandidateInit[] = [];
  private readonly tone: Int16Array[];
  private readonly pictures: Frame[];
  private readonly screenPicture: Frame | undefined;
  private cameraMid: string | null = null;
  private slotMids: Array<string | null> = [];
  private answered = false;
  private closed = false;
  private cameraOn = true;
  private startedAt = 0;
  private chunksSent = 0;
  private nextFrame = 0;
  private readonly gatheringDone: Promise<void>;

  constructor(options: WrtcClientOptions) {
    this.options = {
      slots: VIDEO_SLOTS, width: 160, height: 120, fps: 15, toneHz: 440, mic: 'tone', camera: true, picture: 'solid',
      watchedSlots: options.slots ?? VIDEO_SLOTS, listenAudio: true, ...options,
    };
    const o = this.options;
    this.pc = new wrtc.RTCPeerConnection({ iceServers: [] });
    if (o.mic !== 'off') this.audioSource = new wrtc.nonstandard.RTCAudioSource();
    if (o.camera) this.videoSource = new wrtc.nonstandard.RTCVideoSource();
    if (o.screenLuma !== undefined) this.screenSource = new wrtc.nonstandard.RTCVideoSource();
    this.tone = o.mic === 'tone' ? toneChunks(o.toneHz, 8000) : [new Int16Array(CHUNK_SAMPLES)];
    this.pictures = !o.camera ? [] : o.picture === 'moving' ? cameraFrames(o.width, o.height, o.luma, 16) : [solidFrame(o.width, o.height, o.luma)];
    this.screenPicture = o.screenLuma === undefined ? undefined : solidFrame(o.width, o.height, o.screenLuma);
    this.gatheringDone = new Promise((resolve) => {
      this.pc.onicecandidate = (event) => {
        if (!event.candidate) {
          resolve();
          return;
        }
        const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
        if (candidate && !this.closed) this.onCandidate({ candidate, sdpMid, sdpMLineIndex });
      };
    });
  }

  /** Adds the relay-mode transceivers, starts the camera and mic, returns the offer SDP (no candidates in it). */
  async createOffer(): Promise<string> {
    const track = (source: RTCAudioSource | RTCVideoSource | undefined) => {
      const t = source?.createTrack();
      if (t) this.tracks.push(t);
      return t;
    };
    const audio = this.pc.addTransceiver(track(this.audioSource) ?? 'audio', { direction: 'sendrecv' });
    const camera = this.pc.addTransceiver(track(this.videoSource) ?? 'video', { direction: 'sendonly' });
    if (this.screenSource) this.pc.addTransceiver(track(this.screenSource)!, { direction: 'sendonly' });
    const slots = Array.from({ length: this.options.slots }, () => this.pc.addTransceiver('video', { direction: 'recvonly' }));
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.cameraMid = camera.mid;
    this.slotMids = slots.map((slot) => slot.mid);
    for (const slot of slots.slice(0, this.options.watchedSlots)) this.watchSlot(slot);
    if (this.options.listenAudio) this.listen(audio.receiver.track);
    pump.add(this);
    return offer.sdp ?? '';
  }

  /** A fresh offer on the same transceivers (renegotiation). */
  async renegotiate(): Promise<string> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return offer.sdp ?? '';
  }

  /** Applies the relay's answer (changed as asked) and any candidate that arrived before it. */
  async acceptAnswer(sdp: string, change: AnswerChange = {}): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: this.changedAnswer(sdp, change) });
    this.answered = true;
    for (const candidate of this.pendingCandidates.splice(0)) await this.applyCandidate(candidate);
  }

  /** Adds a relay candidate; a browser rejects candidates before the answer, so queue those. */
  async addCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.closed) return;
    if (!this.answered) this.pendingCandidates.push(candidate);
    else await this.applyCandidate(candidate);
  }

  /** Resolves when local ICE gathering has finished. */
  iceGatheringComplete(): Promise<void> {
    return this.gatheringDone;
  }

  /** Records the relay's slot table for this client. */
  setSlots(table: SlotAssignment[]): void {
    this.slotTable = table;
    this.slotHistory.push(table);
  }

  /** The mid currently carrying `participantId`'s camera (or screen), per the relay's slot table. */
  midOf(participantId: string, source: VideoSource = 'camera'): string | undefined {
    return this.slotTable.find((slot) => slot.participantId === participantId && slot.source === source)?.mid;
  }

  /** What the slot `mid` has shown (zeros when nothing yet). */
  view(mid: string): SlotView {
    return this.views.get(mid) ?? { frames: 0, lastLuma: undefined, firstFrameAt: undefined, lumaHistogram: new Map() };
  }

  /** Decoded frames over every watched slot. */
  get framesSeen(): number {
    let total = 0;
    for (const view of this.views.values()) total += view.frames;
    return total;
  }

  /** Decoded frames, over all slots, whose luma is within `tolerance` of `luma`. */
  framesWithLuma(luma: number, tolerance: number): number {
    let total = 0;
    for (const view of this.views.values()) {
      for (const [bucket, count] of view.lumaHistogram) if (Math.abs(bucket - luma) <= tolerance) total += count;
    }
    return total;
  }

  /** Camera frames flow (true) or stop (false), as the browser's toggle does with `replaceTrack`. */
  setCamera(on: boolean): void {
    this.cameraOn = on;
  }

  /** RTP totals from getStats. */
  async rtpTotals(): Promise<RtpTotals> {
    const totals: RtpTotals = {
      audioIn: { packets: 0, bytes: 0, headerBytes: 0, totalSamples: 0, concealedSamples: 0, jitterBufferDelayS: 0, jitterBufferEmitted: 0 },
      audioOut: { packets: 0, bytes: 0, headerBytes: 0 },
      videoIn: { packets: 0, bytes: 0, framesDecoded: 0, streams: 0 },
      videoOut: { packets: 0, bytes: 0, framesEncoded: 0 },
    };
    if (this.closed) return totals;
    const report = await this.pc.getStats();
    report.forEach((s: Record<string, unknown>) => {
      const kind = (s.kind ?? s.mediaType) as string | undefined;
      const n = (key: string) => (typeof s[key] === 'number' ? (s[key] as number) : 0);
      if (s.type === 'inbound-rtp' && kind === 'audio') {
        totals.audioIn.packets += n('packetsReceived');
        totals.audioIn.bytes += n('bytesReceived');
        totals.audioIn.headerBytes += n('headerBytesReceived');
        totals.audioIn.totalSamples += n('totalSamplesReceived');
        totals.audioIn.concealedSamples += n('concealedSamples');
        totals.audioIn.jitterBufferDelayS += n('jitterBufferDelay');
        totals.audioIn.jitterBufferEmitted += n('jitterBufferEmittedCount');
      } else if (s.type === 'outbound-rtp' && kind === 'audio') {
        totals.audioOut.packets += n('packetsSent');
        totals.audioOut.bytes += n('bytesSent');
        totals.audioOut.headerBytes += n('headerBytesSent');
      } else if (s.type === 'inbound-rtp' && kind === 'video') {
        totals.videoIn.packets += n('packetsReceived');
        totals.videoIn.bytes += n('bytesReceived');
        totals.videoIn.framesDecoded += n('framesDecoded');
        totals.videoIn.streams += 1;
      } else if (s.type === 'outbound-rtp' && kind === 'video') {
        totals.videoOut.packets += n('packetsSent');
        totals.videoOut.bytes += n('bytesSent');
        totals.videoOut.framesEncoded += n('framesEncoded');
      }
    });
    return totals;
  }

  /** Pushes the mic chunks and camera frames due by `now` (the pump's clock); late timers catch up (bounded). */
  pump(now: number): void {
    if (this.closed) return;
    if (this.startedAt === 0) this.startedAt = now;
    const elapsed = now - this.startedAt;
    if (this.audioSource) {
      const due = Math.floor(elapsed / 10);
      if (due - this.chunksSent > 20) this.chunksSent = due - 20;
      for (; this.chunksSent < due; this.chunksSent++) {
        this.audioSource.onData({ samples: this.tone[this.chunksSent % this.tone.length]!, sampleRate: SAMPLE_RATE });
      }
    }
    const due = Math.floor((elapsed * this.options.fps) / 1000);
    // Late frames are dropped, as a camera would.
    if (due >= this.nextFrame) {
      this.nextFrame = due + 1;
      if (this.videoSource && this.cameraOn) this.videoSource.onFrame(this.pictures[due % this.pictures.length]!);
      if (this.screenSource && this.screenPicture) this.screenSource.onFrame(this.screenPicture);
    }
  }

  /** Stops media and closes the connection; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    pump.remove(this);
    for (const sink of this.sinks) sink.stop();
    for (const track of this.tracks) track.stop();
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }

  private async applyCandidate(candidate: IceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null });
    } catch {
      // A candidate for a transport libwebrtc bundled away: harmless.
    }
  }

  private changedAnswer(sdp: string, change: AnswerChange): string {
    const inactive = new Set(change.dropSlotVideo ? this.slotMids.filter((m): m is string => m !== null) : []);
    const cap = change.cameraMaxKbps;
    const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
    return sdp
      .split(/(?=^m=)/m)
      .map((section) => {
        const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
        if (mid !== undefined && inactive.has(mid)) {
          return section.replace(/^a=(sendrecv|sendonly|recvonly)(?=\r?$)/m, 'a=inactive').replace(/^a=ssrc(-group)?:[^\n]*\n/gm, '');
        }
        if (mid !== undefined && mid === this.cameraMid && cap !== undefined) {
          return section.replace(/^b=AS:[^\n]*\n/m, '').replace(/^(c=[^\r\n]*)/m, `$1${eol}b=AS:${cap}`);
        }
        return section;
      })
      .join('');
  }

  private watchSlot(transceiver: RTCRtpTransceiver): void {
    const mid = transceiver.mid;
    if (mid === null) throw new Error('slot transceiver has no mid after setLocalDescription');
    const view: SlotView = { frames: 0, lastLuma: undefined, firstFrameAt: undefined, lumaHistogram: new Map() };
    this.views.set(mid, view);
    const sink = new wrtc.nonstandard.RTCVideoSink(transceiver.receiver.track);
    sink.onframe = ({ frame }) => {
      const luma = meanLuma(frame.data, frame.width, frame.height);
      view.frames += 1;
      view.lastLuma = luma;
      view.firstFrameAt ??= performance.now();
      const bucket = Math.round(luma / 5) * 5;
      view.lumaHistogram.set(bucket, (view.lumaHistogram.get(bucket) ?? 0) + 1);
    };
    this.sinks.push(sink);
  }

  private listen(track: MediaStreamTrack): void {
    const sink = new wrtc.nonstandard.RTCAudioSink(track);
    sink.ondata = ({ samples }) => {
      let sum = 0;
      for (let i = 0; i < samples.length; i += 4) sum += samples[i]! * samples[i]!;
      if (Math.sqrt(sum / Math.max(1, samples.length / 4)) > 500) this.audibleChunks += 1;
    };
    this.sinks.push(sink);
  }
}

/** Mean of the Y plane, sampled on a sparse grid (plenty for a solid frame). */
function meanLuma(data: Uint8Array, width: number, height: number): number {
  let sum = 0;
  let count = 0;
  for (let y = 2; y < height; y += 8) {
    for (let x = 2; x < width; x += 8) {
      sum += data[y * width + x] ?? 0;
      count += 1;
    }
  }
  return count ? sum / count : 0;
}
