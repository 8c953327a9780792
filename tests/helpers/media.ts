/**
 * Known media content for browser tests: each page's microphone becomes a pure tone at its
 * own frequency, and the page can measure which frequencies it hears in its remote audio
 * and whether its remote videos are decoding new frames.
 */

/**
 * What the probes need of a page: to run a function in it. A Playwright page is one; a
 * Puppeteer page (Firefox, tests/helpers/firefox.ts) is wrapped into one.
 */
export interface ScriptedPage {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}

/** Tone bursts instead of a steady tone: on for `onMs` every `periodMs`. */
export interface ToneBursts {
  periodMs: number;
  onMs: number;
}

/**
 * An init script replacing the microphone track of every getUserMedia call with a sine at
 * `hz`. With `bursts` the sine is gated on and off, and the page time at which each burst
 * starts (when the AudioContext renders it) is pushed to `window.__bursts`.
 */
export function toneInitScript(hz: number, bursts?: ToneBursts): string {
  const gate = bursts
    ? `gain.gain.value = 0;
      await ctx.resume();
      // Schedules the bursts up to two seconds ahead, and notes each start on the page clock.
      let next = ctx.currentTime + 0.5;
      const schedule = () => {
        while (next < ctx.currentTime + 2) {
          gain.gain.setValueAtTime(0.5, next);
          gain.gain.setValueAtTime(0, next + ${bursts.onMs / 1000});
          const ts = ctx.getOutputTimestamp();
          window.__bursts.push(ts.performanceTime + (next - ts.contextTime) * 1000);
          next += ${bursts.periodMs / 1000};
        }
      };
      schedule();
      setInterval(schedule, 250);`
    : `gain.gain.value = 0.5;
      void ctx.resume();`;
  return `(() => {
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    window.__bursts = [];
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await original(constraints);
      if (!constraints || !constraints.audio) return stream;
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = ${hz};
      const gain = ctx.createGain();
      const dest = ctx.createMediaStreamDestination();
      osc.connect(gain).connect(dest);
      osc.start();
      ${gate}
      for (const t of stream.getAudioTracks()) { stream.removeTrack(t); t.stop(); }
      stream.addTrack(dest.stream.getAudioTracks()[0]);
      return stream;
    };
  })();`;
}

/**
 * Levels (dB, from an AnalyserNode) at each frequency in everything the page lets the user
 * hear from its remote audio elements right now. Analysers are attached once per element.
 */
export async function toneLevels(page: ScriptedPage, frequencies: number[]): Promise<number[]> {
  return page.evaluate((freqs) => {
    type Probe = { el: HTMLMediaElement; stream: MediaStream; analyser: AnalyserNode };
    const w = window as unknown as { __probe?: { ctx: AudioContext; probes: Probe[] } };
    w.__probe ??= { ctx: new AudioContext(), probes: [] };
    const { ctx, probes } = w.__probe;
    void ctx.resume();
    // Only what the page lets the user hear: a switch's standby path plays muted.
    const elements = [...document.querySelectorAll<HTMLMediaElement>('audio[data-testid="remote-audio"][data-audible="true"]')];
    for (const el of elements) {
      const stream = el.srcObject;
      if (!(stream instanceof MediaStream) || stream.getAudioTracks().length === 0) continue;
      if (probes.some((p) => p.el === el && p.stream === stream)) continue;
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0.2;
      ctx.createMediaStreamSource(stream).connect(analyser);
      probes.push({ el, stream, analyser });
    }
    const live = probes.filter((p) => elements.includes(p.el) && p.el.srcObject === p.stream);
    return freqs.map((f) => {
      let best = -Infinity;
      for (const { analyser } of live) {
        const bins = new Float32Array(analyser.frequencyBinCount);
        analyser.getFloatFrequencyData(bins);
        const binHz = ctx.sampleRate / analyser.fftSize;
        const center = Math.round(f / binHz);
        for (let i = center - 2; i <= center + 2; i++) best = Math.max(best, bins[i] ?? -Infinity);
      }
      return best;
    });
  }, frequencies);
}

/**
 * A tone counts as heard above HEARD_DB. Opus leaves a noise floor around -75..-90 dB
 * across the band, so "absent" means well below a heard tone: under ABSENT_DB.
 */
export const HEARD_DB = -50;
export const ABSENT_DB = -65;

/**
 * Asserts that `page` hears none of `frequencies`: the loudest of them falls under
 * ABSENT_DB within a few seconds, and its median over the next second of readings stays
 * there. One reading is not enough: a tone that just became audible, or a glitch while
 * paths settle, spreads energy over the whole analyser window for ~200 ms and reads as a
 * few dB at every frequency; a real leak is there in most readings.
 */
export async function assertTonesAbsent(page: ScriptedPage, frequencies: number[], what: string): Promise<void> {
  const loudest = async (): Promise<number> => Math.max(...(await toneLevels(page, frequencies)));
  const settleBy = Date.now() + 3000;
  let level = await loudest();
  while (level >= ABSENT_DB && Date.now() < settleBy) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    level = await loudest();
  }
  const readings = [level];
  for (const until = Date.now() + 1000; Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    readings.push(await loudest());
  }
  const median = [...readings].sort((x, y) => x - y)[Math.floor(readings.length / 2)]!;
  if (median >= ABSENT_DB) {
    throw new Error(`${what}: ${frequencies.join('/')} Hz heard at a median ${median.toFixed(1)} dB (readings ${readings.map((r) => r.toFixed(1)).join(', ')} dB)`);
  }
}

/** What a tile's video shows, for a check that its picture advances and for saying why it does not. */
export interface TileVideo {
  /** The MediaStream the tile plays (a switch of path hands it another, whose frame count starts over). */
  streamId: string;
  frames: number;
  width: number;
  height: number;
  paused: boolean;
  /** Each video track: id, readyState, muted. */
  tracks: string;
}

/** The video in `name`'s camera tile (or screen tile), or null when there is none. */
export async function tileVideo(page: ScriptedPage, name: string, source: 'camera' | 'screen' = 'camera'): Promise<TileVideo | null> {
  return page.evaluate(([n, src]) => {
    const kind = src === 'screen' ? '[data-source="screen"]' : ':not([data-source="screen"])';
    const video = document.querySelector<HTMLVideoElement>(`[data-testid="video-tile"][data-participant="${n}"]${kind} video`);
    if (!video) return null;
    const stream = video.srcObject instanceof MediaStream ? video.srcObject : null;
    const decoded = video.getVideoPlaybackQuality().totalVideoFrames;
    return {
      streamId: stream?.id ?? '',
      frames: video.videoWidth === 0 ? 0 : decoded > 0 ? decoded : ((video as HTMLVideoElement & { mozPaintedFrames?: number }).mozPaintedFrames ?? 0),
      width: video.videoWidth,
      height: video.videoHeight,
      paused: video.paused,
      tracks: (stream?.getVideoTracks() ?? []).map((t) => `${t.id.slice(0, 8)} ${t.readyState}${t.muted ? ' muted' : ''}`).join(', '),
    };
  }, [name, source] as const);
}

/**
 * Total frames of the video in `name`'s camera tile, or screen tile with `source: 'screen'`
 * (0 when there is no such tile or its video has no size yet): decoded frames in Chromium,
 * painted frames in Firefox (whose `totalVideoFrames` stays 0 for a MediaStream).
 */
export async function framesOf(page: ScriptedPage, name: string, source: 'camera' | 'screen' = 'camera'): Promise<number> {
  return (await tileVideo(page, name, source))?.frames ?? 0;
}
