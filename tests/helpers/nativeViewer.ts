/**
 * A relay viewer on node-datachannel (libdatachannel) in the test process, for what a browser
 * does not let a test do: choose the SSRC its camera is announced under, write its own
 * RTCP, and send RTP of its making on its mic. Its offer has the browser's relay layout — audio sendrecv, camera sendonly (announced,
 * nothing sent), `VIDEO_SLOTS` recvonly videos — and it counts, per slot, the RTP received and
 * the VP8 keyframes starting in it, without decoding. The relay must run in the same process
 * (node-datachannel serves one JavaScript thread): `releaseNativeRelay()` ends both, once every
 * viewer is closed.
 */
import nodeDataChannel, { type PeerConnection, type Track } from 'node-datachannel';
import { VIDEO_SLOTS, type IceCandidateInit } from '../../relay/MeetingRelay';
import { isRtcp, readRtp } from '../../relay/rtpBytes';
import type { RtpIn } from '../../relay/types';
import { isVp8KeyframeStart } from '../../relay/vp8';

const OPUS_TYPE = 111;
const VP8_TYPE = 96;

/**
 * Every viewer ever made, so none is garbage-collected: node-datachannel 0.33.4's `cleanup()`
 * closes every Track wrapper it has made, and a wrapper freed by GC is never taken off its list
 * (`~TrackWrapper` skips `instances.erase`), so cleanup would touch freed memory (SIGSEGV).
 */
const keptUntilCleanup: NativeViewer[] = [];

/** What one slot has received. */
export interface SlotReception {
  packets: number;
  /** RTP packets that start a VP8 keyframe. */
  keyframes: number;
  /** The SSRC the relay sends this slot under (undefined before the first packet). */
  ssrc: number | undefined;
  firstPacketAt: number | undefined;
  lastKeyframeAt: number | undefined;
}

/** One viewer (see the file comment). */
export class NativeViewer {
  /** Each local ICE candidate, for the test to hand to the relay. */
  onCandidate: (candidate: IceCandidateInit) => void = () => {};

  /** The SSRC its mic is announced under: its camera's plus one. */
  readonly micSsrc: number;
  private readonly pc: PeerConnection;
  private readonly mic: Track;
  /** Held so they live: a Track the script drops is destroyed, and its m-line with it. */
  private readonly tracks: Track[] = [];
  private readonly slots = new Map<string, { track: Track; reception: SlotReception }>();
  private readonly pendingCandidates: IceCandidateInit[] = [];
  private answered = false;
  private closed = false;

  constructor(name: string, readonly cameraSsrc: number) {
    keptUntilCleanup.push(this);
    this.micSsrc = (cameraSsrc + 1) >>> 0;
    // Loopback only, like the relay the tests run.
    this.pc = new nodeDataChannel.PeerConnection(name, { iceServers: [], bindAddress: '127.0.0.1' });
    const audio = new nodeDataChannel.Audio('0', 'SendRecv');
    audio.addOpusCodec(OPUS_TYPE);
    // Declared (the relay routes incoming RTP by the SSRCs an offer declares), for `sendMic`.
    audio.addSSRC(this.micSsrc, name, 'viewer', 'mic');
    this.mic = this.pc.addTrack(audio);
    this.tracks.push(this.mic);
    const camera = new nodeDataChannel.Video('1', 'SendOnly');
    camera.addVP8Codec(VP8_TYPE);
    camera.addSSRC(cameraSsrc, name, 'viewer', 'camera');
    this.tracks.push(this.pc.addTrack(camera));
    for (let i = 0; i < VIDEO_SLOTS; i++) {
      const mid = String(2 + i);
      const slot = new nodeDataChannel.Video(mid, 'RecvOnly');
      slot.addVP8Codec(VP8_TYPE);
      // No media handler: libdatachannel then sends RTCP written by the test on a receive-only track.
      const track = this.pc.addTrack(slot);
      this.tracks.push(track);
      const reception: SlotReception = { packets: 0, keyframes: 0, ssrc: undefined, firstPacketAt: undefined, lastKeyframeAt: undefined };
      const view: RtpIn = { ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 0, payload: Buffer.alloc(0), size: 0 };
      track.onMessage((message) => {
        if (isRtcp(message) || !readRtp(message, view)) return;
        const now = performance.now();
        reception.packets += 1;
        reception.ssrc = view.ssrc;
        reception.firstPacketAt ??= now;
        if (isVp8KeyframeStart(view.payload)) {
          reception.keyframes += 1;
          reception.lastKeyframeAt = now;
        }
      });
      this.slots.set(mid, { track, reception });
    }
    this.pc.onLocalCandidate((candidate, mid) => {
      if (!this.closed) this.onCandidate({ candidate, sdpMid: mid, sdpMLineIndex: 0 });
    });
  }

  /** The offer; candidates follow through `onCandidate`. */
  offer(): Promise<string> {
    return new Promise<string>((resolve) => {
      this.pc.onLocalDescription((sdp) => resolve(sdp));
      this.pc.setLocalDescription();
    });
  }

  /** Applies the relay's answer and the relay candidates that came before it. */
  accept(answer: string): void {
    this.pc.setRemoteDescription(answer, 'answer');
    this.answered = true;
    for (const candidate of this.pendingCandidates.splice(0)) this.addCandidate(candidate);
  }

  /** A relay ICE candidate (queued until the answer is applied). */
  addCandidate(candidate: IceCandidateInit): void {
    if (this.closed || !candidate.candidate) return;
    if (!this.answered) {
      this.pendingCandidates.push(candidate);
      return;
    }
    try {
      this.pc.addRemoteCandidate(candidate.candidate, candidate.sdpMid ?? '0');
    } catch {
      // An address libjuice cannot use (IPv6 while bound to 127.0.0.1): another one will do.
    }
  }

  /** What the slot `mid` has received. */
  reception(mid: string): SlotReception {
    const slot = this.slots.get(mid);
    if (!slot) throw new Error(`no slot with mid ${mid}`);
    return slot.reception;
  }

  /**
   * Asks for a keyframe on slot `mid` as Chrome does: a PLI (RFC 4585 §6.3.1) whose media SSRC
   * is the one the slot receives and whose sender SSRC is this viewer's own camera. Returns
   * whether libdatachannel sent it.
   */
  sendPli(mid: string): boolean {
    const slot = this.slots.get(mid);
    const media = slot?.reception.ssrc;
    if (!slot || media === undefined) throw new Error(`slot ${mid} has received nothing to ask a keyframe of`);
    const pli = Buffer.alloc(12);
    pli.writeUInt32BE(((2 << 30) | (1 << 24) | (206 << 16) | 2) >>> 0, 0); // V=2, FMT=1, PT=206 (PSFB), length 2
    pli.writeUInt32BE(this.cameraSsrc, 4);
    pli.writeUInt32BE(media, 8);
    return slot.track.sendMessageBinary(pli);
  }

  /**
   * Sends one Opus RTP packet on the mic (`payload` empty: a padding-only packet, as a
   * browser's estimator sends when it has no camera to probe on). Returns whether
   * libdatachannel sent it.
   */
  sendMic(sequenceNumber: number, timestamp: number, payload: Uint8Array): boolean {
    const padding = payload.length === 0 ? 4 : 0;
    const packet = Buffer.alloc(12 + payload.length + padding);
    packet[0] = padding > 0 ? 0xa0 : 0x80; // V=2, P when padded
    packet[1] = OPUS_TYPE;
    packet.writeUInt16BE(sequenceNumber & 0xffff, 2);
    packet.writeUInt32BE(timestamp >>> 0, 4);
    packet.writeUInt32BE(this.micSsrc, 8);
    packet.set(payload, 12);
    if (padding > 0) packet[packet.length - 1] = padding;
    return this.mic.sendMessageBinary(packet);
  }

  /** Closes the connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const track of this.tracks) track.close();
    this.pc.close();
  }
}
