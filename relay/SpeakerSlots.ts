/**
 * Which cameras a viewer's slots show when there are more cameras than slots (a client has
 * `LIMITS.relayVideoSlots`): the ones who spoke last, as Jitsi's last-N does. Free slots go
 * to the latest speakers first, then in join order; once they are full, a camera whose
 * person starts speaking takes the slot of the shown camera whose person spoke longest ago
 * (or never) — so whoever talks is seen, and the featured tile can be theirs. Not swapped
 * out: the viewer's featured tile (pinned, or the speaker: its largest), a camera shown for
 * less than `MIN_SHOWN_MS` (two people taking turns do not make tiles come and go), and
 * shared screens (they take slots first, and keep them).
 */

/** A camera a viewer is shown, or could be. */
export interface SlotCandidate {
  /** The camera's publisher. */
  publisherId: string;
  /** When that person last spoke (ms; −Infinity: not since joining). */
  lastSpokeAt: number;
  /** Join order: of two who never spoke, the later joiner goes first. */
  order: number;
}

/** A camera a viewer's slot shows now. */
export interface ShownCamera extends SlotCandidate {
  /** The slot (its mid). */
  slot: string;
  /** When the slot started showing it (ms). */
  shownSince: number;
  /** The viewer's featured tile (its largest by far): never swapped out. */
  featured: boolean;
}

/** A camera stays in a slot at least this long once shown. */
export const MIN_SHOWN_MS = 3000;
/** Only someone who spoke this recently takes another's slot. */
export const RECENT_SPEECH_MS = 2000;

/** What to change in one viewer's full slots: each swap puts `publisherId` in `slot`. */
export function speakerSwaps(shown: readonly ShownCamera[], waiting: readonly SlotCandidate[], nowMs: number): Array<{ slot: string; publisherId: string }> {
  const speakers = waiting.filter((w) => nowMs - w.lastSpokeAt <= RECENT_SPEECH_MS).sort((a, b) => b.lastSpokeAt - a.lastSpokeAt);
  if (speakers.length === 0) return [];
  // Least recent speaker first; of those who never spoke, the latest joiner first.
  const evictable = shown
    .filter((s) => !s.featured && nowMs - s.shownSince >= MIN_SHOWN_MS)
    .sort((a, b) => a.lastSpokeAt - b.lastSpokeAt || b.order - a.order);
  const swaps: Array<{ slot: string; publisherId: string }> = [];
  for (const speaker of speakers) {
    const out = evictable[0];
    if (!out || out.lastSpokeAt >= speaker.lastSpokeAt) break;
    evictable.shift();
    swaps.push({ slot: out.slot, publisherId: speaker.publisherId });
  }
  return swaps;
}

/**
 * The featured one of a viewer's tiles, by the sizes it shows them at: the largest, when it is
 * at least twice the area of every other (a spotlight's large tile beside a strip; a grid has
 * none). Undefined when there is none.
 */
export function featuredSlot(views: ReadonlyArray<{ slot: string; width: number; height: number } | undefined>): string | undefined {
  let best: { slot: string; area: number } | undefined;
  let second = 0;
  for (const view of views) {
    if (!view) continue;
    const area = view.width * view.height;
    if (!best || area > best.area) {
      second = best?.area ?? 0;
      best = { slot: view.slot, area };
    } else {
      second = Math.max(second, area);
    }
  }
  return best && best.area > 0 && best.area >= 2 * second ? best.slot : undefined;
}
