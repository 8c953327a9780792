/**
 * A headless relay-mode client on libwebrtc (@roamhq/wrtc), shaped like the browser client:
 * its offer carries one sendrecv audio transceiver (a sine as the mic), one sendonly camera
 * (solid frames of the client's own luma, so a viewer can tell whose video it decodes), with
 * `screenLuma` a second sendonly video (its shared screen, another luma), and `slots`
 * recvonly video transceivers whose decoded frames it counts and measures.
 */
import wrtc, { type RTCAudioSink, type RTCAudioSource, type RTCVideoSink, type RTCVideoSource } from '@roamhq/wrtc';
import type { IceCandidateInit, SlotAssignment, VideoSource } from '../../relay/MeetingRelay';
import { VIDEO_SLOTS } from '../../relay/MeetingRelay';

/** How a test client looks and sounds. */
export interface WrtcClientOptions {
  /** Luma (Y) of every pixel this client's camera sends, 16–235. */
  luma: number;
  /** Luma of a shared screen sent on a second video m-line; no screen m-line when absent. */
  screenLuma?: number;
  slots?: number;
  width?: number;
  height?: number;
  fps?: number;
  toneHz?: number;
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

const SAMPLE_RATE = 48_000;
const CHUNK_SAMPLES = SAMPLE_RATE / 100; // wrtc's RTCAudioSource takes exactly 10 ms per call

/** One headless participant. */
export class WrtcClient {
  readonly pc: RTCPeerConnection;
  /** The slot table the relay last sent, and every table it ever sent. */
  slotTable: SlotAssignment[] = [];
  readonly slotHistory: SlotAssignment[][] = [];
  /** 10 ms chunks of received audio whose RMS shows a signal. */
  audibleChunks = 0;
  /** Candidates gathered locally go here (the test forwards them to the relay). */
  onCandidate: (candidate: IceCandidateInit) => void = () => {};

  private readonly options: Required<Omit<WrtcClientOptions, 'screenLuma'>> & Pick<WrtcClientOptions, 'screenLuma'>;
  private readonly videoSource: RTCVideoSource;
  private readonly screenSource: RTCVideoSource | undefined;
  private readonly screenTrack: MediaStreamTrack | undefined;
  private readonly audioSource: RTCAudioSource;
  private readonly videoTrack: MediaStreamTrack;
  private readonly audioTrack: MediaStreamTrack;
  private readonly sinks: Array<RTCVideoSink | RTCAudioSink> = [];
  private readonly views = new Map<string, SlotView>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pendingCandidates: IceCandidateInit[] = [];
  private answered = false;
  private closed = false;
  private gatheringDone: Promise<void>;

  constructor(options: WrtcClientOptions) {
    this.options = { slots: VIDEO_SLOTS, width: 160, height: 120, fps: 15, toneHz: 440, ...options };
    this.pc = new wrtc.RTCPeerConnection({ iceServers: [] });
    this.videoSource = new wrtc.nonstandard.RTCVideoSource();
    this.audioSource = new wrtc.nonstandard.RTCAudioSource();
    this.videoTrack = this.videoSource.createTrack();
    this.audioTrack = this.audioSource.createTrack();
    if (options.screenLuma !== undefined) {
      this.screenSource = new wrtc.nonstandard.RTCVideoSource();
      this.screenTrack = this.screenSource.createTrack();
    }
    this.gatheringDone = new Promise((resolve) => {
      this.pc.onicecandidate = (event) => {
        if (!event.candidate) {
          resolve();
          return;
        }
        const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
        this.onCandidate({ candidate, sdpMid, sdpMLineIndex });
      };
    });
  }

  /** Adds the relay-mode transceivers, starts the camera and mic, returns the offer SDP (no candidates in it). */
  async createOffer(): Promise<string> {
    const audio = this.pc.addTransceiver(this.audioTrack, { direction: 'sendrecv' });
    this.pc.addTransceiver(this.videoTrack, { direction: 'sendonly' });
    if (this.screenTrack) this.pc.addTransceiver(this.screenTrack, { direction: 'sendonly' });
    const slots = Array.from({ length: this.options.slots }, () =>
      this.pc.addTransceiver('video', { direction: 'recvonly' }),
    );
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    for (const slot of slots) this.watchSlot(slot);
    this.listen(audio.receiver.track);
    this.startCamera();
    this.startMic();
    return offer.sdp ?? '';
  }

  /** A fresh offer on the same transceivers (renegotiation). */
  async renegotiate(): Promise<string> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return offer.sdp ?? '';
  }

  /** Applies the relay's answer and any candidate that arrived before it. */
  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.answered = true;
    for (const candidate of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(candidate);
  }

  /** Adds a relay candidate; a browser rejects candidates before the answer, so queue those. */
  async addCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.closed) return;
    if (!this.answered) this.pendingCandidates.push(candidate);
    else await this.pc.addIceCandidate(candidate);
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

  /** Decoded frames, over all slots, whose luma is within `tolerance` of `luma`. */
  framesWithLuma(luma: number, tolerance: number): number {
    let total = 0;
    for (const view of this.views.values()) {
      for (const [bucket, count] of view.lumaHistogram) if (Math.abs(bucket - luma) <= tolerance) total += count;
    }
    return total;
  }

  /** Stops media and closes the connection; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const sink of this.sinks) sink.stop();
    this.videoTrack.stop();
    this.screenTrack?.stop();
    this.audioTrack.stop();
    this.pc.close();
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
      for (const sample of samples) sum += sample * sample;
      if (Math.sqrt(sum / Math.max(1, samples.length)) > 500) this.audibleChunks += 1;
    };
    this.sinks.push(sink);
  }

  private startCamera(): void {
    this.startVideo(this.videoSource, this.options.luma);
    if (this.screenSource && this.options.screenLuma !== undefined) this.startVideo(this.screenSource, this.options.screenLuma);
  }

  private startVideo(source: RTCVideoSource, luma: number): void {
    const { width, height, fps } = this.options;
    const data = new Uint8Array(width * height * 1.5);
    data.fill(luma, 0, width * height);
    data.fill(128, width * height); // neutral chroma
    const frame = { width, height, data };
    source.onFrame(frame);
    this.timers.push(setInterval(() => source.onFrame(frame), 1000 / fps));
  }

  /** Pushes a sine in 10 ms chunks, catching up on late timers so the mic clock stays real-time. */
  private startMic(): void {
    const { toneHz } = this.options;
    const startedAt = performance.now();
    let sent = 0;
    let phase = 0;
    const step = (2 * Math.PI * toneHz) / SAMPLE_RATE;
    this.timers.push(
      setInterval(() => {
        const due = Math.floor((performance.now() - startedAt) / 10);
        for (; sent < due; sent++) {
          const samples = new Int16Array(CHUNK_SAMPLES);
          for (let i = 0; i < CHUNK_SAMPLES; i++, phase += step) samples[i] = Math.round(8000 * Math.sin(phase));
          this.audioSource.onData({ samples, sampleRate: SAMPLE_RATE });
        }
      }, 10),
    );
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
