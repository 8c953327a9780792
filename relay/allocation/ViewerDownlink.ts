/**
 * What the relay knows of one viewer's downlink — when its packets arrived and how long they
 * queued (the browser's transport-wide feedback, DownlinkDelivery), what it NACKs
 * (DownlinkMeter), the size it renders each slot at — and the allocation that follows: each
 * slot's layer, or a pause, through `allocate`. Slots stay the relay's (it assigns them);
 * this only sets the layer each one forwards.
 *
 * The viewer starts `free` (no budget but its tiles) and becomes `limited` when it loses
 * packets behind a queue (loss alone may be a busy machine dropping datagrams, not the
 * link; a queue alone may be the browser's busy machine stamping arrivals late). Limited,
 * its budget is what got through (sent × (1 − loss), at least half of sent, or what the
 * last 500 ms of packets delivered by their arrival times when that is less), lowered again
 * on new loss, or to what the link delivered when a queue stands for a second without loss
 * (a deep buffer fills for seconds before it drops anything); it is raised only by a probe
 * (never while a queue stands): the slots send duplicates worth the next step for 350 ms
 * (no more than half again the budget; twice, once two passed in a row). A probe fails as
 * soon as the feedback shows its packets lost, or the queue growing while they arrive slower
 * than they were sent (a browser on a busy machine stamps arrivals late, even a second late,
 * but not slow) — within a feedback interval, before the queue overflows; one that passes
 * gives the budget its rate, or what it sent when that fell well short (a layer up, a paused
 * camera back, or a step toward one). A failed probe
 * waits longer before the next (up to `MAX_PROBE_BACKOFF_MS`), which aims halfway to the
 * lowest target that failed; after one that passed, the
 * next follows as soon as the layers it allowed have settled, and tries everything the tiles
 * need at once (within that reach). Once the viewer gets everything its tiles
 * need it is free again. A browser that sends no transport-wide feedback is judged by its
 * NACKs alone.
 *
 * Video only: the mix is small and goes first, its own track unpaced; the viewer's video is
 * paced (`pacingBps`, DownlinkPacer: a limited viewer's at its budget) so that it never fills
 * the link's queue in a burst, and what goes beyond the budget waits at the relay — while it
 * waits long, with fewer frames coming in (TemporalValve).
 */
import type { DownlinkReport, SlotView } from '../../protocol/signaling';
import type { InputStream } from '../InputStreams';
import type { VideoSlot } from '../VideoSlot';
import { allocate, type LayerOffer, type SlotDemand } from './allocate';
import type { DeliveredSpan, DownlinkDelivery } from './DownlinkDelivery';
import { FEEDBACK_DELAY_MS, MAX_PROBE_COPIES, type DownlinkMeter } from './DownlinkMeter';

/** Loss (the NACKed share of the meter's window) that shows a full queue… */
const LOSS_THRESHOLD = 0.05;
/** …when a queue of at least this much came with it in the last `QUEUE_EVIDENCE_MS` (or the loss is this heavy). */
const LOSS_QUEUE_MS = 30;
const QUEUE_EVIDENCE_MS = 1000;
const HEAVY_LOSS = 0.2;
/** A probe fails on any loss above this (a queue filling up, before it overflows much)… */
const PROBE_LOSS_LIMIT = 0.02;
/**
 * …or on its queue growing this much over the queue when it started, while its packets
 * arrived slower than they left. 25 ms passed one that rose 21 ms at 88% of its rate on a
 * capped link in weak-viewer: the next, half again above it, lost 29% and froze a camera for
 * 1.7 s. (True passes there rise 0–3 ms.)
 */
const PROBE_QUEUE_RISE_MS = 15;
/** A rise this large fails a probe even at (nearly) its rate (see `swamped`). */
const PROBE_SWAMPED_RISE_MS = 75;
/** Packets that arrive slower than this share of their sending rate went through a full link. */
const PROBE_SATURATED_SHARE = 0.95;
/** A layer is offered once it has arrived steadily this long… */
const STEADY_LAYER_MS = 2000;
/**
 * …or, to a free viewer, this long when it answers the relay's request to resume it (a tile
 * made large: PublisherLayers): expected, so not worth making the viewer wait two seconds more.
 */
const RESUMED_STEADY_MS = 250;
/** The budget after a loss: this share of what got through (room for keyframes and retransmissions)… */
const BUDGET_SHARE = 0.9;
/** …taking what got through as at least this share of what was sent. */
const MIN_DECREASE_SHARE = 0.5;
/** What the link delivered is read from the packets sent this recently (a second reached back to before a cap: 1.68 Mbit/s read through 1 Mbit/s in the model)… */
const DELIVERED_WINDOW_MS = 500;
/** …and never as less than this share of what was sent. */
const MIN_MEASURED_SHARE = 0.25;
/** The budget is lowered at most once per this (the loss of the last second must be new). */
const DECREASE_INTERVAL_MS = 1000;
/** How long a probe runs (with transport-wide feedback, 350 ms of packets show a queue growing and the rate they arrive at); it asks for this much more than the step (the step's keyframes). */
export const PROBE_MS = 350;
const PROBE_MARGIN = 1.2;
/**
 * How far above the budget (or what is planned) a probe reaches. Twice was too far: on a
 * link still full, its duplicates overflowed a 150 ms queue before the feedback showed it
 * growing (two thirds of a window lost in weak-viewer, the budget cut to a third).
 */
const PROBE_GROWTH = 1.5;
/**
 * …and after this many passed in a row (the link had room at every step since the last loss
 * or queue), twice: a link back to full after a cap is reached in two probes fewer (issue 18:
 * full quality ≤ 5 s after a cap is lifted; at 1.5× the last step up came a probe late in
 * weak-viewer, 364 kbit/s → 1.44 Mbit/s in five probes), while a link still full fails the
 * first, smaller one.
 */
const FAST_GROWTH = 2;
const FAST_GROWTH_AFTER_PASSES = 2;
/** A probe that sent at least this share of its target tested it (its start and the pace's steps cost a little). */
const TESTED_SHARE = 0.85;
/** A probe halfway to the lowest failed target is not worth it within this share above the budget. */
const CONVERGED_SHARE = 0.05;
/**
 * After a failed probe the next waits this long, twice as long after each failure in a row
 * up to the max (short: a link that is back should be used within seconds — issue 18 asks
 * full quality ≤ 5 s after a cap is lifted; the pacer keeps a failed probe's harm small).
 * After one that passed the next starts as soon as the layers it allowed have settled.
 */
const PROBE_BACKOFF_MS = 500;
export const MAX_PROBE_BACKOFF_MS = 1000;
/** A step that passed and then lost packets (a resumed camera, whose probe had nothing to test) is tried again less often: each try costs pictures. */
const MAX_AFTERMATH_BACKOFF_MS = 2000;
/**
 * After a change of layers the next probe waits this long: the new layers start at their
 * keyframes, which the relay asks for at once and which come within a round trip and a
 * frame or two (a probe that starts while they are paced out still counts them as sent).
 */
const SETTLE_MS = 300;
/** After becoming limited the first probe waits this long: the loss that limited the viewer is still in the queue. */
const LIMITED_SETTLE_MS = 1000;
/** Loss this soon after a probe passed undoes it. */
const PROBE_AFTERMATH_MS = 2000;
/** Below this much video sent, a probe cannot be made of duplicates. */
const MIN_PROBE_BASE_BPS = 50_000;
/**
 * A queue this long (ms) in every feedback of the last `QUEUE_EVIDENCE_MS` (at least
 * `STANDING_SAMPLES` of them) while the viewer is limited means its video is sent faster than
 * its link carries, without loss yet: the budget goes down to what the link delivered (a
 * busy browser stamping arrivals late makes one feedback's packets late, not every one for
 * a second, and then they arrive bunched — faster than sent — which does not count).
 */
const STANDING_QUEUE_MS = 60;
const STANDING_SAMPLES = 4;
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
  private state: DownlinkState = 'free';
  /** While limited: the video the link carries, as far as the relay knows. */
  private capacity = Infinity;
  private lastDecreaseAt = -Infinity;
  private probe: {
    startedAt: number;
    targetBps: number;
    duplicable: boolean;
    /** The transport-wide numbers of its packets: from, and (once it stopped sending duplicates) up to. */
    fromSequence: number;
    toSequence: number | undefined;
    queueAtStart: number;
  } | undefined;
  /** Whether the probe just decided still has to start its duplicates (once the round's layers are set). */
  private probeToStart = false;
  private probeBackoffMs = PROBE_BACKOFF_MS;
  /** The lowest target of the probes of duplicates that failed since the last one passed (Infinity: none). */
  private failedTargetBps = Infinity;
  /** Probes passed since the last that failed (or since a loss or a standing queue lowered the budget). */
  private passesInARow = 0;
  /** The budget before the last probe that passed raised it. */
  private capacityBeforeProbe = 0;
  private lastProbeEndAt = -Infinity;
  private nextProbeAt = -Infinity;
  private readonly views = new Map<string, { width: number; height: number }>();
  /** The first packet of the current report's interval (what reached the viewer since the last report). */
  private reportFromSequence = 0;

  constructor(private readonly log: DownlinkLog = () => {}) {}

  /** Whether the viewer's downlink limits what it gets now. */
  get downlinkState(): DownlinkState {
    return this.state;
  }

  /** Whether a probe of the viewer's link is running (its feedback should be judged as it comes). */
  get probing(): boolean {
    return this.probe !== undefined;
  }

  /**
   * Whether the viewer's next feedback should run its allocation: while a probe runs (to
   * judge it as soon as it shows), and when the next one is due (to start it then, on a
   * fresh reading of the queue, rather than at the next allocation round).
   */
  wantsFeedback(nowMs: number): boolean {
    return this.probe !== undefined || (this.state === 'limited' && nowMs >= this.nextProbeAt);
  }

  /**
   * The pace of the viewer's video (DownlinkPacer): while free, well above what it gets
   * (only bursts wait); while limited, at its budget (a tenth below what its link carried),
   * or a running probe's target. What the slots send beyond the budget (retransmissions,
   * keyframes asked for after a loss) then waits at the relay, not in the queue in front of
   * the link, where the mix would wait behind it: paced at what the link carried (the
   * budget ÷ 0.9), that 150 ms queue stood at 100–150 ms for seconds in weak-viewer, every
   * burst overflowed it and the mix behind it lost up to 436 ms; at 1.25× the budget, bursts
   * of three cameras' keyframes and their retransmissions overflowed it.
   */
  pacingBps(meter: DownlinkMeter, nowMs: number): number {
    if (this.state === 'free') return Math.max(MIN_FREE_PACING_BPS, FREE_PACING_FACTOR * meter.sentBps(nowMs));
    return Math.max(this.capacity, this.probe?.targetBps ?? 0);
  }

  /** The size the viewer renders a slot at (device pixels; 0 × 0 not shown), undefined while it has not said. */
  viewOf(mid: string): { width: number; height: number } | undefined {
    return this.views.get(mid);
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
   * viewer's connection sends and loses (its probe is started and stopped here), `delivery`
   * when and how it arrived.
   */
  allocate(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], meter: DownlinkMeter, delivery: DownlinkDelivery, nowMs: number): number {
    const shown = slots.filter((slot) => slot.publisherId !== null);
    const offers = new Map<VideoSlot, InputStream[]>();
    const demands: SlotDemand[] = shown.map((slot) => {
      // The layers that have been arriving steadily; the one forwarded now counts while it arrives at all.
      // A free viewer takes a layer that answers the relay's resume sooner (its rate is not planned with).
      const steady = (s: InputStream) => s.steadyFor(STEADY_LAYER_MS, nowMs) || (this.state === 'free' && s.answersResume(nowMs) && s.steadyFor(RESUMED_STEADY_MS, nowMs));
      const streams = layersOf(slot).filter((s) => steady(s) || (s.layer === slot.forwardedLayer && s.rate.bitrate(nowMs) > 0));
      const layers: LayerOffer[] = streams.map((s, index) => ({ layer: index, bitrateBps: s.betweenKeyframes.bitrate(nowMs), width: s.width, height: s.height }));
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
    const budget = this.budget(slots, layersOf, meter, delivery, nowMs);
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
    if (this.probeToStart) this.startProbe(slots, layersOf, meter, nowMs);
    return changed;
  }

  /**
   * The video budget now (see the file comment): none while free; while limited, what the
   * link carried when it last lost packets behind a queue, raised by the probes that passed.
   */
  private budget(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], meter: DownlinkMeter, delivery: DownlinkDelivery, nowMs: number): number {
    const sent = meter.sentBps(nowMs);
    const loss = meter.lossFraction(nowMs);
    const fed = delivery.hasFeedback;
    // Loss behind a queue is the link's; without feedback, loss is all there is to go by.
    const queuedLoss = loss >= LOSS_THRESHOLD && (!fed || loss >= HEAVY_LOSS || delivery.peakQueueMs(nowMs - QUEUE_EVIDENCE_MS) >= LOSS_QUEUE_MS);
    // What got through, but no less than half of what was sent: behind a full queue the
    // NACKs of retransmissions and keyframe bursts make loss read higher than the link's
    // share, and 1 − loss near 0 would cut to nothing. Halving per second converges as fast.
    // The packets of the last second, as the feedback reported them (read only when needed).
    let recentSpan: DeliveredSpan | undefined;
    const recent = (): DeliveredSpan => (recentSpan ??= delivery.span(delivery.sequenceSince(nowMs - QUEUE_EVIDENCE_MS), delivery.nextSequence));
    // With feedback, what the packets of the last `DELIVERED_WINDOW_MS` delivered by their
    // arrival times, when less: a full link's own rate, where the NACKed share lags (its
    // window ended 300 ms ago) — right after a cap it read 17% while 81% was being lost, and
    // the first budget (938 kbit/s through a 544 cap) cost another second of loss. Never
    // above what the loss says got through (a browser that stalled stamps arrivals bunched,
    // which reads high), nor below a quarter of what was sent (one that stalled at the end
    // of the span reads low).
    const delivered = (): number => {
      const lossBased = Math.max(sent * (1 - loss), sent * MIN_DECREASE_SHARE);
      const measured = fed ? delivery.span(delivery.sequenceSince(nowMs - DELIVERED_WINDOW_MS), delivery.nextSequence).deliveredBps : undefined;
      return (measured === undefined ? lossBased : Math.min(lossBased, Math.max(measured, sent * MIN_MEASURED_SHARE))) * BUDGET_SHARE;
    };
    if (this.state === 'free') {
      if (!queuedLoss) return Infinity;
      this.state = 'limited';
      this.failedTargetBps = Infinity;
      this.capacity = delivered();
      this.lastDecreaseAt = nowMs;
      this.probeBackoffMs = PROBE_BACKOFF_MS;
      this.passesInARow = 0;
      this.nextProbeAt = nowMs + LIMITED_SETTLE_MS;
      this.log({ capacityBps: Math.round(this.capacity), sentBps: Math.round(sent), loss: round(loss), queueMs: Math.round(delivery.queueMs) }, 'downlink limited');
      return this.capacity;
    }
    if (this.probe) this.judgeProbe(this.probe, meter, delivery, loss, nowMs);
    const standingQueue = !this.probe && delivery.lowestQueueMs(nowMs - QUEUE_EVIDENCE_MS, STANDING_SAMPLES) >= STANDING_QUEUE_MS;
    if (standingQueue && !queuedLoss && nowMs - this.lastDecreaseAt >= DECREASE_INTERVAL_MS) {
      // The link carries less than is sent (no loss yet): down to what it delivered, so the queue drains.
      const { deliveredBps, sentBps: spanSentBps } = recent();
      if (deliveredBps !== undefined && spanSentBps !== undefined && deliveredBps <= spanSentBps && deliveredBps * BUDGET_SHARE < this.capacity) {
        this.capacity = deliveredBps * BUDGET_SHARE;
        this.lastDecreaseAt = nowMs;
        this.passesInARow = 0;
        this.nextProbeAt = Math.max(this.nextProbeAt, nowMs + this.probeBackoffMs);
        this.log({ capacityBps: Math.round(this.capacity), sentBps: Math.round(spanSentBps), deliveredBps: Math.round(deliveredBps), queueMs: Math.round(delivery.queueMs) }, 'downlink budget lowered on a standing queue');
      }
    }
    if (queuedLoss && nowMs - this.lastDecreaseAt >= DECREASE_INTERVAL_MS) {
      // Loss soon after a probe passed: the step it took did not fit after all (a resumed
      // camera, whose probe had nothing to duplicate, shows it only now) — back to the
      // budget before it, which did fit (what got through while a new layer's keyframes
      // overflow the queue says little), and wait longer. Loss that outlasts it lowers the
      // budget again a second later.
      const aftermath = this.passesInARow > 0 && nowMs - this.lastProbeEndAt <= PROBE_AFTERMATH_MS;
      this.capacity = Math.min(this.capacity, aftermath ? Math.max(delivered(), this.capacityBeforeProbe) : delivered());
      this.lastDecreaseAt = nowMs;
      this.log({ capacityBps: Math.round(this.capacity), sentBps: Math.round(sent), loss: round(loss), queueMs: Math.round(delivery.queueMs), aftermath }, 'downlink budget lowered');
      if (aftermath) this.probeBackoffMs = Math.min(MAX_AFTERMATH_BACKOFF_MS, this.probeBackoffMs * 2);
      this.passesInARow = 0;
      this.nextProbeAt = Math.max(this.nextProbeAt, nowMs + this.probeBackoffMs);
    }
    // No probe while a queue stands: its packets would wait behind it, and their rise over a
    // draining queue would not show. (With nothing sent for a second, no queue is left.)
    const queueNow = delivery.lastFeedbackAt >= nowMs - QUEUE_EVIDENCE_MS ? delivery.queueMs : 0;
    if (!this.probe && loss <= PROBE_LOSS_LIMIT && nowMs >= this.nextProbeAt && queueNow < STANDING_QUEUE_MS) {
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
      // one per layer); after a failure, one step. Either way no more than half again the
      // budget (twice once two passed in a row): a step bigger than that (a top layer is ten
      // times the one below) is reached over several probes, each of which raises the budget,
      // instead of one that overflows a link still full. Duplicates multiply what is sent by
      // at most 1 + MAX_PROBE_COPIES: a probe tests no more, and one that would test no more
      // than the budget waits for more to be sent.
      const duplicable = sent >= MIN_PROBE_BASE_BPS;
      const step = duplicable && this.passesInARow > 0 ? more.all : more.cheapest;
      const planned = this.videoBps(slots, layersOf, nowMs);
      const reach = Math.max(this.capacity, planned) * (this.passesInARow >= FAST_GROWTH_AFTER_PASSES ? FAST_GROWTH : PROBE_GROWTH);
      let targetBps = duplicable ? Math.min(planned + step * PROBE_MARGIN, reach, sent * (1 + MAX_PROBE_COPIES)) : planned + step * PROBE_MARGIN;
      // After a failure, halfway to the lowest target that failed: a link with less room than
      // the next step still raises the budget toward what it carries (room for keyframes and
      // a layer's peaks) rather than leave it where a standing queue or a loss put it — in
      // weak-viewer, 329 kbit/s for three 103 kbit/s low layers on a link carrying ≈ 380,
      // while every probe aimed at 493 and failed. Once within `CONVERGED_SHARE` of it, the
      // full step again (has the link got better?).
      const halfway = (this.capacity + this.failedTargetBps) / 2;
      if (duplicable && halfway > this.capacity * (1 + CONVERGED_SHARE)) targetBps = Math.min(targetBps, halfway);
      if (duplicable && targetBps <= this.capacity) {
        this.nextProbeAt = nowMs + SETTLE_MS;
      } else {
        // Its duplicates start once this round's layers are set (allocate): what they multiply.
        this.probe = { startedAt: nowMs, targetBps, duplicable, fromSequence: delivery.nextSequence, toSequence: undefined, queueAtStart: delivery.queueMs };
        this.probeToStart = true;
      }
    }
    return this.capacity;
  }

  /**
   * Starts the duplicates of the probe just decided, worth what takes what goes out up to
   * its target. What goes out is the layers just set (what their publishers send): a probe
   * follows a passed one at once, in the round that raises the layers, and the meter's rate
   * (a second that ended 300 ms ago) lags behind them and counts the last probe's duplicates
   * too — as the base it sent half again more than its target after a step up (6.3 Mbit/s for
   * a 4.1 target in the model) and, after a probe, less than it. Less goes out than planned
   * while a new layer waits for its keyframe or frames are left out: the probe then tests less
   * than its target, and a pass raises the budget only to what it tested (`judgeProbe`).
   */
  private startProbe(slots: readonly VideoSlot[], layersOf: (slot: VideoSlot) => readonly InputStream[], meter: DownlinkMeter, nowMs: number): void {
    this.probeToStart = false;
    const probe = this.probe;
    if (!probe) return;
    if (!probe.duplicable) {
      meter.startProbe(0, nowMs);
      return;
    }
    const planned = this.videoBps(slots, layersOf, nowMs);
    const base = planned > 0 ? planned : meter.sentBps(nowMs);
    // Layers that already reach the target (shown cameras may keep their lowest layers a
    // little over the budget) test it themselves: no duplicates, judged the same way.
    meter.startProbe(Math.max(0, (probe.targetBps - base) / base), nowMs);
  }

  /**
   * Ends a running probe once it is judged: failed as soon as the viewer's feedback shows its
   * packets lost, or its queue growing while they arrive slower than they left, or when they
   * are not reported in time; passed once every packet it sent is reported without that (or,
   * without transport-wide feedback, once the NACKs of its last duplicates' originals could
   * be in).
   */
  private judgeProbe(probe: NonNullable<ViewerDownlink['probe']>, meter: DownlinkMeter, delivery: DownlinkDelivery, loss: number, nowMs: number): void {
    const elapsed = nowMs - probe.startedAt;
    if (elapsed >= PROBE_MS && probe.toSequence === undefined) {
      meter.stopProbe(nowMs);
      probe.toSequence = delivery.nextSequence;
    }
    const span = delivery.span(probe.fromSequence, probe.toSequence ?? delivery.nextSequence);
    const reported = span.received + span.lost;
    const transportLoss = reported >= 10 ? span.lost / reported : 0;
    // A resume (nothing to duplicate) is judged by loss only: the queue of a link that
    // carried (almost) nothing says nothing of what it carries.
    const queueRise = probe.duplicable && delivery.lastFeedbackAt > probe.startedAt ? delivery.queueMs - probe.queueAtStart : 0;
    const slowed = span.deliveredBps !== undefined && span.sentBps !== undefined && span.deliveredBps < span.sentBps * PROBE_SATURATED_SHARE;
    // With feedback, its own packets tell; the NACKed share (a window that ended 300 ms ago)
    // would still be of packets sent before it, and fail it at its start for their loss.
    const lost = delivery.hasFeedback ? transportLoss > PROBE_LOSS_LIMIT : loss > PROBE_LOSS_LIMIT;
    const allReported = delivery.hasFeedback && probe.toSequence !== undefined && reported >= span.sent * 0.95;
    // Feedback that comes (it did before) but not on the probe's packets in time: they are
    // stuck somewhere, which no probe may pass.
    const timedOut = elapsed >= PROBE_MS + FEEDBACK_DELAY_MS;
    const unreported = timedOut && delivery.hasFeedback && !allReported;
    // A queue grown by `PROBE_SWAMPED_RISE_MS` fails it even at 95% or more of the rate,
    // unless its packets arrived bunched, faster than they left (a stalled browser stamping
    // them late): one passed on a 78 ms rise at 96% of its rate, and the step it took lost 15%.
    const swamped = queueRise > PROBE_SWAMPED_RISE_MS && span.deliveredBps !== undefined && span.sentBps !== undefined && span.deliveredBps <= span.sentBps;
    const failed = lost || unreported || (queueRise > PROBE_QUEUE_RISE_MS && slowed) || swamped;
    if (!failed && !allReported && !timedOut) return;
    meter.stopProbe(nowMs);
    // Its target tested: everything went out (a resume tests what follows it), or close to it.
    const tested = meter.probeSentBps;
    const testedTarget = !probe.duplicable || tested >= TESTED_SHARE * probe.targetBps;
    // A pass that tested well short of its target says little: it does not count toward the doubling.
    this.passesInARow = failed ? 0 : testedTarget ? this.passesInARow + 1 : this.passesInARow;
    if (failed && probe.duplicable) this.failedTargetBps = Math.min(this.failedTargetBps, probe.targetBps);
    if (!failed) this.failedTargetBps = Infinity;
    const before = this.capacity;
    if (failed) {
      this.probeBackoffMs = Math.max(this.probeBackoffMs, Math.min(MAX_PROBE_BACKOFF_MS, this.probeBackoffMs * 2));
      // Its own duplicates filled the queue: what was sent before it did fit. (What its packets
      // delivered is not taken as the link's rate: a browser that stalls stamps a burst of late
      // arrivals close together, which read as more than a capped link carries — 546 kbit/s
      // through 442 — and the budget raised on it cost every camera its frames.) Loss that
      // outlasts the probe is the link's, and lowers the budget then.
      this.lastDecreaseAt = nowMs;
    } else {
      // Up to what it tested: its target, or what went out when that was well short of it
      // (its duplicates multiply what goes out, and less goes out while a new layer waits for
      // its keyframe or frames are left out — one passed at a 762 kbit/s target on 151 of
      // originals, through a 542 cap).
      this.capacityBeforeProbe = this.capacity;
      this.capacity = Math.max(this.capacity, testedTarget ? probe.targetBps : tested);
      // A resume tested nothing (what follows it does): its backoff stays until a probe of duplicates passes.
      if (probe.duplicable) this.probeBackoffMs = PROBE_BACKOFF_MS;
    }
    // After a pass of duplicates the next probe follows once the layers it allowed have
    // settled (allocate); a resume is judged by the loss that follows it, which takes longer.
    this.nextProbeAt = failed ? nowMs + this.probeBackoffMs : probe.duplicable ? nowMs : nowMs + PROBE_BACKOFF_MS;
    this.lastProbeEndAt = nowMs;
    this.log({
      targetBps: Math.round(probe.targetBps), testedBps: Math.round(tested), capacityBps: Math.round(this.capacity), raisedBy: Math.round(this.capacity - before), deliveredBps: Math.round(span.deliveredBps ?? -1), sentBps: Math.round(span.sentBps ?? -1),
      loss: round(loss), transportLoss: round(transportLoss), unreported, queueRiseMs: Math.round(queueRise), elapsedMs: Math.round(elapsed), duplicable: probe.duplicable,
    }, failed ? 'downlink probe failed' : 'downlink probe passed');
    this.probe = undefined;
  }

  /** What the viewer is told of its downlink (what reached it: since the last report). */
  report(meter: DownlinkMeter, delivery: DownlinkDelivery, nowMs: number): DownlinkReport {
    const limited = this.state === 'limited' && Number.isFinite(this.capacity);
    const reached = delivery.span(this.reportFromSequence, delivery.nextSequence).deliveredBps;
    this.reportFromSequence = delivery.nextSequence;
    return {
      ...(reached !== undefined ? { estimateBps: Math.round(reached), queueMs: Math.round(delivery.queueMs) } : {}),
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
    const now = at >= 0 ? streams[at]!.betweenKeyframes.bitrate(nowMs) : 0;
    const step = next.betweenKeyframes.bitrate(nowMs) - now;
    cheapest = cheapest === undefined ? step : Math.min(cheapest, step);
    all += streams.at(-1)!.betweenKeyframes.bitrate(nowMs) - now;
  }
  return cheapest === undefined ? undefined : { cheapest, all };
}
