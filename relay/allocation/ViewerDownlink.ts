/**
 * What the relay knows of one viewer's downlink — its browser's own estimate (REMB), the
 * size it renders each slot at — and the allocation that follows: each slot's layer, or a
 * pause, through `allocate`. Slots stay the relay's (it assigns them); this only sets the
 * layer each one forwards.
 *
 * A receive-side estimate only ever grows to about 1.5× what arrives (libwebrtc's AIMD), so
 * it says "the link carries at least this", not "at most": taken as a budget from the start
 * it would pin a viewer to whatever it first received. So the viewer starts `free` (no
 * budget but its tiles) and becomes `limited` when the estimate falls below what the relay
 * sends (the browser saw its queue grow: overuse) while the viewer loses packets: a busy
 * CPU delays packets too, and an estimate also falls with what arrives after a pause, with
 * no link full; loss is what tells a full queue. While limited it probes upwards one step
 * at a time whenever the estimate stays clear of what it gets and nothing is lost; once it
 * gets everything its tiles need it is free again.
 *
 * The REMB estimates the streams that carry abs-send-time: the relay's video (the mix does
 * not carry it). It is what video may take with the audio already on the link, so audio
 * goes first without a reserve taken out of it; video takes a share.
 */
import type { SlotView } from '../../protocol/signaling';
import type { InputStream } from '../InputStreams';
import type { VideoSlot } from '../VideoSlot';
import { allocate, type LayerOffer, type SlotDemand } from './allocate';

/** The browser's first estimates ramp up from its initial guess: they are not read as overuse. */
export const ESTIMATE_SETTLE_MS = 5000;
/** An estimate this far below what the relay sends, with loss, means the link is full. */
const OVERUSE_RATIO = 0.9;
/** Loss (the worst of a viewer's streams over the last `LOSS_WINDOW_MS`) that shows a full queue. */
const LOSS_THRESHOLD = 0.03;
const LOSS_WINDOW_MS = 2000;
/** A layer is offered once it has arrived steadily this long. */
const STEADY_LAYER_MS = 2000;
/**
 * While limited, video gets this share of the estimate: the rest is room for keyframes (a
 * switch, a resume or a viewer's request send one, several times a frame's size) and
 * retransmissions, which a drop-tail queue at the estimate would drop.
 */
const VIDEO_SHARE_LIMITED = 0.9;
/** A limited viewer is given one more step while its estimate clears what it gets by this much. */
const PROBE_RATIO = 1.05;
/** …and no sooner than this after the previous change (the estimate needs time to follow). */
const PROBE_INTERVAL_MS = 2000;

export type DownlinkState = 'free' | 'limited';

export class ViewerDownlink {
  /** The browser's last REMB, bits per second; undefined until it sends one. */
  private estimate: number | undefined;
  private firstEstimateAt: number | undefined;
  private state: DownlinkState = 'free';
  private lastChangeAt = -Infinity;
  private worstLoss = 0;
  private worstLossAt = -Infinity;
  private readonly views = new Map<string, { width: number; height: number }>();

  /** The browser's last REMB, bits per second, if it sent one. */
  get estimateBps(): number | undefined {
    return this.estimate;
  }

  /** Whether the viewer's downlink limits what it gets now. */
  get downlinkState(): DownlinkState {
    return this.state;
  }

  /** A receiver report of the viewer's: the fraction of one forwarded stream it lost. */
  setLoss(fractionLost: number, nowMs: number): void {
    if (fractionLost >= this.recentLoss(nowMs)) {
      this.worstLoss = fractionLost;
      this.worstLossAt = nowMs;
    }
  }

  /** The worst loss the viewer reported in the last `LOSS_WINDOW_MS`. */
  private recentLoss(nowMs: number): number {
    return nowMs - this.worstLossAt <= LOSS_WINDOW_MS ? this.worstLoss : 0;
  }

  /** A new REMB from the viewer's browser. */
  setEstimate(bps: number, nowMs: number): void {
    this.estimate = bps;
    this.firstEstimateAt ??= nowMs;
  }

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
      // The layers that have been arriving steadily; the one forwarded now counts while it arrives at all.
      const streams = layersOf(slot).filter((s) => s.steadyFor(STEADY_LAYER_MS, nowMs) || (s.layer === slot.forwardedLayer && s.rate.bitrate(nowMs) > 0));
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
    const budget = this.budget(slots, layersOf, nowMs);
    let changed = 0;
    allocate(budget, demands).forEach((result, i) => {
      const slot = shown[i]!;
      const { streams } = offers.get(slot)!;
      // A source sending nothing yet keeps its target (its first packets start it).
      if (streams.length === 0) return;
      const target = result.layer === 'paused' ? 'paused' : streams[result.layer]!.layer;
      if (slot.setTarget(target, result.reason)) changed += 1;
    });
    if (changed > 0) this.lastChangeAt = nowMs;
    // Everything the tiles need arrives with room to spare: nothing limits this viewer now.
    if (this.state === 'limited' && changed === 0 && budget === Infinity) this.state = 'free';
    return changed;
  }

  /**
   * The video budget now: none while free (or before a settled estimate). While limited: the
   * estimate (minus audio) on overuse; what the viewer gets while the estimate neither falls
   * below it nor stays clear of it; one probing step more when it has stayed clear since the
   * last change.
   */
  private budget(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], nowMs: number): number {
    const estimate = this.estimate;
    if (estimate === undefined || this.firstEstimateAt === undefined || nowMs - this.firstEstimateAt < ESTIMATE_SETTLE_MS) return Infinity;
    const sent = this.videoBps(slots, layersOf, nowMs);
    const lossy = this.recentLoss(nowMs) >= LOSS_THRESHOLD;
    const overuse = estimate < sent * OVERUSE_RATIO && lossy;
    if (this.state === 'free') {
      if (!overuse) return Infinity;
      this.state = 'limited';
    }
    // Overuse: what is sent no longer fits; the estimate is the budget (lower layers, pauses).
    if (overuse) return estimate * VIDEO_SHARE_LIMITED;
    const clear = !lossy && estimate >= sent * PROBE_RATIO && nowMs - this.lastChangeAt >= PROBE_INTERVAL_MS;
    // Neither overuse nor room to try more: hold what the viewer gets.
    if (!clear) return Math.max(estimate * VIDEO_SHARE_LIMITED, sent);
    // Probe: room for the cheapest next step (a paused slot's lowest layer, or one layer up).
    const step = cheapestStep(slots, layersOf, nowMs);
    if (step === undefined) {
      // Nothing left to raise: every slot has what its tile needs.
      this.state = 'free';
      return Infinity;
    }
    return Math.max(estimate * VIDEO_SHARE_LIMITED, sent + step * 1.2);
  }

  /** The video allocated to this viewer now: the rates of the layers its slots forward (or are switching to, a keyframe away). */
  videoBps(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], nowMs: number): number {
    let total = 0;
    for (const slot of slots) {
      const layer = slot.targetLayer;
      if (slot.publisherId === null || layer === 'paused') continue;
      total += layersOf(slot).find((s) => s.layer === layer)?.rate.bitrate(nowMs) ?? 0;
    }
    return total;
  }
}

/** The cheapest way to give a viewer more: a paused slot's lowest layer, or one layer up on a slot below its source's top. */
function cheapestStep(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], nowMs: number): number | undefined {
  let cheapest: number | undefined;
  for (const slot of slots) {
    if (slot.publisherId === null) continue;
    const streams = layersOf(slot).filter((s) => s.steadyFor(STEADY_LAYER_MS, nowMs));
    if (streams.length === 0) continue;
    const target = slot.targetLayer;
    const at = target === 'paused' ? -1 : streams.findIndex((s) => s.layer === target);
    const next = streams[at + 1];
    if (!next) continue;
    const step = next.rate.bitrate(nowMs) - (at >= 0 ? streams[at]!.rate.bitrate(nowMs) : 0);
    cheapest = cheapest === undefined ? step : Math.min(cheapest, step);
  }
  return cheapest;
}
