/**
 * Mixer cost per 20 ms tick against meeting size, with a few talkers, compared in the same
 * run with a naive mixer that gives every participant its own N−1 mix and its own encode.
 * Writes bench-results/mixer.json and bench-results/mixer.md.
 *
 * Run: npx tsx bench/mixer.ts
 */
import { Encoder } from '@evan/opus';
import { FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE } from '../relay/audio/AudioFormat';
import { AudioMixer } from '../relay/audio/AudioMixer';
import { MixEncoder } from '../relay/audio/MixEncoder';
import { ParticipantInput } from '../relay/audio/ParticipantInput';
import { ToneGenerator } from '../relay/audio/tones';
import { percentile, round } from './harness/figures';
import { describeRun, runContext, writeResults, type RunContext } from './harness/results';
import { isMain } from './harness/run';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

const SIZES = [10, 25, 50, 100, 200];
const TALKERS = 3;
const WARMUP_TICKS = 50;
const MEASURED_TICKS = 300;

/** One meeting size's figures. */
export interface MixerBenchRow {
  participants: number;
  talkers: number;
  mixerP50Ms: number;
  mixerP99Ms: number;
  mixerEncodesPerTick: number;
  naiveP50Ms: number;
  naiveP99Ms: number;
  naiveEncodesPerTick: number;
  /** naive p50 / mixer p50 */
  speedup: number;
}

/** The whole benchmark result as written to bench-results/mixer.json. */
export interface MixerBenchResult extends RunContext {
  name: 'mixer';
  frameMs: number;
  ticksPerSize: number;
  rows: MixerBenchRow[];
}

/** The naive design for comparison: every participant its own N−1 mix and its own encoder. */
class NaiveMixer {
  private readonly inputs = new Map<string, ParticipantInput>();
  private readonly encoders = new Map<string, MixEncoder>();
  private readonly mix = new Float32Array(FRAME_SAMPLES);
  encodes = 0;

  constructor(ids: string[], private readonly onFrame: (id: string, opus: Uint8Array) => void) {
    for (const id of ids) {
      this.inputs.set(id, new ParticipantInput());
      this.encoders.set(id, new MixEncoder());
    }
  }

  pushPacket(id: string, seq: number, payload: Uint8Array): void {
    this.inputs.get(id)?.push(seq, payload);
  }

  tick(): void {
    const active: Array<[string, Float32Array]> = [];
    for (const [id, input] of this.inputs) {
      input.pull();
      if (input.frameEnergy > 0) active.push([id, input.frame]);
    }
    for (const [id, encoder] of this.encoders) {
      this.mix.fill(0);
      for (const [other, frame] of active) {
        if (other === id) continue;
        for (let i = 0; i < FRAME_SAMPLES; i++) this.mix[i] += frame[i];
      }
      this.onFrame(id, encoder.encode(this.mix));
      this.encodes += 1;
    }
  }
}

/** A second of pre-encoded microphone packets per talker (tones, as a browser would send). */
function talkerPackets(): Uint8Array[][] {
  return Array.from({ length: TALKERS }, (_, t) => {
    const encoder = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE, application: 'voip' });
    const tone = new ToneGenerator(300 + 250 * t, 5000);
    return Array.from({ length: 1000 / FRAME_MS }, () => encoder.encode(tone.next()));
  });
}

interface Timing { p50: number; p99: number; encodesPerTick: number }

/** Drives `tick` with fresh talker packets each step and times only the tick itself. */
function measure(
  packets: Uint8Array[][],
  push: (talker: number, seq: number, payload: Uint8Array) => void,
  tick: () => void,
  encodes: () => number,
): Timing {
  const times: number[] = [];
  let encodesAtStart = 0;
  for (let t = 0; t < WARMUP_TICKS + MEASURED_TICKS; t++) {
    packets.forEach((frames, talker) => push(talker, t & 0xffff, frames[t % frames.length]));
    if (t === WARMUP_TICKS) encodesAtStart = encodes();
    const started = performance.now();
    tick();
    if (t >= WARMUP_TICKS) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    encodesPerTick: (encodes() - encodesAtStart) / MEASURED_TICKS,
  };
}

function benchSize(participants: number, packets: Uint8Array[][]): MixerBenchRow {
  const ids = Array.from({ length: participants }, (_, i) => `p${i}`);
  let bytes = 0;
  const sink = (_id: string, opus: Uint8Array) => {
    bytes += opus.length;
  };

  const mixer = new AudioMixer({ onFrame: sink });
  for (const id of ids) mixer.addParticipant(id);
  const ours = measure(
    packets,
    (talker, seq, payload) => mixer.pushPacket(ids[talker], seq, seq * FRAME_SAMPLES, payload),
    () => mixer.tick(),
    () => mixer.counters.encodes,
  );
  mixer.close();

  const naive = new NaiveMixer(ids, sink);
  const theirs = measure(
    packets,
    (talker, seq, payload) => naive.pushPacket(ids[talker], seq, payload),
    () => naive.tick(),
    () => naive.encodes,
  );

  return {
    participants,
    talkers: TALKERS,
    mixerP50Ms: round(ours.p50, 3),
    mixerP99Ms: round(ours.p99, 3),
    mixerEncodesPerTick: ours.encodesPerTick,
    naiveP50Ms: round(theirs.p50, 3),
    naiveP99Ms: round(theirs.p99, 3),
    naiveEncodesPerTick: theirs.encodesPerTick,
    speedup: round(theirs.p50 / ours.p50),
  };
}

function markdown(result: MixerBenchResult): string {
  const lines = [
    `# Audio mixer cost per ${result.frameMs} ms tick (${result.rows[0]?.talkers ?? TALKERS} talkers)`,
    '',
    `${describeRun(result)}, ${result.ticksPerSize} ticks per size.`,
    'Shared listener mix (ours) vs naive per-listener N−1 mix and encode, same run, same decode path.',
    '',
    '| participants | mixer p50 ms | mixer p99 ms | encodes/tick | naive p50 ms | naive p99 ms | naive encodes/tick | naive/mixer | mixer % of 20 ms |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of result.rows) {
    const budget = ((r.mixerP99Ms / result.frameMs) * 100).toFixed(1);
    lines.push(
      `| ${r.participants} | ${r.mixerP50Ms.toFixed(3)} | ${r.mixerP99Ms.toFixed(3)} | ${r.mixerEncodesPerTick} | ` +
        `${r.naiveP50Ms.toFixed(3)} | ${r.naiveP99Ms.toFixed(3)} | ${r.naiveEncodesPerTick} | ${r.speedup}× | ${budget}% |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the benchmark, prints the table, writes bench-results/mixer.{json,md}, returns the figures. */
export async function runMixerBench(): Promise<MixerBenchResult> {
  const packets = talkerPackets();
  // A discarded first pass, so JIT compilation does not land in the smallest size's p99.
  benchSize(SIZES[0], packets);
  const rows: MixerBenchRow[] = [];
  for (const size of SIZES) {
    rows.push(benchSize(size, packets));
    // Let timers and I/O run between sizes (and keep a host runner responsive).
    await new Promise((resolve) => setImmediate(resolve));
  }
  const result: MixerBenchResult = {
    name: 'mixer',
    ...runContext(),
    frameMs: FRAME_MS,
    ticksPerSize: MEASURED_TICKS,
    rows,
  };
  writeResults('mixer', result, markdown(result));
  return result;
}

if (isMain(import.meta.url)) {
  await runInPrivateNetwork('bench/mixer');
  await runMixerBench();
}
