/**
 * The weak-viewer benchmark's results (bench/weak-viewer.ts): their shape, the Markdown
 * table people read and the SVG plot (frame rate per cap level, relay beside P2P).
 */
import { lineChart, type ChartSeries } from './lineChart';
import type { TileWindow } from './tileWatch';

export type Setup = 'relay' | 'p2p';

/** How a cell started from full quality when its predecessor did not get back: its capped person rejoined, or a new meeting. */
export type FreshStart = null | `${string} rejoined` | 'new meeting';

/** Per viewer, per camera it watches. */
export type Views = Record<string, Record<string, TileWindow>>;

/** What each setup received at full quality, before any cap: the figures every cap is a share of. */
export interface FullQuality {
  /** What the capped viewer (Dan) received through his bottleneck, bit/s (payload + 28 bytes per datagram). */
  downBps: number;
  /** What the capped publisher (Ann) sent through her bottleneck, bit/s. */
  upBps: number;
  /** Every viewer's cameras over the window. */
  views: Views;
}

/** One cap on one setup: adapting (the first seconds after the cap), measured (after them), and the way back. */
interface Cell {
  setup: Setup;
  capBps: number;
  /** How the cell got to full quality when the previous one did not get back within the limit; null: it had. */
  freshStart: FreshStart;
  /** Whether every watched camera was at full quality when the cap was set. */
  startedAtFull: boolean;
  /** The machine's busy cores (of 2) in the measured window: near 2 means the figures are CPU-bound, not network-bound. */
  machineBusyCores: number;
  /** Of those, cores used by programs outside the benchmark (other work on the machine): well above 0 means the cell was disturbed. */
  otherCores: number;
  /** The first `adaptMs` after the cap was set. */
  adapting: Views;
  /** The following `measuredMs`: the cell's figures. */
  measured: Views;
  /** Longest audio gap (ms) in the measured window, per listener, per talker. */
  audioGapsMs: Record<string, Record<string, number>>;
  /** Per listener, per talker: where that longest gap started, ms into the listener's measured window (null: no gap); gaps at the same moment at every listener came from upstream or from the machine, not from one page. */
  audioGapAtMs: Record<string, Record<string, number | null>>;
  /** Per listener: how far its audio clock fell behind its page clock in the measured window (ms); a gap this explains is the machine's, not the network's. */
  audioClockSlipMs: Record<string, number>;
  /** Time (ms) from lifting the cap to the end of the first second at full quality (full width, unpaused, ≥ 70% of the full frame rate); null: not within the limit. */
  backToFullMs: number | null;
  /** What was still short of full quality at the end of each one-second check after the lift ("2.1 s Dan←Cat paused"): where the way back waited. */
  backHeldBy: string[];
  /** What the capped viewer's browser received per video stream in the measured window ("320: pkt 280 rcv 84 dec 84 drop 0 key 0 lost 2 nack 2 pli 0"): a camera the relay did not send told from one the browser did not decode. */
  cappedReceived: string;
  /** The bottleneck's counters over the cell (cap set → lifted). */
  bottleneck: { queueDropped: number; maxQueueMs: number };
  /**
   * Relay only: layer switches in the cell, cameras paused at the end, the capped person's
   * overlay at the end, and the mixer's frames concealed in the measured window (a talker's
   * packet missing or late at the relay, every talker): 0 means the relay mixed every frame
   * it was sent, so a gap a listener heard came after the mix.
   */
  relay?: { layerSwitches: number; pausedAtEnd: string[]; overlay: unknown; concealedFrames: number };
}

/** Dan's downlink capped at `percent` of what he received at full quality. */
export interface DownlinkCell extends Cell {
  percent: number;
}

/** Ann's uplink capped at `kbps`. */
export interface UplinkCell extends Cell {
  kbps: number;
}

/** What one meeting of four on the relay costs with simulcast layers or with one layer (`?layers=1`). */
export interface LayersCost {
  layers: 'simulcast' | 'one';
  seconds: number;
  /** Per publisher: video sent (outbound-rtp bytesSent, every layer), and each stream. */
  publishers: Record<string, { kbps: number; streams: Array<{ width: number; fps: number; kbps: number }> }>;
  /** CPU of the media worker processes (the relay and mixer), in cores; per participant = / 4. */
  relayCores: number;
  relayCoresPerParticipant: number;
  /** The whole machine's busy cores in the window (4 Chromium, coturn and the rest share 2 cores). */
  machineCores: number;
  /** Of those, cores used by programs outside the benchmark. */
  otherCores: number;
  /** What the unconstrained viewer (Ben) saw meanwhile. */
  seenByBen: Record<string, TileWindow>;
}

export interface WeakViewerResult {
  setups: Record<Setup, string>;
  timing: { queueMs: number; fullMs: number; adaptMs: number; measuredMs: number; recoveryLimitMs: number; costMs: number };
  full: Partial<Record<Setup, FullQuality>>;
  downlink: DownlinkCell[];
  uplink: UplinkCell[];
  layersCost: LayersCost[];
}

const min = (xs: number[]) => (xs.length === 0 ? NaN : Math.min(...xs));
const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
/** "fps / width / freeze" of each camera, e.g. "Ann 14.9/320/144". */
const camerasText = (tiles: Record<string, TileWindow> | undefined) =>
  tiles ? Object.entries(tiles).map(([n, t]) => `${n} ${f1(t.fps)}/${t.width}/${t.longestFreezeMs}`).join(', ') : '–';
const gapsText = (gaps: Record<string, number> | undefined) => (gaps ? Object.entries(gaps).map(([n, g]) => `${n} ${Math.round(g)}`).join(', ') : '–');
/** "; the relay concealed N frames" (the mix's view of every talker in the measured window), relay cells only. */
const concealedText = (c: Cell) => (c.relay ? `; the relay concealed ${framesText(c.relay.concealedFrames)}` : '');
export const framesText = (n: number) => `${n} frame${n === 1 ? '' : 's'}`;
/** " (clock slip N)" when the listener's audio clock fell behind by 20 ms or more. */
const slipText = (slip: number | undefined) => (slip !== undefined && Math.abs(slip) >= 20 ? ` (clock slip ${Math.round(slip)})` : '');
const backText = (ms: number | null, limitMs: number) => (ms === null ? `> ${limitMs / 1000} s` : `${(ms / 1000).toFixed(1)} s`);
const SETUP_NAME: Record<Setup, string> = { relay: 'relay (4)', p2p: 'P2P (2)' };

/** The lowest frame rate of any camera a viewer watched in a cell's measured window. */
export function lowestFps(views: Views, viewer: string): number {
  return min(Object.values(views[viewer] ?? {}).map((t) => t.fps));
}

/** The Markdown table: the setups, then one row per cell. */
export function weakViewerMarkdown(result: WeakViewerResult, header: string): string {
  const t = result.timing;
  const lines = [
    '# Weak viewer: the relay and P2P under the same caps (issue 18, item 7)',
    '',
    header,
    '',
    ...Object.entries(result.setups).map(([s, d]) => `- **${SETUP_NAME[s as Setup]}**: ${d}`),
    `- Caps: a user-space bottleneck (rate counting payload + 28 bytes, drop-tail, ${t.queueMs} ms queue) between one person and coturn. Downlink caps are shares of what Dan received at full quality in the same run (each setup its own full rate); uplink caps are on Ann, everyone else unconstrained.`,
    `- Each cell: ${t.adaptMs / 1000} s to adapt, then ${t.measuredMs / 1000} s measured; "back" = from lifting the cap to the end of the first second in which every watched camera is at its full-quality width, unpaused and at ≥ 70% of its full-quality frame rate (limit ${t.recoveryLimitMs / 1000} s); when a cell did not get back, its capped person rejoins before the next (or, failing that, a new meeting starts), so every cell starts from full quality. Camera figures read fps/width/longest freeze (ms). Audio: the longest gap of each talker (ms); "clock slip" = how far that listener's audio clock fell behind meanwhile (the machine starving the page's audio, not the network). "Machine busy": cores of 2 busy in the measured window (the browsers, coturn, the server and anything else on the machine); "others": of those, programs outside this benchmark (other work disturbing the figures).`,
    '',
    '## Full quality (no cap)',
    '',
    '| setup | Dan receives | Ann sends | what Dan sees | what Ben sees |',
    '| --- | ---: | ---: | --- | --- |',
    ...Object.entries(result.full).map(([s, f]) => `| ${SETUP_NAME[s as Setup]} | ${Math.round(f.downBps / 1000)} kbit/s | ${Math.round(f.upBps / 1000)} kbit/s | ${camerasText(f.views['Dan'])} | ${camerasText(f.views['Ben'])} |`),
    '',
    '## Slow downlink: Dan capped',
    '',
    '| setup | cap | Dan sees (measured) | Dan: longest freeze while adapting | Dan hears (longest gap, ms) | Ben sees (unconstrained) | Ben hears | back | machine busy (others) |',
    '| --- | ---: | --- | ---: | --- | --- | --- | ---: | ---: |',
    ...result.downlink.map((c) => `| ${SETUP_NAME[c.setup]} | ${c.percent}% = ${Math.round(c.capBps / 1000)} kbit/s${c.freshStart ? ` (${c.freshStart} first)` : ''} | ${camerasText(c.measured['Dan'])} | ${Math.max(0, ...Object.values(c.adapting['Dan'] ?? {}).map((w) => w.longestFreezeMs))} | ${gapsText(c.audioGapsMs['Dan'])}${slipText(c.audioClockSlipMs['Dan'])}${concealedText(c)} | ${c.setup === 'p2p' ? 'no other viewer in a call of two' : camerasText(c.measured['Ben'])} | ${gapsText(c.audioGapsMs['Ben'])}${slipText(c.audioClockSlipMs['Ben'])} | ${backText(c.backToFullMs, t.recoveryLimitMs)}${c.startedAtFull ? '' : ' (started below full)'} | ${c.machineBusyCores} (${c.otherCores}) |`),
    '',
    "## Slow uplink: Ann capped (her camera at every viewer)",
    '',
    "| setup | cap | Ann's camera at each viewer (measured) | longest freeze while adapting | Ann heard (longest gap, ms) | back | machine busy (others) |",
    '| --- | ---: | --- | ---: | --- | ---: | ---: |',
    ...result.uplink.map((c) => `| ${SETUP_NAME[c.setup]} | ${c.kbps} kbit/s${c.freshStart ? ` (${c.freshStart} first)` : ''} | ${Object.entries(c.measured).map(([v, tiles]) => `${v}: ${f1(tiles['Ann']?.fps)}/${tiles['Ann']?.width ?? 0}/${tiles['Ann']?.longestFreezeMs ?? '–'}`).join(', ')} | ${Math.max(0, ...Object.values(c.adapting).map((tiles) => tiles['Ann']?.longestFreezeMs ?? 0))} | ${Object.entries(c.audioGapsMs).map(([v, g]) => `${v} ${Math.round(g['Ann'] ?? NaN)}${slipText(c.audioClockSlipMs[v])}`).join(', ')}${concealedText(c)} | ${backText(c.backToFullMs, t.recoveryLimitMs)}${c.startedAtFull ? '' : ' (started below full)'} | ${c.machineBusyCores} (${c.otherCores}) |`),
    '',
    '## What layers cost (four on the relay, no cap, everyone direct)',
    '',
    '| layers | video each publisher sends (kbit/s; streams width@fps) | relay CPU (media workers) | per participant | machine busy (others) | Ben sees |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...result.layersCost.map((c) => `| ${c.layers === 'one' ? 'one (`?layers=1`)' : 'simulcast'} | ${Object.entries(c.publishers).map(([n, p]) => `${n} ${Math.round(p.kbps)} (${p.streams.map((s) => `${s.width}@${s.fps}: ${Math.round(s.kbps)}`).join(' + ')})`).join('; ')} | ${(c.relayCores * 100).toFixed(1)}% | ${(c.relayCoresPerParticipant * 100).toFixed(2)}% | ${c.machineCores} (${c.otherCores}) | ${camerasText(c.seenByBen)} |`),
    '',
  ];
  return lines.join('\n');
}

/** Two charts side by side in one SVG. */
function sideBySide(left: string, right: string): string {
  const inner = (svg: string, x: number) => svg.replace('<svg xmlns="http://www.w3.org/2000/svg"', `<svg x="${x}"`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1520" height="420" viewBox="0 0 1520 420">\n${inner(left, 0)}${inner(right, 760)}</svg>\n`;
}

/** The plot: the lowest camera frame rate at the capped viewer per downlink cap, and Ann's camera at its slowest viewer per uplink cap; relay beside P2P. */
export function weakViewerSvg(result: WeakViewerResult, subtitle: string): string {
  const downSeries = (['relay', 'p2p'] as const).flatMap((s): ChartSeries[] => {
    const cells = result.downlink.filter((c) => c.setup === s);
    if (cells.length === 0) return [];
    const series: ChartSeries[] = [{ label: `${SETUP_NAME[s]}: Dan, slowest camera`, points: cells.map((c) => [c.percent, lowestFps(c.measured, 'Dan')]) }];
    if (s === 'relay') series.push({ label: `${SETUP_NAME[s]}: Ben (unconstrained), slowest camera`, points: cells.map((c) => [c.percent, lowestFps(c.measured, 'Ben')]) });
    return series;
  });
  const upSeries = (['relay', 'p2p'] as const).flatMap((s): ChartSeries[] => {
    const cells = result.uplink.filter((c) => c.setup === s);
    if (cells.length === 0) return [];
    return [{ label: `${SETUP_NAME[s]}: Ann's camera at her slowest viewer`, points: cells.map((c) => [c.kbps, min(Object.values(c.measured).map((tiles) => tiles['Ann']?.fps ?? 0))]) }];
  });
  const down = lineChart({ title: `Slow downlink: fps at the capped viewer (${subtitle})`, xLabel: "cap (% of the full streams)", yLabel: 'frames per second', series: downSeries, limit: { y: 10, label: 'target ≥ 10 fps' } });
  const up = lineChart({ title: 'Slow uplink: fps of the capped publisher', xLabel: 'cap on Ann’s uplink (kbit/s)', yLabel: 'frames per second', series: upSeries, limit: { y: 10, label: 'target ≥ 10 fps' } });
  return sideBySide(down, up);
}
