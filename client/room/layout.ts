/**
 * Which tile is shown large. Up to four tiles share a grid; with more (or whenever a screen
 * is shared, or a tile is pinned) one tile is featured large and the others go in a strip:
 * a pinned tile, else another person's shared screen, else the active speaker (your own
 * screen and camera only when there is nothing else). The featured tile stays while it still qualifies, so people talking over each
 * other do not make it flicker.
 */
import type { VideoSource } from '../../protocol/signaling';

/** More tiles than this and the grid becomes speaker + strip. */
export const GRID_MAX_TILES = 4;

/** What the layout needs to know of a tile. */
export interface LayoutTile {
  key: string;
  self: boolean;
  source: VideoSource;
  speaking: boolean;
}

export type Layout = { mode: 'grid' } | { mode: 'spotlight'; featured: string };

/**
 * Chooses the layout for `tiles` (in display order). `previous` is the tile featured last
 * time (kept while it qualifies); `pinned` one the person chose to see large.
 */
export function chooseLayout(tiles: readonly LayoutTile[], previous: string | null, pinned: string | null): Layout {
  const present = (key: string | null): LayoutTile | undefined => (key === null ? undefined : tiles.find((t) => t.key === key));
  const pin = present(pinned);
  if (pin) return { mode: 'spotlight', featured: pin.key };
  const kept = present(previous);
  // Another person's screen: the one shown already, else the first. Your own screen is
  // not what you want to look at (you see it on your screen already): it stays small.
  const remoteScreen = (kept?.source === 'screen' && !kept.self ? kept : undefined) ?? tiles.find((t) => t.source === 'screen' && !t.self);
  if (remoteScreen) return { mode: 'spotlight', featured: remoteScreen.key };
  const sharing = tiles.some((t) => t.source === 'screen');
  if (!sharing && tiles.length <= GRID_MAX_TILES) return { mode: 'grid' };
  const others = tiles.filter((t) => !t.self && t.source === 'camera');
  const speaker = others.find((t) => t.speaking);
  // The featured speaker stays while talking, or while nobody else talks.
  const featured = (kept && !kept.self && (kept.speaking || !speaker) ? kept : undefined) ?? speaker ?? kept ?? others[0] ?? tiles[0]!;
  return { mode: 'spotlight', featured: featured.key };
}
