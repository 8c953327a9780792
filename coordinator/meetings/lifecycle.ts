/** A meeting's life: open until cancelled by its creator or ended when the last one left. */
export type MeetingLifecycle = 'open' | 'cancelled' | 'ended';

const ALLOWED: Record<MeetingLifecycle, readonly MeetingLifecycle[]> = {
  open: ['cancelled', 'ended'],
  cancelled: [],
  ended: [],
};

/** True when the table allows moving from `from` to `to`. */
export function canTransition(from: MeetingLifecycle, to: MeetingLifecycle): boolean {
  return ALLOWED[from].includes(to);
}
