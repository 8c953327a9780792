/**
 * One timer driving every synthetic media source of a process (N timers would cost more than
 * the media): members are asked to push what is due at each tick; the timer runs only while
 * there are members, so a process ends once its last source closed.
 */
export class MediaClock<T extends { pump(now: number): void }> {
  private readonly members = new Set<T>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly periodMs: number) {}

  add(member: T): void {
    this.members.add(member);
    this.timer ??= setInterval(() => {
      const now = performance.now();
      for (const m of this.members) m.pump(now);
    }, this.periodMs);
  }

  remove(member: T): void {
    this.members.delete(member);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
