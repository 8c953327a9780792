/**
 * Which of a publisher's camera layers anyone watches (LiveKit's dynacast, Jitsi's suspended
 * layers): a layer above the largest one any viewer's tile of that camera needs is paused at
 * the publisher — its browser stops encoding and sending it — and resumed as soon as a tile
 * needs it again. In a meeting of more than four, only the featured speaker's tile is large:
 * every other camera stops encoding its top layer, the largest part of what a page spends on
 * its own video (a weak laptop, or six people on two cores, has that to give to the rest).
 * A camera no viewer has a slot for (more cameras than a client's relay slots) stops
 * altogether, its uplink too.
 *
 * The lowest layer stays on while any viewer has a slot showing the camera: a strip tile
 * needs it, so does a viewer whose downlink carries no more, and a tile shown at once (or a
 * window scrolled back) needs a picture at once.
 */

import { coveringLayer } from './allocate';

/** A picture size in pixels; 0 × 0 when not known. */
export interface PictureSize {
  width: number;
  height: number;
}

/**
 * A layer stays on this long after the last tile that needed it went: a speaker featured
 * again soon, or a window being resized, does not cost a pause and a resume (each resume
 * costs the viewer a moment of the smaller layer and the publisher a keyframe).
 */
export const UNWATCHED_PAUSE_MS = 5000;

/**
 * The layer sizes, those not known (not sent yet, or paused since the start) derived from a
 * known one: each layer is half the next in both dimensions (client/media/simulcast.ts).
 * Undefined when none is known.
 */
function layerSizes(sizes: readonly PictureSize[]): PictureSize[] | undefined {
  const known = sizes.findIndex((s) => s.width > 0 && s.height > 0);
  if (known === -1) return undefined;
  const { width, height } = sizes[known]!;
  return sizes.map((s, i) => (s.width > 0 && s.height > 0 ? s : { width: width * 2 ** (i - known), height: height * 2 ** (i - known) }));
}

/** What `highestNeededLayer` says of a camera no viewer has a slot for. */
export const NOBODY = -1;

/**
 * The highest layer any viewer needs: for each view (a tile's size in device pixels), the
 * smallest layer at least as large, or the top when none is; a view not told (undefined)
 * needs the top, a tile not shown (0 × 0) the lowest. The top when no layer size is known;
 * `NOBODY` when there is no view at all.
 */
export function highestNeededLayer(sizes: readonly PictureSize[], views: readonly (PictureSize | undefined)[]): number {
  if (views.length === 0) return NOBODY;
  const top = sizes.length - 1;
  const known = layerSizes(sizes);
  if (!known) return top;
  let highest = 0;
  for (const view of views) {
    if (view === undefined) return top;
    highest = Math.max(highest, coveringLayer(known, Math.max(1, view.width), Math.max(1, view.height)));
    if (highest === top) return top;
  }
  return highest;
}

/** One publisher's camera layers: which are on, and when each was last needed. */
export class PublisherLayers {
  /** What the publisher was last told (undefined: nothing yet, every layer on as it starts; null: not known). */
  private told: boolean[] | null | undefined;
  private readonly neededAt: number[] = [];

  /**
   * The layers that should be on now, given the highest any viewer needs (`highest`, of
   * `count`; `NOBODY`: no viewer has a slot for the camera), when that differs from what the
   * publisher was last told; undefined when it does not. A layer goes off once no tile has
   * needed it for `UNWATCHED_PAUSE_MS`; on again at once. Every layer counts as needed when
   * first seen (the publisher starts them all).
   */
  update(count: number, highest: number, nowMs: number): boolean[] | undefined {
    const active: boolean[] = [];
    for (let layer = 0; layer < count; layer++) {
      if (layer <= highest || this.neededAt[layer] === undefined) this.neededAt[layer] = nowMs;
      active.push(nowMs - this.neededAt[layer]! < UNWATCHED_PAUSE_MS);
    }
    const before = this.told === undefined ? active.map(() => true) : this.told;
    if (before && before.length === active.length && before.every((on, i) => on === active[i])) return undefined;
    this.told = active;
    return active;
  }

  /** How many layers are off now (as last told). */
  get paused(): number {
    return this.told?.filter((on) => !on).length ?? 0;
  }

  /** A new connection of the publisher: it starts every layer again. */
  restart(): void {
    this.told = undefined;
    this.neededAt.length = 0;
  }

  /** What the publisher has is not known (it may have missed a message): the next update tells it. */
  forget(): void {
    this.told = null;
  }
}
