/**
 * The size in device pixels at which an element is shown, reported when it changes and
 * null when the element goes (the relay then knows that video is not shown).
 */
import type { RefObject } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { RenderSize } from '../media/RelayView';

/** Observes `ref`'s element (client size × devicePixelRatio, rounded) while `onSize` is given. */
export function useRenderSize(ref: RefObject<HTMLElement | null>, onSize: ((size: RenderSize | null) => void) | undefined): void {
  // The latest callback, so a re-render with a new closure neither re-observes nor re-reports.
  const latest = useRef(onSize);
  latest.current = onSize;
  const observing = onSize !== undefined;
  useLayoutEffect(() => {
    const el = ref.current;
    if (!observing || !el || typeof ResizeObserver === 'undefined') return;
    let last: RenderSize | null = null;
    const measure = () => {
      const ratio = window.devicePixelRatio || 1;
      const size = { width: Math.round(el.clientWidth * ratio), height: Math.round(el.clientHeight * ratio) };
      if (last && last.width === size.width && last.height === size.height) return;
      last = size;
      latest.current?.(size);
    };
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    measure();
    return () => {
      observer.disconnect();
      latest.current?.(null);
    };
  }, [ref, observing]);
}
