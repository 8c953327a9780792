/**
 * Which frames of a slot's forwarded VP8 stream go out under a temporal ceiling
 * (TemporalValve): those of the layers at or below it. Decided once per frame (by its RTP
 * timestamp), on its first packet. Down at once; up one layer at a time, at a frame of that
 * layer marked layer sync (RFC 7741 §4.2's Y bit: it refers only to the base layer) or at a
 * keyframe — a frame of the new layer that referred to the frames left out could not be
 * decoded (mediasoup switches temporal layers up the same way). A stream without temporal
 * layers passes whole.
 */
import { ALL_TEMPORAL_LAYERS, type TemporalValve } from './allocation/TemporalValve';
import { isNewer } from './SlotNumbering';
import { VP8_LAYER_SYNC, VP8_TID_MASK } from './vp8';

export class TemporalThinning {
  /** The highest temporal layer forwarded now. */
  private layer = ALL_TEMPORAL_LAYERS;
  /** The RTP timestamp of the newest frame decided on (-1: none since the last reset), and whether it was left out. */
  private frameTimestamp = -1;
  private frameLeftOut = false;

  /** A new source starts (at its keyframe): nothing decided yet. */
  reset(): void {
    this.frameTimestamp = -1;
    this.frameLeftOut = false;
  }

  /**
   * Whether a packet of the stream goes out. `temporal`: its `vp8Temporal` facts (-1: none);
   * `keyframe`: it starts a keyframe; `valve`: the viewer's ceiling, read only for a new
   * frame (not per packet). Returns `'new'` when it
   * is the first packet of a frame left out (its picture ID is a gap to close), `'more'` for
   * the rest of such a frame, `'late'` for a packet of an earlier frame (a retransmission the
   * relay asked its publisher for: it goes out unless its frame was left out, which the
   * caller knows by its picture ID), `true` when it goes out.
   */
  pass(timestamp: number, temporal: number, keyframe: boolean, valve: Pick<TemporalValve, 'ceiling'>): true | 'new' | 'more' | 'late' {
    if (temporal < 0) return true;
    if (timestamp === this.frameTimestamp) return this.frameLeftOut ? 'more' : true;
    if (this.frameTimestamp >= 0 && isNewer(this.frameTimestamp, timestamp, 0x1_0000_0000)) return 'late';
    const tid = temporal & VP8_TID_MASK;
    const ceiling = valve.ceiling(performance.now());
    if (keyframe) this.layer = ceiling;
    else if (ceiling < this.layer) this.layer = ceiling;
    else if (tid === this.layer + 1 && tid <= ceiling && (temporal & VP8_LAYER_SYNC) !== 0) this.layer = tid;
    this.frameTimestamp = timestamp;
    this.frameLeftOut = tid > this.layer;
    return this.frameLeftOut ? 'new' : true;
  }
}
