import { Encoder } from '@evan/opus';
import { ToneGenerator } from '../relay/audio/tones';
// a mix of 49 tones
const frames: Int16Array[] = [];
const gens = Array.from({ length: 49 }, (_, i) => new ToneGenerator(200 + 37 * i, 600));
for (let f = 0; f < 50; f++) { const acc = new Float32Array(960); for (const g of gens) { const x = g.next(); for (let i = 0; i < 960; i++) acc[i] += x[i]!; } frames.push(Int16Array.from(acc, (v) => Math.max(-32768, Math.min(32767, Math.round(v))))); }
for (const app of ['voip', 'audio', 'restricted_lowdelay'] as const) for (const c of [0, 2, 4, 5, 7, 9, 10]) {
  const e = new Encoder({ channels: 1, sample_rate: 48000, application: app }); e.bitrate = 32000; e.complexity = c as 0;
  for (let i = 0; i < 200; i++) e.encode(frames[i % 50]!);
  const s = performance.now(); for (let i = 0; i < 2000; i++) e.encode(frames[i % 50]!);
  console.log(app, 'complexity', c, ((performance.now() - s) / 2000 * 1000).toFixed(1), 'us', 'default', e.complexity);
}
