/**
 * One viewer's video allocation: given what its downlink carries (the browser's own
 * estimate, minus what audio needs first) and the cameras and screens its slots show, pick
 * for each slot the layer it gets — the best that fits, no bigger than its tile needs — or
 * pause it when even the lowest does not fit. The shape of Jitsi's BandwidthAllocator and
 * LiveKit's StreamAllocator, kept small: a pure function, run again whenever an input
 * changes, with hysteresis so a layer is not taken and dropped at every estimate.
 */

/** One layer a publisher sends of a source, as the relay measures it. */
export interface LayerOffer {
  /** Index among the source's layers, 0 the lowest. */
  layer: number;
  /** Its measured rate between keyframes (bits per second, RTP payload and headers); 0 while not measured yet. */
  bitrateBps: number;
  /** Its picture size as the publisher last sent it (0 when unknown). */
  width: number;
  height: number;
}

/** What one slot of the viewer shows and wants. */
export interface SlotDemand {
  /** The slot's id (its mid). */
  key: string;
  /** The shown source's layers, lowest first; empty while its publisher sends nothing. */
  layers: LayerOffer[];
  /** The size the viewer renders this slot at (CSS pixels × devicePixelRatio); undefined: not told, no cap. */
  renderedWidth?: number;
  renderedHeight?: number;
  /** Allocated first (a shared screen before cameras). */
  priority: number;
  /** The layer the slot has now (undefined: paused or new), for hysteresis. */
  current?: number;
}

/** Why a slot gets what it gets (shown on the viewer's stats overlay). */
export type AllocationReason =
  /** The best layer the publisher sends. */
  | 'best'
  /** Its tile is small: a bigger layer would be wasted. */
  | 'tile'
  /** The viewer's downlink does not carry more. */
  | 'bandwidth';

export interface SlotAllocation {
  key: string;
  /** The layer to forward, or `paused` when even the lowest does not fit. */
  layer: number | 'paused';
  reason: AllocationReason;
}

/** An upgrade (or a resume) needs this much more room than the layer's rate: no flapping at the edge. */
export const UPGRADE_HEADROOM = 1.15;
/**
 * Shown slots keep their lowest layers while these overrun the budget by no more than this
 * share of it (shared by all slots). A pause costs the viewer the picture and, on resume, a
 * keyframe; an overrun of a budget that is a tenth below what the link carried costs a
 * little queue at most. In weak-viewer at 40% one camera was paused and resumed 16 times in
 * a cell (a freeze of 4.2 s) while the budget hovered around what three low layers cost.
 */
export const KEEP_LOWEST_SLACK = 0.1;
/** A layer not measured yet is assumed to cost this much (a 320×240 VP8 stream at 15 fps). */
export const UNMEASURED_LAYER_BPS = 250_000;

/** The rate to plan with for a layer. */
function cost(layer: LayerOffer): number {
  return layer.bitrateBps > 0 ? layer.bitrateBps : UNMEASURED_LAYER_BPS;
}

/**
 * The smallest of `sizes` (lowest first) that covers a tile of `width` × `height` (both at
 * least the tile's; a size not known, 0, covers nothing), or the top when none does.
 */
export function coveringLayer(sizes: ReadonlyArray<{ width: number; height: number }>, width: number, height: number): number {
  const covering = sizes.findIndex((s) => s.width > 0 && s.width >= width && s.height >= height);
  return covering === -1 ? sizes.length - 1 : covering;
}

/** The layer the slot's tile needs: the smallest that covers it, or the top when the tile is not known. */
function neededLayer(slot: SlotDemand): number {
  if (slot.renderedWidth === undefined || slot.renderedHeight === undefined) return slot.layers.length - 1;
  return coveringLayer(slot.layers, slot.renderedWidth, slot.renderedHeight);
}

/**
 * Allocates `budgetBps` (the viewer's downlink for video) over its slots: every slot first
 * gets its lowest layer, in priority order, as long as it fits (else it is paused); then
 * slots are raised one layer at a time, in priority order, round after round, up to the
 * layer their tile needs, while the budget allows. Keeping a layer a slot already has needs
 * it to fit (the lowest layers: within `KEEP_LOWEST_SLACK` of the budget); taking a higher
 * one (or resuming) needs `UPGRADE_HEADROOM` more room.
 */
export function allocate(budgetBps: number, slots: readonly SlotDemand[]): SlotAllocation[] {
  const order = [...slots].filter((s) => s.layers.length > 0).sort((a, b) => b.priority - a.priority);
  const chosen = new Map<string, number>();
  let left = budgetBps;
  let slack = budgetBps * KEEP_LOWEST_SLACK;
  const fits = (slot: SlotDemand, layer: number, extra: number): boolean => {
    const keeps = slot.current !== undefined && layer <= slot.current;
    return (keeps ? extra : extra * UPGRADE_HEADROOM) <= left;
  };
  for (const slot of order) {
    const lowest = cost(slot.layers[0]!);
    const shown = slot.current !== undefined;
    if (shown ? lowest > left + slack : lowest * UPGRADE_HEADROOM > left) continue;
    chosen.set(slot.key, 0);
    left -= lowest;
    if (left < 0) {
      slack += left;
      left = 0;
    }
  }
  for (let raised = true; raised; ) {
    raised = false;
    for (const slot of order) {
      const layer = chosen.get(slot.key);
      if (layer === undefined || layer >= neededLayer(slot)) continue;
      const extra = cost(slot.layers[layer + 1]!) - cost(slot.layers[layer]!);
      if (!fits(slot, layer + 1, extra)) continue;
      chosen.set(slot.key, layer + 1);
      left -= extra;
      raised = true;
    }
  }
  return slots.map((slot) => {
    const layer = chosen.get(slot.key);
    if (slot.layers.length === 0) return { key: slot.key, layer: 0, reason: 'best' };
    if (layer === undefined) return { key: slot.key, layer: 'paused', reason: 'bandwidth' };
    const top = slot.layers.length - 1;
    const reason: AllocationReason = layer === top ? 'best' : layer >= neededLayer(slot) ? 'tile' : 'bandwidth';
    return { key: slot.key, layer, reason };
  });
}
