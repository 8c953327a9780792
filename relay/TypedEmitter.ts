/**
 * A minimal typed event emitter whose listeners cannot hurt the emitter or each other: a
 * listener that throws is reported through `onListenerError` and the next one still runs.
 */

type Listener = (...args: never[]) => void;

/** Typed, exception-isolating event emitter (composition helper for the relay's public classes). */
export class TypedEmitter<Events extends { [E in keyof Events]: Listener }> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  constructor(private readonly onListenerError: (event: keyof Events, error: unknown) => void) {}

  /** Adds a listener. */
  on<E extends keyof Events>(event: E, listener: Events[E]): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  /** Removes a listener added with `on`. */
  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Calls every listener of `event`; a throwing listener is reported, never propagated. */
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }

  /** Drops every listener (on close, so nothing keeps the owner's listeners alive). */
  removeAllListeners(): void {
    this.listeners.clear();
  }
}
