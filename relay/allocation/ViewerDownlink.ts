/**
 * What the relay knows of one viewer's downlink — its browser's own estimate (REMB), the
 * loss it reports (its NACKs, DownlinkMeter), the size it renders each
 * slot at — and the allocation that follows: each slot's layer, or a pause, through
 * `allocate`. Slots stay the relay's (it assigns them); this only sets the layer each one
 * forwards.
 *
 * A receive-side estimate only ever grows to about 1.5× what arrives, and after an overuse
 * it climbs back by a few percent a second (libwebrtc's AIMD): it says "the link carries at
 * least this", and a relay that followed it down would starve the viewer for good (fewer
 * layers, less arriving, a lower estimate). So the viewer starts `free` (no budget but its
 * tiles) and becomes `limited` when the estimate falls below what the relay sends (the
 * browser saw its queue grow) while the viewer loses packets — a busy CPU delays packets
 * too, loss is what tells a full queue. Limited, its budget is what got through when it
 * lost (sent × (1 − loss), at least half of sent), lowered again on new loss; it is raised
 * only by a probe: the slots send duplicates worth the next step for half a second (no more
 * than a quarter above the budget after a failure, twice it after a pass), and when nothing
 * is lost and the estimate does not fall, the budget takes the probe's rate (a layer up, a
 * paused camera back, or a step toward one). A failed probe waits longer before the next
 * (up to `MAX_PROBE_BACKOFF_MS`); after one that passed, the next tries everything the
 * tiles need at once. Once the viewer gets everything its tiles need it is free again.
 *
 * Video only: the mix is small and goes first, its own track unpaced; the viewer's video is
 * paced (`pacingBps`, DownlinkPacer) so that it never fills the link's queue in a burst.
 */
import type { DownlinkReport, SlotView } from '../../protocol/signaling';
import type { InputStream } from '../InputStreams';
import type { VideoSlot } from '../VideoSlot';
import { allocate, type LayerOffer, type SlotDemand } from './allocate';
import { FEEDBACK_DELAY_MS, MAX_PROBE_COPIES, type DownlinkMeter } from './DownlinkMeter';

/** An estimate this far below what the relay sends, with loss, means the link is full. */
const OVERUSE_RATIO = 0.9;
/** Loss (the NACKed share of the meter's window) that shows a full queue. */
const LOSS_THRESHOLD = 0.05;
/** A probe fails on any loss above this (a queue filling up, before it overflows much). */
const PROBE_LOSS_LIMIT = 0.02;
/** A layer is offered once it has arrived steadily this long. */
const STEADY_LAYER_MS = 2000;
/** The budget after a loss: this share of what got through (room for keyframes and retransmissions)… */
const BUDGET_SHARE = 0.9;
/** …taking what got through as at least this share of what was sent. */
const MIN_DECREASE_SHARE = 0.5;
/** The budget is lowered at most once per this (the loss of the last second must be new). */
const DECREASE_INTERVAL_MS = 1000;
/** How long a probe runs; it asks for this much more than the step (the step's keyframes). */
export const PROBE_MS = 500;
const PROBE_MARGIN = 1.2;
/** How far above the budget a probe reaches: after a failed one (or the first), and after one that passed. */
const PROBE_GROWTH_AFTER_FAILURE = 1.25;
const PROBE_GROWTH_AFTER_PASS = 2;
/** A probe that ends with the estimate below this share of the one it started at failed (the browser saw its queue grow). */
const PROBE_ESTIMATE_DROP = 0.9;
/**
 * After a successful probe the next waits this long; after failures, twice as long each
 * time up to the max (short: a link that is back should be used within seconds — issue 18
 * asks full quality ≤ 5 s after a cap is lifted; the pacer keeps a failed probe's harm small).
 */
export const PROBE_INTERVAL_MS = 500;
export const MAX_PROBE_BACKOFF_MS = 2000;
/** After a change of layers the next probe waits this long (the new layers start at their keyframes); after becoming limited, twice. */
const SETTLE_MS = 500;
/** Loss this soon after a probe passed undoes it. */
const PROBE_AFTERMATH_MS = 2000;
/** Below this much video sent, a probe cannot be made of duplicates. */
const MIN_PROBE_BASE_BPS = 50_000;
/** A limited viewer's video is paced this much above its budget (DownlinkPacer): keyframes spread out, the average still fits. */
const PACING_FACTOR = 1.25;
/**
 * A free viewer's bursts — a layer switch's keyframes, several at once — are spread at this
 * multiple of what it gets (libwebrtc paces at 2.5× its target), and never slower than the
 * floor: sent at once they overran even unconstrained viewers (loss spikes seen at every
 * viewer when one weak viewer's layers went back up).
 */
const FREE_PACING_FACTOR = 2.5;
const MIN_FREE_PACING_BPS = 2_000_000;

/** Where the controller says what it decided (the relay's debug log). */
export type DownlinkLog = (details: Record<string, number | string | boolean>, msg: string) => void;

export type DownlinkState = 'free' | 'limited';

export class ViewerDownlink {
  /** The browser's last REMB, bits per second; undefined until it sends one. */
  private estimate: number | undefined;
  private state: DownlinkState = 'free';
  /** While limited: the video the link carries, as far as the relay knows. */
  private capacity = Infinity;
  private lastDecreaseAt = -Infinity;
  private probe: { startedAt: number; targetBps: number; estimateAtStart: number; duplicable: boolean } | undefined;
  private probeBackoffMs = PROBE_INTERVAL_MS;
  private lastProbePassed = false;
  /** The budget before the last probe that passed raised it. */
  private capacityBeforeProbe = 0;
  private lastProbeEndAt = -Infinity;
  private nextProbeAt = -Infinity;
  private readonly views = new Map<string, { width: number; height: number }>();

  constructor(private readonly log: DownlinkLog = () => {}) {}

  /** Whether the viewer's downlink limits what it gets now. */
  get downlinkState(): DownlinkState {
    return this.state;
  }

  /**
   * The pace of the viewer's video (DownlinkPacer): while free, well above what it gets
   * (only bursts wait); while limited, a little above its budget, or a running probe's target.
   */
  pacingBps(meter: DownlinkMeter, nowMs: number): number {
    if (this.state === 'free') return Math.max(MIN_FREE_PACING_BPS, FREE_PACING_FACTOR * Math.max(meter.sentBps(nowMs), this.estimate ?? 0));
    return Math.max(this.capacity, this.probe?.targetBps ?? 0) * PACING_FACTOR;
  }

  /** A new REMB from the viewer's browser. */
  setEstimate(bps: number): void {
    this.estimate = bps;
  }

  /** The sizes the viewer renders its slots at (replaces the previous ones). */
  setViews(slots: readonly SlotView[]): void {
    this.views.clear();
    for (const { mid, width, height } of slots) this.views.set(mid, { width, height });
  }

  /**
   * Allocates the viewer's downlink over its filled slots: sets each slot's target layer
   * (or pause) and returns how many changed. `layersOf` gives the streams of the source a
   * slot shows; only layers the publisher is sending now are offered. `meter` is what the
   * viewer's connection sends and loses (its probe is started and stopped here).
   */
  allocate(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], meter: DownlinkMeter, nowMs: number): number {
    const shown = slots.filter((slot) => slot.publisherId !== null);
    const offers = new Map<VideoSlot, InputStream[]>();
    const demands: SlotDemand[] = shown.map((slot) => {
      // The layers that have been arriving steadily; the one forwarded now counts while it arrives at all.
      const streams = layersOf(slot).filter((s) => s.steadyFor(STEADY_LAYER_MS, nowMs) || (s.layer === slot.forwardedLayer && s.rate.bitrate(nowMs) > 0));
      const layers: LayerOffer[] = streams.map((s, index) => ({ layer: index, bitrateBps: s.rate.bitrate(nowMs), width: s.width, height: s.height }));
      offers.set(slot, streams);
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
    const budget = this.budget(slots, layersOf, meter, nowMs);
    let changed = 0;
    allocate(budget, demands).forEach((result, i) => {
      const slot = shown[i]!;
      const streams = offers.get(slot)!;
      // A source sending nothing yet keeps its target (its first packets start it).
      if (streams.length === 0) return;
      const target = result.layer === 'paused' ? 'paused' : streams[result.layer]!.layer;
      if (slot.setTarget(target, result.reason)) changed += 1;
    });
    // A change moves what is sent: the next probe measures from where it settles.
    if (changed > 0) this.nextProbeAt = Math.max(this.nextProbeAt, nowMs + SETTLE_MS);
    return changed;
  }

  /**
   * The video budget now (see the file comment): none while free; while limited, what the
   * link carried when it last lost packets, raised by the probes that passed.
   */
  private budget(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], meter: DownlinkMeter, nowMs: number): number {
    const estimate = this.estimate;
    const sent = meter.sentBps(nowMs);
    const loss = meter.lossFraction(nowMs);
    // What got through (not the estimate: after an overuse it is far below, and stays there),
    // but no less than half of what was sent: behind a full queue the NACKs of
    // retransmissions and keyframe bursts make loss read higher than the link's share, and
    // 1 − loss near 0 would cut to nothing. Halving per second converges as fast.
    const delivered = Math.max(sent * (1 - loss), sent * MIN_DECREASE_SHARE) * BUDGET_SHARE;
    if (this.state === 'free') {
      // A browser that sends no estimate is read by its loss alone.
      if (loss < LOSS_THRESHOLD || (estimate !== undefined && estimate >= sent * OVERUSE_RATIO)) return Infinity;
      this.state = 'limited';
      this.capacity = delivered;
      this.lastDecreaseAt = nowMs;
      this.probeBackoffMs = PROBE_INTERVAL_MS;
      this.lastProbePassed = false;
      this.nextProbeAt = nowMs + 2 * SETTLE_MS;
      this.log({ capacityBps: Math.round(this.capacity), sentBps: Math.round(sent), loss: round(loss), estimateBps: Math.round(estimate ?? -1) }, 'downlink limited');
      return this.capacity;
    }
    if (this.probe) {
      const elapsed = nowMs - this.probe.startedAt;
      if (elapsed >= PROBE_MS) meter.stopProbe();
      // A probe of duplicates is also failed by a falling estimate (the browser saw its queue
      // grow). Not a resume: while (almost) no video arrived the estimate was stale or
      // decaying, and it says nothing of the link.
      const estimateFell = this.probe.duplicable && estimate !== undefined && estimate < this.probe.estimateAtStart * PROBE_ESTIMATE_DROP;
      const failed = loss > PROBE_LOSS_LIMIT || estimateFell;
      // Judged once the NACKs for its last duplicates' originals are in the meter's window.
      if (failed || elapsed >= PROBE_MS + FEEDBACK_DELAY_MS) {
        meter.stopProbe();
        this.lastProbePassed = !failed;
        if (failed) {
          this.probeBackoffMs = Math.min(MAX_PROBE_BACKOFF_MS, this.probeBackoffMs * 2);
          // Its own duplicates overflowed the queue: what was sent before it did fit. Loss
          // that outlasts the probe's window is the link's, and lowers the budget then.
          this.lastDecreaseAt = nowMs;
        } else {
          this.capacityBeforeProbe = this.capacity;
          this.capacity = Math.max(this.capacity, this.probe.targetBps);
          this.probeBackoffMs = PROBE_INTERVAL_MS;
        }
        this.nextProbeAt = nowMs + this.probeBackoffMs;
        this.lastProbeEndAt = nowMs;
        this.log({ targetBps: Math.round(this.probe.targetBps), capacityBps: Math.round(this.capacity), loss: round(loss), estimateFell, duplicable: this.probe.duplicable }, failed ? 'downlink probe failed' : 'downlink probe passed');
        this.probe = undefined;
      }
    }
    if (loss >= LOSS_THRESHOLD && nowMs - this.lastDecreaseAt >= DECREASE_INTERVAL_MS) {
      // Loss soon after a probe passed: the step it took did not fit after all (a resumed
      // camera, whose probe had nothing to duplicate, shows it only now) — back to the
      // budget before it, which did fit (what got through while a new layer's keyframes
      // overflow the queue says little), and wait longer. Loss that outlasts it lowers the
      // budget again a second later.
      const aftermath = this.lastProbePassed && nowMs - this.lastProbeEndAt <= PROBE_AFTERMATH_MS;
      this.capacity = Math.min(this.capacity, aftermath ? Math.max(delivered, this.capacityBeforeProbe) : delivered);
      this.lastDecreaseAt = nowMs;
      this.log({ capacityBps: Math.round(this.capacity), sentBps: Math.round(sent), loss: round(loss), aftermath }, 'downlink budget lowered');
      if (aftermath) {
        this.lastProbePassed = false;
        this.probeBackoffMs = Math.min(MAX_PROBE_BACKOFF_MS, this.probeBackoffMs * 2);
      }
      this.nextProbeAt = Math.max(this.nextProbeAt, nowMs + this.probeBackoffMs);
    }
    if (!this.probe && loss <= PROBE_LOSS_LIMIT && nowMs >= this.nextProbeAt) {
      const more = steps(slots, layersOf, nowMs);
      if (more === undefined) {
        // Nothing left to raise: every slot has what its tile needs.
        this.state = 'free';
        this.capacity = Infinity;
        this.log({}, 'downlink free');
        return Infinity;
      }
      // With (almost) nothing sent there is nothing to duplicate: the probe is the cheapest
      // step itself (a paused camera back), judged by what follows. Otherwise, after a step
      // that passed, try everything at once (a link back to full gets there in one probe, not
      // one per layer); after a failure, one step. Either way no more than a share above the
      // budget — a quarter after a failure, double after a pass: a step bigger than that
      // (a top layer is ten times the one below) is reached over several probes, each of
      // which raises the budget, instead of one that overflows a link still full and costs
      // the pictures it carries their packets. Duplicates multiply what is sent by at most
      // 1 + MAX_PROBE_COPIES: a probe tests no more.
      const duplicable = sent >= MIN_PROBE_BASE_BPS;
      const step = duplicable && this.lastProbePassed ? more.all : more.cheapest;
      const planned = this.videoBps(slots, layersOf, nowMs);
      const reach = Math.max(this.capacity, planned) * (this.lastProbePassed ? PROBE_GROWTH_AFTER_PASS : PROBE_GROWTH_AFTER_FAILURE);
      const targetBps = duplicable ? Math.min(planned + step * PROBE_MARGIN, reach, sent * (1 + MAX_PROBE_COPIES)) : planned + step * PROBE_MARGIN;
      this.probe = { startedAt: nowMs, targetBps, estimateAtStart: estimate ?? 0, duplicable };
      meter.startProbe(duplicable ? (targetBps - sent) / sent : 0);
    }
    return this.capacity;
  }

  /** What the viewer is told of its downlink. */
  report(meter: DownlinkMeter, nowMs: number): DownlinkReport {
    const limited = this.state === 'limited' && Number.isFinite(this.capacity);
    return {
      ...(this.estimate !== undefined ? { estimateBps: Math.round(this.estimate) } : {}),
      videoBps: Math.round(meter.sentBps(nowMs)),
      lossPercent: Math.round(meter.lossFraction(nowMs) * 1000) / 10,
      ...(limited ? { limitBps: Math.round(this.capacity) } : {}),
    };
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

const round = (fraction: number): number => Math.round(fraction * 1000) / 1000;

/**
 * What giving a viewer more costs: the cheapest step (a paused slot's lowest layer, or one
 * layer up on a slot below its source's top), and all of them (every slot at its source's
 * top); undefined when no slot can get more.
 */
function steps(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], nowMs: number): { cheapest: number; all: number } | undefined {
  let cheapest: number | undefined;
  let all = 0;
  for (const slot of slots) {
    if (slot.publisherId === null) continue;
    const streams = layersOf(slot).filter((s) => s.steadyFor(STEADY_LAYER_MS, nowMs));
    if (streams.length === 0) continue;
    const target = slot.targetLayer;
    const at = target === 'paused' ? -1 : streams.findIndex((s) => s.layer === target);
    const next = streams[at + 1];
    if (!next) continue;
    const now = at >= 0 ? streams[at]!.rate.bitrate(nowMs) : 0;
    const step = next.rate.bitrate(nowMs) - now;
    cheapest = cheapest === undefined ? step : Math.min(cheapest, step);
    all += streams.at(-1)!.rate.bitrate(nowMs) - now;
  }
  return cheapest === undefined ? undefined : { cheapest, all };
}
