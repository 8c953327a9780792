/**
 * What a meeting page shows and sends, read from the page itself (no polling latency from
 * Node): per camera tile its frame rate, longest freeze and picture width over a window;
 * which tiles are paused for bandwidth; what its camera sends (outbound-rtp, every layer).
 * The page functions name no inner function (not even `const f = () => …`): tsx's
 * `keepNames` helper (`__name`) does not exist in the page.
 */
import type { Page } from 'playwright-core';

/** One camera tile over a window: frames per second, the longest time without a new frame, the picture width at the end. */
export interface TileWindow {
  fps: number;
  longestFreezeMs: number;
  width: number;
}

/** Watches the camera tiles of `names` on `page` for `ms` (on the page's own clock, sampled every 20 ms). */
export function watchTiles(page: Page, names: readonly string[], ms: number): Promise<Record<string, TileWindow>> {
  return page.evaluate(async ([who, span]) => {
    const state = new Map(who.map((n) => [n, { first: -1, last: -1, lastChangeAt: performance.now(), longest: 0 }]));
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        for (const n of who) {
          const s = state.get(n)!;
          const v = document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"]:not([data-source="screen"]) video`);
          const frames = v && v.videoWidth > 0 ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
          if (s.first < 0) s.first = frames;
          if (frames !== s.last) {
            s.longest = Math.max(s.longest, now - s.lastChangeAt);
            s.lastChangeAt = now;
            s.last = frames;
          }
        }
        if (now - start >= span) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    const end = performance.now();
    return Object.fromEntries(who.map((n) => {
      const s = state.get(n)!;
      // A frame counter that restarted (a new <video> for a reassigned slot) counts from zero.
      const frames = s.first < 0 || s.last < 0 ? 0 : s.last >= s.first ? s.last - s.first : s.last;
      const fps = Math.round(((frames * 1000) / (end - start)) * 10) / 10;
      return [n, { fps, longestFreezeMs: Math.round(Math.max(s.longest, end - s.lastChangeAt)), width: document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"]:not([data-source="screen"]) video`)?.videoWidth ?? 0 }];
    }));
  }, [names, ms] as const);
}

/** The picture width of each camera tile of `names` on `page` (0: none decoded), and whether it is paused for bandwidth. */
export function tileStates(page: Page, names: readonly string[]): Promise<Record<string, { width: number; paused: boolean }>> {
  return page.evaluate((who) => Object.fromEntries(who.map((n) => {
    const el = document.querySelector<HTMLElement>(`[data-testid="video-tile"][data-participant="${n}"]:not([data-source="screen"])`);
    return [n, { width: el?.querySelector('video')?.videoWidth ?? 0, paused: el?.dataset['paused'] === 'bandwidth' }];
  })), names);
}

/** What a relay page's stats overlay says: per camera its layer row (or pause), and the relay's estimate of this viewer's downlink. */
export function overlayOf(page: Page): Promise<{ layers: Record<string, string>; estimateBps: number | null; videoBps: number | null }> {
  return page.evaluate(() => {
    const layers: Record<string, string> = {};
    for (const row of document.querySelectorAll<HTMLElement>('[data-testid="stats-layer"]')) {
      layers[row.dataset['participant'] ?? '?'] = `${row.textContent?.trim() ?? ''}${row.dataset['paused'] ? ' [paused]' : ''}`;
    }
    const downlink = document.querySelector<HTMLElement>('[data-testid="stats-downlink-estimate"]');
    const estimateBps = Number(downlink?.dataset['estimateBps'] ?? NaN);
    const videoBps = Number(downlink?.dataset['videoBps'] ?? NaN);
    return { layers, estimateBps: Number.isFinite(estimateBps) ? estimateBps : null, videoBps: Number.isFinite(videoBps) ? videoBps : null };
  });
}

/** Page script (install with the page's other init scripts): keeps every RTCPeerConnection the app makes, for `sentVideo`. */
export const PEER_CONNECTION_REGISTRY = `(() => {
  if (window.__benchPcList) return;
  const list = window.__benchPcList = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); list.push(this); }
  };
})();`;

/** A video stats record of the page's peer connections: its fields as getStats() gives them. */
type StatsRecord = Record<string, string | number | undefined>;

/** Every `type` (outbound-rtp or inbound-rtp) video record of the page's open peer connections (needs `PEER_CONNECTION_REGISTRY`). */
function videoStats(page: Page, type: 'outbound-rtp' | 'inbound-rtp'): Promise<StatsRecord[]> {
  return page.evaluate(async (wanted) => {
    const list = (window as unknown as { __benchPcList?: RTCPeerConnection[] }).__benchPcList ?? [];
    const out: Array<Record<string, string | number | undefined>> = [];
    for (const pc of list) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s: Record<string, string | number | undefined>) => {
        if (s['type'] === wanted && s['kind'] === 'video') out.push({ ...s });
      });
    }
    return out;
  }, type);
}

const num = (s: StatsRecord, key: string): number => Number(s[key] ?? 0);

/** One sent video stream (a simulcast layer or the one camera stream): its SSRC, bytes so far, and what it carries now. */
export interface SentVideoStream {
  ssrc: number;
  bytesSent: number;
  width: number;
  fps: number;
  /** The rate the browser's encoder aims at (bit/s; 0 when it does not say). */
  targetBps: number;
  /** Why the browser sends less than the camera gives ('none', 'bandwidth', 'cpu', 'other'). */
  limitedBy: string;
}

/** Every outbound-rtp video stream of the page's open peer connections (needs `PEER_CONNECTION_REGISTRY`). */
export async function sentVideo(page: Page): Promise<SentVideoStream[]> {
  return (await videoStats(page, 'outbound-rtp')).map((s) => ({
    ssrc: num(s, 'ssrc'), bytesSent: num(s, 'bytesSent'), width: num(s, 'frameWidth'), fps: num(s, 'framesPerSecond'), targetBps: num(s, 'targetBitrate'), limitedBy: String(s['qualityLimitationReason'] ?? '?'),
  }));
}

/** One received video stream's counters so far (inbound-rtp), by its m-line. */
export interface ReceivedVideoStream {
  mid: string;
  width: number;
  framesReceived: number;
  framesDecoded: number;
  framesDropped: number;
  keyFramesDecoded: number;
  packetsReceived: number;
  packetsLost: number;
  nackCount: number;
  pliCount: number;
}

/** Every inbound-rtp video stream of the page's open peer connections (needs `PEER_CONNECTION_REGISTRY`). */
export async function receivedVideo(page: Page): Promise<ReceivedVideoStream[]> {
  return (await videoStats(page, 'inbound-rtp')).map((s) => ({
    mid: String(s['mid'] ?? '?'), width: num(s, 'frameWidth'), framesReceived: num(s, 'framesReceived'), framesDecoded: num(s, 'framesDecoded'), framesDropped: num(s, 'framesDropped'),
    keyFramesDecoded: num(s, 'keyFramesDecoded'), packetsReceived: num(s, 'packetsReceived'), packetsLost: num(s, 'packetsLost'), nackCount: num(s, 'nackCount'), pliCount: num(s, 'pliCount'),
  }));
}
