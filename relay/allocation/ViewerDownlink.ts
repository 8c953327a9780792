/**
 * What the relay knows of one viewer's downlink — its browser's own estimate (REMB), the
 * size it renders each slot at — and the allocation that follows: each slot's layer, or a
 * pause, through `allocate`. Slots stay the relay's (it assigns them); this only sets the
 * layer each one forwards.
 */
import type { SlotView } from '../../protocol/signaling';
import type { InputStream } from '../InputStreams';
import type { VideoSlot } from '../VideoSlot';
import { allocate, type LayerOffer, type SlotDemand } from './allocate';

/**
 * Kept for the viewer's audio before any video: the mix (Opus, ≈32–40 kbit/s with RTP, SRTP,
 * UDP and IP headers) with room for RTCP. Audio goes first.
 */
export const AUDIO_RESERVE_BPS = 64_000;

export class ViewerDownlink {
  /** The browser's last REMB, bits per second; undefined until it sends one (then nothing limits the video). */
  estimateBps: number | undefined;
  private readonly views = new Map<string, { width: number; height: number }>();

  /** The sizes the viewer renders its slots at (replaces the previous ones). */
  setViews(slots: readonly SlotView[]): void {
    this.views.clear();
    for (const { mid, width, height } of slots) this.views.set(mid, { width, height });
  }

  /**
   * Allocates the viewer's downlink over its filled slots: sets each slot's target layer
   * (or pause) and returns how many changed. `layersOf` gives the streams of the source a
   * slot shows; only layers the publisher is sending now are offered.
   */
  allocate(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], nowMs: number): number {
    const shown = slots.filter((slot) => slot.publisherId !== null);
    const offers = new Map<VideoSlot, { streams: InputStream[]; layers: LayerOffer[] }>();
    const demands: SlotDemand[] = shown.map((slot) => {
      const streams = layersOf(slot).filter((s) => s.rate.bitrate(nowMs) > 0);
      const layers = streams.map((s, index) => ({ layer: index, bitrateBps: s.rate.bitrate(nowMs), width: s.width, height: s.height }));
      offers.set(slot, { streams, layers });
      const view = this.views.get(slot.mid);
      const target = slot.targetLayer;
      const current = target === 'paused' ? undefined : streams.findIndex((s) => s.layer === target);
      return {
        key: slot.mid,
        layers,
        // A slot not on screen (0 × 0) needs no more than the lowest layer.
        ...(view ? { renderedWidth: Math.max(1, view.width), renderedHeight: Math.max(1, view.height) } : {}),
        priority: slot.source === 'screen' ? 1 : 0,
        ...(current !== undefined && current >= 0 ? { current } : {}),
      };
    });
    const budget = this.estimateBps === undefined ? Infinity : Math.max(0, this.estimateBps - AUDIO_RESERVE_BPS);
    let changed = 0;
    allocate(budget, demands).forEach((result, i) => {
      const slot = shown[i]!;
      const { streams } = offers.get(slot)!;
      // A source sending nothing yet keeps its target (its first packets start it).
      if (streams.length === 0) return;
      const target = result.layer === 'paused' ? 'paused' : streams[result.layer]!.layer;
      if (slot.setTarget(target, result.reason)) changed += 1;
    });
    return changed;
  }

  /** The video the relay forwards to this viewer now: the rates of the streams its slots forward. */
  videoBps(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], nowMs: number): number {
    let total = 0;
    for (const slot of slots) {
      const layer = slot.forwardedLayer;
      if (layer === undefined || slot.targetLayer === 'paused') continue;
      total += layersOf(slot).find((s) => s.layer === layer)?.rate.bitrate(nowMs) ?? 0;
    }
    return total;
  }
}
