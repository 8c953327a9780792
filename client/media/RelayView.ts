/**
 * What this client tells the relay about how it shows each relay video slot (`relay-view`):
 * the size in device pixels of the tile showing the slot's participant (0 × 0 when none does),
 * so the relay need not send a layer larger than the tile. Sizes come from the UI per
 * participant and source; the slot table turns them into mids. Changes are coalesced: one
 * message at most every `REPORT_DELAY_MS`, and only when something changed.
 */
import type { SlotView, VideoSource } from '../../protocol/signaling';

/** A picture size in device pixels. */
export interface RenderSize {
  width: number;
  height: number;
}

/** The key of one received video, as the UI and the relay slot table both name it. */
export function videoKey(participantId: string, source: VideoSource): string {
  return `${participantId}:${source}`;
}

/**
 * Coalescing a tile resize (a layout change moves every tile at once, and a window drag
 * fires many times a second) into one message, soon enough that a tile made large gets the
 * top layer within a moment.
 */
export const REPORT_DELAY_MS = 300;

export class RelayView {
  private pending: SlotView[] | null = null;
  private lastSent: string | null = null;
  /** The next message asks the relay to send its state again (see `forget`). */
  private resync = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly send: (slots: SlotView[], resync: boolean) => void) {}

  /** The view as it is now; sent after the delay unless it is what the relay was told last. */
  update(slots: SlotView[]): void {
    if (this.closed) return;
    this.pending = slots;
    this.timer ??= setTimeout(() => this.flush(), REPORT_DELAY_MS);
  }

  /**
   * Signaling came back on a new socket: the relay may not have kept what it was told, and
   * what it sent meanwhile was lost. The next update is sent even if unchanged, asking the
   * relay to send its state again.
   */
  forget(): void {
    this.lastSent = null;
    this.resync = true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private flush(): void {
    this.timer = null;
    const slots = this.pending;
    this.pending = null;
    if (this.closed || !slots) return;
    const text = JSON.stringify(slots);
    if (text === this.lastSent) return;
    this.lastSent = text;
    this.send(slots, this.resync);
    this.resync = false;
  }
}
