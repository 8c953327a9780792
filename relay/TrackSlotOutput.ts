/**
 * A video slot's sending stream on node-datachannel: a local `SendOnly` video track of the
 * viewer's connection, with its own SSRC and numbering. The publisher's packets are renumbered
 * onto it (sequence numbers, timestamps and VP8 picture IDs continue across a change of
 * source or layer), so the viewer sees one steady stream per slot whichever camera it shows;
 * while the viewer's video queues at the relay, frames of the higher temporal layers are left
 * out (TemporalValve, TemporalThinning).
 */
import { randomInt } from 'node:crypto';
import type { Track } from 'node-datachannel';
import type { DownlinkDelivery } from './allocation/DownlinkDelivery';
import type { DownlinkMeter } from './allocation/DownlinkMeter';
import type { DownlinkPacer } from './allocation/DownlinkPacer';
import type { TemporalValve } from './allocation/TemporalValve';
import { RetransmitHistory } from './RetransmitHistory';
import { MAX_RTP_BYTES, TRANSPORT_CC_BYTES, UNNUMBERED, writeRtp } from './rtpBytes';
import { isNewer, SlotNumbering } from './SlotNumbering';
import { TemporalThinning } from './TemporalThinning';
import { isVp8KeyframeStart, VP8_FRAME_START, vp8Temporal } from './vp8';
import { Vp8PictureIds } from './Vp8PictureIds';
import type { RtpIn } from './types';
import { SOURCE_SWITCH_TICKS, type SlotOutput } from './VideoSlot';

/** A slot's sending stream (see the file comment). */
export class TrackSlotOutput implements SlotOutput {
  // RFC 3550 §5.1: the stream's numbering starts at random.
  private readonly numbering = new SlotNumbering(randomInt(0, 0x10000));
  private timestampOffset = 0;
  private lastTimestamp = randomInt(0, 0x1_0000_0000);
  private readonly pictureIds = new Vp8PictureIds();
  private readonly thinning = new TemporalThinning();
  private readonly history = new RetransmitHistory();

  constructor(
    private readonly peer: { readonly isConnected: boolean },
    readonly track: Pick<Track, 'isOpen' | 'sendMessageBinary'>,
    readonly ssrc: number,
    private readonly payloadType: number,
    private readonly scratch: Buffer,
    /** What the viewer's connection sends and loses (shared by its slots). */
    private readonly meter: DownlinkMeter,
    /** When the viewer's packets go out (shared by its slots). */
    private readonly pacer: DownlinkPacer,
    /** The viewer's transport-wide feedback: each packet is numbered there as it leaves, when the viewer negotiated the extension (its ID). */
    private readonly delivery: DownlinkDelivery,
    /** How many temporal layers the viewer gets now (shared by its slots). */
    private readonly valve: Pick<TemporalValve, 'ceiling' | 'leftOut'>,
    private readonly transportCcId?: number,
  ) {}

  /** RTP header and extension bytes around a payload. */
  private get overhead(): number {
    return 12 + (this.transportCcId === undefined ? 0 : TRANSPORT_CC_BYTES);
  }

  get connected(): boolean {
    return this.peer.isConnected && this.track.isOpen();
  }

  send(packet: RtpIn, rebase: boolean): number {
    const size = packet.payload.length + this.overhead;
    if (size > MAX_RTP_BYTES) return 0;
    if (rebase) {
      this.numbering.rebase(packet.sequenceNumber);
      this.pictureIds.rebase();
      this.thinning.reset();
      this.timestampOffset = (this.lastTimestamp + SOURCE_SWITCH_TICKS - packet.timestamp) >>> 0;
    }
    // A frame of a temporal layer above the viewer's ceiling is left out: its sequence numbers
    // and picture ID are gaps the next packets close (the viewer would NACK them, or wait).
    const temporal = vp8Temporal(packet.payload);
    if (temporal >= 0) {
      const keyframe = (temporal & VP8_FRAME_START) !== 0 && isVp8KeyframeStart(packet.payload);
      const passed = this.thinning.pass(packet.timestamp, temporal, keyframe, this.valve);
      if (passed !== true && (passed !== 'late' || this.pictureIds.wasDropped(packet.payload))) {
        if (passed === 'new') {
          this.pictureIds.drop(packet.payload);
          this.valve.leftOut();
        }
        this.numbering.skip(packet.sequenceNumber);
        return 0;
      }
    }
    const seq = this.numbering.map(packet.sequenceNumber);
    const timestamp = (packet.timestamp + this.timestampOffset) >>> 0;
    if (isNewer(timestamp, this.lastTimestamp, 0x1_0000_0000)) this.lastTimestamp = timestamp;
    const payload = packet.payload;
    const marker = packet.marker;
    const idShift = this.pictureIds.map(payload);
    if (this.pacer.admit(size)) this.transmit(seq, timestamp, marker, payload, idShift);
    else this.pacer.queue(size, 'media', () => this.transmit(seq, timestamp, marker, payload, idShift));
    return size;
  }

  resend(lost: readonly number[]): void {
    this.history.answer(
      lost,
      performance.now(),
      (seq, timestamp, marker, payload, idShift) => {
        const size = payload.length + this.overhead;
        this.pacer.send(size, 'resend', () => {
          const sent = this.write(seq, timestamp, marker, payload, idShift, performance.now());
          if (sent > 0) this.meter.sent(sent, false, performance.now());
        });
        return size;
      },
      (sentAtMs) => this.meter.lost(sentAtMs),
    );
  }

  skip(packet: RtpIn): void {
    this.numbering.skip(packet.sequenceNumber);
  }

  /** Sends a packet of the stream at its turn (see DownlinkPacer) and remembers it for NACKs. */
  private transmit(seq: number, timestamp: number, marker: boolean, payload: Buffer, idShift: number): void {
    const now = performance.now();
    const size = this.write(seq, timestamp, marker, payload, idShift, now);
    if (size === 0) return;
    this.history.remember(seq, timestamp, marker, payload, idShift, size, now);
    this.meter.sent(size, true, now);
    // A probe of the viewer's link: the same packet again, paced like the rest (see DownlinkMeter).
    // Not numbered for transport-wide feedback: the browser drops the copy as a replay before it records an arrival (DownlinkDelivery).
    for (let copies = this.meter.duplicates(size); copies > 0; copies -= 1) {
      this.pacer.send(size, 'media', () => {
        if (this.write(seq, timestamp, marker, payload, idShift, performance.now(), false) > 0) this.meter.sent(size, false, performance.now());
      });
    }
  }

  /** Writes and sends one packet of this stream (`idShift`: its VP8 picture IDs' shift; `numbered`: with a transport-wide sequence number, the same size without); returns its RTP size, 0 when not sent. */
  private write(seq: number, timestamp: number, marker: boolean, payload: Buffer, idShift: number, nowMs: number, numbered = true): number {
    const transportCcId = this.transportCcId;
    const transportSequence = transportCcId === undefined ? 0 : numbered ? this.delivery.stamp(payload.length + this.overhead, nowMs) : UNNUMBERED;
    const out = writeRtp(this.scratch, this.payloadType, marker, seq, timestamp, this.ssrc, payload, transportCcId, transportSequence);
    Vp8PictureIds.write(out, out.length - payload.length, idShift);
    // libdatachannel copies the packet (into SRTP): the scratch is free again.
    return this.track.sendMessageBinary(out) ? out.length : 0;
  }
}

