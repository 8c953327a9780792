/**
 * What Chromium pages measure, for the browser benchmarks (join time, mouth to ear, switch
 * gap) and the tests' audio-gap helper.
 *
 * Page side: an init script (`probeInitScript`) that timestamps everything with the page's
 * own `performance.now()`, so no Node-side polling latency enters a figure:
 * - signaling: every `joined`/`topology`/… message as it arrives on the WebSocket, and the
 *   client's own `path-ready`/`join`/`relay-offer` as it sends them (a WebSocket subclass);
 * - audio: every playing remote `<audio data-testid=remote-audio>` element (found by a 5 ms
 *   scan, and at once when the app changes the DOM or a `srcObject`) is tapped, and counts as heard only while it is not muted (a switch's standby path
 *   may play muted until the commit; `volumechange` gives the exact moment). Each tap is a
 *   MediaStreamSource into an AudioWorklet that measures the level at the talkers'
 *   frequencies over consecutive 256-frame blocks (5.3 ms at 48 kHz, 5.8 ms at 44.1 kHz —
 *   the rate headless Chromium picks here) with a Blackman-windowed Goertzel filter, scaled
 *   like AnalyserNode's dB (so the tests' −50 dB "heard" threshold means the same here). Blocks carry their audio-clock frame number, so
 *   gaps are measured on the audio clock with one-block resolution;
 * - video: `requestVideoFrameCallback` on the `<video>` of chosen tiles, re-attached when the
 *   element or its `srcObject` changes; every presented frame's `presentationTime` is kept.
 * Each of these is a named page step below (`PAGE_*`), put together by `probeInitScript`.
 * Node side: reading the probe back, mapping audio frames to `performance.now()`, gap and
 * freeze searches.
 *
 * The page code is a plain string (not a serialised TS function): tsx's `keepNames`
 * helpers would not exist in the page.
 */
import type { Page } from 'playwright-core';
import { round } from './figures';

/** Frames per analysis block (5.33 ms at 48 kHz, 5.8 ms at 44.1 kHz). */
export const AUDIO_BLOCK = 256;
/** A tone counts as heard above this (AnalyserNode-like dB, as HEARD_DB in tests/helpers/media.ts). */
export const HEARD_DB = -50;

export interface ProbeOptions {
  /** Frequencies (Hz) whose level is measured in the received audio. */
  frequencies: number[];
  /** Display names whose tile video is watched. */
  videoOf: string[];
}

/** A signaling message seen by the page (received, or `sent:<type>` for our own). */
export interface ProbeSignal {
  t: number;
  /** For `topology`/`joined`: when the task that handled it ended (render included). */
  taskEnd?: number;
  type: string;
  mode?: string;
  target?: string;
  epoch?: number;
}

/** One tapped remote audio element (one element + one stream). */
export interface ProbeAudioSource {
  key: string;
  /** `p2p` when the stream also carries video (a peer's stream), `relay` for the mix. */
  kind: 'p2p' | 'relay';
  attachedAt: number;
  detachedAt: number | null;
  /** Audio frame at which the tap was connected. */
  attachedFrame: number;
  /** [page time, audible]: whether the element let the user hear it (not muted, volume > 0), from the tap on. */
  audible: [number, boolean][];
  /** Per block: [startFrame, level dB at frequencies[0], level at frequencies[1], …]. */
  rows: number[][];
}

/** What the page collected. Times are the page's `performance.now()` (ms). */
export interface ProbeData {
  timeOrigin: number;
  sampleRate: number;
  frequencies: number[];
  signals: ProbeSignal[];
  audio: ProbeAudioSource[];
  /** Pairs [performance.now() at message receipt, audio frame at the end of the newest block]. */
  clock: [number, number][];
  video: Record<string, { frames: number[]; changes: { t: number; what: string }[] }>;
  /** Remote audio elements as the DOM saw them: added, srcObject set, `playing` fired, removed. */
  audioElements: { t: number; element: number; what: string; kind?: 'p2p' | 'relay' }[];
  /** Peer connections: creation (`new`) and every connectionState change. */
  pcs: { id: number; t: number; state: string }[];
  /** Every RTCPeerConnection.close(): [start, duration] (it blocks the main thread). */
  pcCloses: [number, number][];
  /** Main-thread tasks longer than 50 ms (Long Tasks API): [start, duration]. */
  longTasks: [number, number][];
  errors: string[];
}

const WORKLET_SOURCE = String.raw`
class BenchToneProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const p = options.processorOptions;
    this.block = p.block;
    this.freqs = p.freqs;
    this.buf = new Float32Array(this.block);
    this.n = 0;
    this.start = 0;
    this.out = [];
    this.lastPost = currentFrame;
    this.stopped = false;
    const N = this.block;
    this.win = new Float32Array(N);
    for (let i = 0; i < N; i++) this.win[i] = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (N - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (N - 1));
    this.cos = this.freqs.map((f) => Float32Array.from({ length: N }, (_, i) => Math.cos((2 * Math.PI * f * i) / sampleRate)));
    this.sin = this.freqs.map((f) => Float32Array.from({ length: N }, (_, i) => Math.sin((2 * Math.PI * f * i) / sampleRate)));
    this.port.onmessage = (e) => { if (e.data === 'stop') this.stopped = true; };
  }
  process(inputs) {
    if (this.stopped) { this.flush(); return false; }
    const input = inputs[0];
    const ch = input && input.length > 0 ? input[0] : null;
    const len = ch ? ch.length : 128;
    for (let i = 0; i < len; i++) {
      if (this.n === 0) this.start = currentFrame + i;
      this.buf[this.n++] = ch ? ch[i] : 0;
      if (this.n === this.block) { this.analyse(); this.n = 0; }
    }
    if (currentFrame - this.lastPost >= sampleRate * 0.04) this.flush();
    return true;
  }
  analyse() {
    const N = this.block;
    const row = [this.start];
    for (let k = 0; k < this.freqs.length; k++) {
      const c = this.cos[k], s = this.sin[k];
      let re = 0, im = 0;
      for (let i = 0; i < N; i++) { const x = this.buf[i] * this.win[i]; re += x * c[i]; im -= x * s[i]; }
      const mag = Math.sqrt(re * re + im * im) / N;
      row.push(mag > 0 ? Math.round(20 * Math.log10(mag) * 10) / 10 : -200);
    }
    this.out.push(row);
  }
  flush() {
    if (this.out.length > 0) { this.port.postMessage({ rows: this.out, frame: currentFrame }); this.out = []; }
    this.lastPost = currentFrame;
  }
}
registerProcessor('bench-tone', BenchToneProcessor);
`;

/** Page step: every peer connection's creation and state changes (what a switch waits for), and how long each `close()` blocks the page. */
const PAGE_PEER_CONNECTIONS = `  // Every peer connection's life: created, connection states (what a switch waits for).
  const NativePeerConnection = window.RTCPeerConnection;
  let nextPc = 1;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      const id = nextPc++;
      P.pcs.push({ id, t: performance.now(), state: 'new' });
      this.addEventListener('connectionstatechange', () => P.pcs.push({ id, t: performance.now(), state: this.connectionState }));
    }
  };
  const nativeClose = NativePeerConnection.prototype.close;
  NativePeerConnection.prototype.close = function () {
    const t0 = performance.now();
    try { return nativeClose.call(this); } finally { P.pcCloses.push([t0, Math.round((performance.now() - t0) * 10) / 10]); }
  };
`;

/** Page step: the exact moment the app mutes, unmutes or re-sources a media element (the 5 ms scan alone would blur a switch's timeline). */
const PAGE_MEDIA_ELEMENT_HOOKS = `  // Exact times for what the app does to media elements (the 5 ms scan is only a fallback).
  const mutedHooks = new WeakMap();
  let scanSoon = () => {};
  const mutedDesc = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'muted');
  Object.defineProperty(HTMLMediaElement.prototype, 'muted', { configurable: true, enumerable: mutedDesc.enumerable, get: mutedDesc.get,
    set(value) { mutedDesc.set.call(this, value); const hook = mutedHooks.get(this); if (hook) hook(); } });
  const srcDesc = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', { configurable: true, enumerable: srcDesc.enumerable, get: srcDesc.get,
    set(value) { srcDesc.set.call(this, value); scanSoon(); } });
`;

/** Page step: main-thread tasks over 50 ms, which show up as audio gaps or frozen frames. */
const PAGE_LONG_TASKS = `  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) P.longTasks.push([Math.round(e.startTime * 10) / 10, Math.round(e.duration * 10) / 10]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (err) { P.errors.push('longtask: ' + err); }
`;

/** Page step: signaling messages in and ours out, stamped on arrival (and when the task handling them ended), so no Node-side polling enters a timeline. */
const PAGE_SIGNALING = `  // When the task that handled a message ended (its microtasks, e.g. the render, included).
  const taskEnd = (record) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { record.taskEnd = performance.now(); channel.port1.close(); };
    channel.port2.postMessage(0);
  };
  const TRACKED = new Set(['joined', 'topology', 'participant-joined', 'participant-left', 'relay-answer', 'relay-slots', 'meeting-closed']);
  const SENT = new Set(['join', 'path-ready', 'relay-offer', 'leave']);
  const NativeWebSocket = window.WebSocket;
  class ProbeWebSocket extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (e) => {
        const t = performance.now();
        try {
          const m = JSON.parse(String(e.data));
          if (!m || !TRACKED.has(m.type)) return;
          const src = m.type === 'joined' ? m.meeting : m;
          const record = { t, type: m.type, mode: src.mode, target: src.target, epoch: src.epoch };
          P.signals.push(record);
          if (m.type === 'topology' || m.type === 'joined') taskEnd(record);
        } catch (err) { P.errors.push('ws: ' + err); }
      });
    }
    send(data) {
      try {
        const m = JSON.parse(String(data));
        if (m && SENT.has(m.type)) P.signals.push({ t: performance.now(), type: 'sent:' + m.type, epoch: m.epoch });
      } catch {}
      return super.send(data);
    }
  }
  window.WebSocket = ProbeWebSocket;
`;

/** Page step: our own silent AudioContext with the Goertzel worklet, so the taps measure what the elements play without adding to it. */
const PAGE_AUDIO_CONTEXT = `  const ctx = new AudioContext({ latencyHint: 'interactive' });
  P.sampleRate = ctx.sampleRate;
  const sink = ctx.createGain();
  sink.gain.value = 0;
  sink.connect(ctx.destination);
  let ready = false;
  const moduleUrl = URL.createObjectURL(new Blob([${JSON.stringify(WORKLET_SOURCE)}], { type: 'application/javascript' }));
  ctx.audioWorklet.addModule(moduleUrl).then(() => { ready = true; }, (err) => P.errors.push('worklet: ' + err));
  const resume = () => { if (ctx.state !== 'running') void ctx.resume(); };
  resume();
`;

/** Page step: one worklet tap per (element, stream), with when it was audible (a switch's standby path plays muted until the commit). */
const PAGE_AUDIO_TAPS = `  const elementIds = new WeakMap();
  let nextElementId = 1;
  const taps = new Map();
  function attachAudio(key, el, stream) {
    const audibleNow = () => !el.muted && el.volume > 0;
    const record = { key, kind: stream.getVideoTracks().length > 0 ? 'p2p' : 'relay', attachedAt: performance.now(), detachedAt: null,
      attachedFrame: Math.round(ctx.currentTime * ctx.sampleRate), audible: [[performance.now(), audibleNow()]], rows: [] };
    P.audio.push(record);
    // A switch's standby path plays muted; the commit unmutes it (volumechange is exact).
    const onVolume = () => {
      const now = audibleNow();
      if (record.detachedAt === null && record.audible[record.audible.length - 1][1] !== now) record.audible.push([performance.now(), now]);
    };
    el.addEventListener('volumechange', onVolume);
    mutedHooks.set(el, onVolume);
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, 'bench-tone', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: { freqs: cfg.freqs, block: cfg.block } });
    node.port.onmessage = (e) => {
      const now = performance.now();
      for (const row of e.data.rows) record.rows.push(row);
      P.clock.push([now, e.data.frame]);
      if (P.clock.length > 200000) P.clock.splice(0, 100000);
    };
    source.connect(node);
    node.connect(sink);
    taps.set(key, { el, stream, source, node, record, onVolume });
  }
  function detachAudio(key) {
    const tap = taps.get(key);
    if (!tap) return;
    taps.delete(key);
    tap.record.detachedAt = performance.now();
    tap.el.removeEventListener('volumechange', tap.onVolume);
    if (mutedHooks.get(tap.el) === tap.onVolume) mutedHooks.delete(tap.el);
    tap.node.port.postMessage('stop');
    try { tap.source.disconnect(); } catch {}
    // Let the worklet flush its last blocks before the node goes away.
    setTimeout(() => { try { tap.node.disconnect(); } catch {} }, 200);
  }
`;

/** Page step: remote audio elements as the DOM saw them (added, re-sourced, playing, removed), a tap on each one that plays. */
const PAGE_AUDIO_ELEMENTS = `  const known = new Map();
  function trackElements(elements) {
    const t = performance.now();
    const present = new Set(elements);
    for (const el of elements) {
      if (!elementIds.has(el)) elementIds.set(el, nextElementId++);
      const id = elementIds.get(el);
      const stream = el.srcObject instanceof MediaStream ? el.srcObject : null;
      const kind = stream ? (stream.getVideoTracks().length > 0 ? 'p2p' : 'relay') : undefined;
      const seen = known.get(el);
      if (!seen) {
        known.set(el, { src: stream });
        P.audioElements.push({ t, element: id, what: 'added', kind });
        if (stream) P.audioElements.push({ t, element: id, what: 'srcObject', kind });
        el.addEventListener('playing', () => P.audioElements.push({ t: performance.now(), element: id, what: 'playing',
          kind: el.srcObject instanceof MediaStream ? (el.srcObject.getVideoTracks().length > 0 ? 'p2p' : 'relay') : undefined }));
      } else if (seen.src !== stream) {
        seen.src = stream;
        P.audioElements.push({ t, element: id, what: 'srcObject', kind });
      }
    }
    for (const el of [...known.keys()]) {
      if (present.has(el)) continue;
      known.delete(el);
      P.audioElements.push({ t, element: elementIds.get(el), what: 'removed' });
    }
  }
  function scanAudio() {
    const elements = [...document.querySelectorAll('audio[data-testid="remote-audio"]')];
    trackElements(elements);
    if (!ready) return;
    resume();
    const live = new Set();
    for (const el of elements) {
      const stream = el.srcObject;
      if (!(stream instanceof MediaStream) || stream.getAudioTracks().length === 0 || el.paused) continue;
      const key = 'el' + elementIds.get(el) + ':' + stream.id;
      live.add(key);
      if (!taps.has(key)) attachAudio(key, el, stream);
    }
    for (const key of [...taps.keys()]) if (!live.has(key)) detachAudio(key);
  }
`;

/** Page step: presented frames of the watched tiles, re-attached when the element or its source changes: a freeze is a gap between them. */
const PAGE_VIDEO_FRAMES = `  const watched = new Map();
  function watchVideo(name, video) {
    const rec = P.video[name];
    const onFrame = (now, meta) => {
      const w = watched.get(name);
      if (!w || w.el !== video) return; // replaced: the new element has its own callback
      rec.frames.push(typeof meta.presentationTime === 'number' ? meta.presentationTime : now);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
  function scanVideo() {
    const t = performance.now();
    for (const name of cfg.videoOf) {
      const rec = (P.video[name] ??= { frames: [], changes: [] });
      const el = document.querySelector('[data-testid="video-tile"][data-participant="' + CSS.escape(name) + '"] video');
      const prev = watched.get(name);
      if (!el) {
        if (prev) { rec.changes.push({ t, what: 'tile gone' }); watched.delete(name); }
        continue;
      }
      if (!prev || prev.el !== el) {
        rec.changes.push({ t, what: prev ? 'new element' : 'element' });
        watched.set(name, { el, src: el.srcObject });
        watchVideo(name, el);
      } else if (prev.src !== el.srcObject) {
        rec.changes.push({ t, what: 'new srcObject' });
        prev.src = el.srcObject;
      }
    }
  }
`;

/** Page step: the audio and video scans every 5 ms and right after any DOM or srcObject change, so no change waits for the interval. */
const PAGE_SCAN = `  const scan = () => {
    try { scanAudio(); scanVideo(); } catch (err) { if (P.errors.length < 50) P.errors.push('scan: ' + err); }
  };
  setInterval(scan, 5);
  // Right after the app changed the DOM or a srcObject (a microtask), not up to 5 ms later.
  let queued = false;
  scanSoon = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; scan(); });
  };
  new MutationObserver(() => scanSoon()).observe(document, { childList: true, subtree: true });
`;

/** The init script: install before the page loads (after the tone script, so our AudioContext is separate). */
export function probeInitScript(options: ProbeOptions): string {
  const config = JSON.stringify({ freqs: options.frequencies, videoOf: options.videoOf, block: AUDIO_BLOCK });
  return `(() => {
  if (window.__benchProbe) return;
  const cfg = ${config};
  const P = window.__benchProbe = {
    timeOrigin: performance.timeOrigin, sampleRate: 0, frequencies: cfg.freqs,
    signals: [], audio: [], clock: [], video: {}, audioElements: [], longTasks: [], pcCloses: [], pcs: [], errors: [],
  };
${PAGE_PEER_CONNECTIONS}${PAGE_MEDIA_ELEMENT_HOOKS}${PAGE_LONG_TASKS}${PAGE_SIGNALING}${PAGE_AUDIO_CONTEXT}${PAGE_AUDIO_TAPS}${PAGE_AUDIO_ELEMENTS}${PAGE_VIDEO_FRAMES}${PAGE_SCAN}})();`;
}

/** Reads what the probe collected so far: everything, or only what lies near a window [from, to] (page time). */
export async function readProbe(page: Page, around?: [from: number, to: number]): Promise<ProbeData> {
  return page.evaluate((window_) => {
    const p = (window as unknown as { __benchProbe: ProbeData }).__benchProbe;
    if (!window_) return JSON.parse(JSON.stringify(p)) as never;
    // Only what lies within 10 s of the window: a whole run's audio blocks, copied out of a
    // busy page at once, stall it (and the machine) for a second.
    const [from, to] = [window_[0] - 10_000, window_[1] + 10_000];
    const clock = p.clock.filter(([t]) => t >= from && t <= to);
    const rate = p.sampleRate || 48_000;
    const frames = clock.map(([, frame]) => frame);
    const [first, last] = frames.length > 0 ? [Math.min(...frames) - 10 * rate, Math.max(...frames) + 10 * rate] : [-Infinity, Infinity];
    const audio = p.audio.map((a) => ({ ...a, rows: a.rows.filter((r) => r[0]! >= first && r[0]! <= last) }));
    const video = Object.fromEntries(Object.entries(p.video).map(([k, v]) => [k, { frames: v.frames.filter((t) => t >= from && t <= to), changes: v.changes }]));
    return JSON.parse(JSON.stringify({ ...p, clock, audio, video })) as never;
  }, around ?? null);
}

/** A cheap look at the probe for sequencing (not for timing): signals, and whether media arrived. */
export async function probeStatus(page: Page, frequencyIndex = 0): Promise<{ signals: ProbeSignal[]; frames: Record<string, number>; heardAt: number | null }> {
  return page.evaluate(
    ({ index, threshold }) => {
      const p = (window as unknown as { __benchProbe?: ProbeData }).__benchProbe;
      if (!p) return { signals: [], frames: {}, heardAt: null };
      const frames: Record<string, number> = {};
      for (const [name, v] of Object.entries(p.video)) frames[name] = v.frames.length;
      let heardAt: number | null = null;
      for (const a of p.audio) {
        const row = a.rows.find((r) => (r[index + 1] ?? -200) > threshold);
        if (row) heardAt = heardAt === null ? row[0]! : Math.min(heardAt, row[0]!);
      }
      return { signals: p.signals, frames, heardAt };
    },
    { index: frequencyIndex, threshold: HEARD_DB },
  );
}

/**
 * The offset (ms) from the audio clock to the page's performance.now() around [from, to].
 * A block is posted shortly after it was rendered, so `receipt − frame/rate` is an upper
 * bound of the true offset: the smallest one seen near the window is the estimate. One
 * offset per window keeps durations on the audio clock exact (a sliding estimate would
 * stretch or shrink gaps wherever it moved).
 */
export function clockOffset(data: ProbeData, from: number, to: number, marginMs = 3000): number {
  const rate = data.sampleRate || 48_000;
  let best = Infinity;
  let overall = Infinity;
  for (const [t, frame] of data.clock) {
    const off = t - (frame / rate) * 1000;
    overall = Math.min(overall, off);
    if (t >= from - marginMs && t <= to + marginMs) best = Math.min(best, off);
  }
  return Number.isFinite(best) ? best : Number.isFinite(overall) ? overall : 0;
}

/**
 * How far the audio clock fell behind the page clock between `from` and `to` (ms): the
 * render thread was starved and audio was dropped machine-wide (not a switch effect).
 */
export function clockSlip(data: ProbeData, from: number, to: number): number {
  return Math.round(clockOffset(data, to, to, 1000) - clockOffset(data, from, from, 1000));
}

/** Maps audio frames to page time with one offset for the window [from, to]. */
export function audioClock(data: ProbeData, from: number, to: number): (frame: number) => number {
  const rate = data.sampleRate || 48_000;
  const offset = clockOffset(data, from, to);
  return (frame) => (frame / rate) * 1000 + offset;
}

/** Whether the tapped element let the user hear it at page time `t`. */
export function audibleAt(source: ProbeAudioSource, t: number): boolean {
  let state = source.audible[0]?.[1] ?? true;
  for (const [at, value] of source.audible) {
    if (at > t) break;
    state = value;
  }
  return state;
}

/** The talker's level in everything the page played around one window (max over elements). */
export interface LevelTrace {
  /** performance.now() of each block's start. */
  t: Float64Array;
  /** dB at the chosen frequency, −200 where no element was playing. */
  db: Float32Array;
  blockMs: number;
}

/** The level of `frequency` on a block grid covering [from, to] (max over the tapped elements, or one `kind`). */
export function levelTrace(data: ProbeData, frequency: number, from: number, to: number, kind?: 'p2p' | 'relay'): LevelTrace {
  const index = data.frequencies.indexOf(frequency);
  if (index < 0) throw new Error(`the probe does not measure ${frequency} Hz`);
  const rate = data.sampleRate || 48_000;
  const blockMs = (AUDIO_BLOCK / rate) * 1000;
  const offset = clockOffset(data, from, to);
  const toFrame = (t: number) => ((t - offset) / 1000) * rate;
  const startCell = Math.floor(toFrame(from) / AUDIO_BLOCK) - 1;
  const endCell = Math.ceil(toFrame(to) / AUDIO_BLOCK) + 1;
  const cells = Math.max(0, endCell - startCell);
  const db = new Float32Array(cells).fill(-200);
  let covered = false;
  let lastRendered = -1;
  for (const a of data.audio) {
    if (kind && a.kind !== kind) continue;
    for (const r of a.rows) {
      const cell = Math.round(r[0]! / AUDIO_BLOCK) - startCell;
      if (cell < 0 || cell >= cells) continue;
      covered = true;
      lastRendered = Math.max(lastRendered, cell);
      if (!audibleAt(a, ((r[0]! + AUDIO_BLOCK / 2) / rate) * 1000 + offset)) continue;
      db[cell] = Math.max(db[cell]!, r[index + 1]!);
    }
  }
  // No block at all near the window: the probe was not running (not the same as silence).
  if (!covered && data.audio.length === 0) return { t: new Float64Array(0), db: new Float32Array(0), blockMs };
  // The trace ends at the last block the page rendered: with its audio clock behind (a clock
  // slip), the blocks after it were not rendered yet when the probe was read, which is not
  // silence (read as one, the slip showed as a gap at the window's end).
  const kept = covered ? lastRendered + 1 : cells;
  const t = new Float64Array(kept);
  for (let i = 0; i < kept; i++) t[i] = (((startCell + i) * AUDIO_BLOCK) / rate) * 1000 + offset;
  return { t, db: db.subarray(0, kept), blockMs };
}

/** The longest run of blocks below `thresholdDb` that overlaps [from, to] (clipped to it, and to the last block the trace has). */
export function longestSilence(trace: LevelTrace, from: number, to: number, thresholdDb = HEARD_DB): { ms: number; at: number | null } {
  const n = trace.t.length;
  if (n === 0) return { ms: Math.round(to - from), at: from };
  let best = { ms: 0, at: null as number | null };
  let runStart: number | null = null;
  const close = (endT: number) => {
    if (runStart === null) return;
    const s = Math.max(runStart, from);
    const e = Math.min(endT, to);
    if (e - s > best.ms) best = { ms: e - s, at: s };
    runStart = null;
  };
  for (let i = 0; i < n; i++) {
    const t = trace.t[i]!;
    if (t + trace.blockMs < from) continue;
    if (t > to) break;
    if (trace.db[i]! < thresholdDb) runStart ??= t;
    else close(t);
  }
  close(Math.min(to, trace.t[n - 1]! + trace.blockMs));
  return { ms: round(best.ms), at: best.at };
}

/** The longest interval between presented frames that overlaps [from, to] (clipped to it). */
export function longestFreeze(frames: readonly number[], from: number, to: number): { ms: number; at: number | null } {
  const points = [from];
  for (const f of frames) if (f > from && f < to) points.push(f);
  points.push(to);
  // An interval that started before `from` or ends after `to` is measured only inside the window.
  let best = { ms: 0, at: null as number | null };
  for (let i = 1; i < points.length; i++) {
    const d = points[i]! - points[i - 1]!;
    if (d > best.ms) best = { ms: d, at: points[i - 1]! };
  }
  return { ms: round(best.ms), at: best.at };
}

/** When `frequency` was first above `thresholdDb` (page time, end of that block). */
export function firstHeard(data: ProbeData, frequency: number, thresholdDb = HEARD_DB): number | null {
  const index = data.frequencies.indexOf(frequency);
  let first: number | null = null;
  const rate = data.sampleRate || 48_000;
  const roughOffset = clockOffset(data, -Infinity, Infinity);
  for (const a of data.audio) {
    const row = a.rows.find((r) => r[index + 1]! > thresholdDb && audibleAt(a, (r[0]! / rate) * 1000 + roughOffset));
    if (row) first = first === null ? row[0]! : Math.min(first, row[0]!);
  }
  if (first === null) return null;
  // The end of the block: by then the tone had been there long enough to be measured.
  const frame = first + AUDIO_BLOCK;
  const rough = (frame / rate) * 1000 + roughOffset;
  return audioClock(data, rough, rough)(frame);
}

