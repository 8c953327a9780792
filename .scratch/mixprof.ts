import { Encoder, Decoder } from '@evan/opus';
import { FRAME_SAMPLES, SAMPLE_RATE } from '../relay/audio/AudioFormat';
import { AudioMixer } from '../relay/audio/AudioMixer';
import { MixEncoder } from '../relay/audio/MixEncoder';
import { Limiter } from '../relay/audio/Limiter';
import { ToneGenerator } from '../relay/audio/tones';
const N = Number(process.argv[2] ?? 50);
const packets = Array.from({ length: N }, (_, t) => {
  const enc = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE, application: 'voip' });
  const tone = new ToneGenerator(200 + 37 * t, 5000);
  return Array.from({ length: 50 }, () => enc.encode(tone.next()));
});
const mixer = new AudioMixer({ onFrame() {} });
for (let i = 0; i < N; i++) mixer.addParticipant(`p${i}`);
const times: number[] = [];
for (let t = 0; t < 600; t++) {
  for (let i = 0; i < N; i++) mixer.pushPacket(`p${i}`, t & 0xffff, t * 960, packets[i]![t % 50]!);
  const s = performance.now();
  mixer.tick();
  if (t > 100) times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
console.log(`N=${N} tick p50 ${times[times.length >> 1]!.toFixed(2)} p99 ${times[Math.floor(times.length * 0.99)]!.toFixed(2)} ms`);
// components
const pcm = new Int16Array(FRAME_SAMPLES); const f = new Float32Array(FRAME_SAMPLES);
const tone = new ToneGenerator(440, 5000); const tf = tone.next(); for (let i = 0; i < FRAME_SAMPLES; i++) f[i] = tf[i]! * 3;
const me = new MixEncoder(); let s = performance.now(); for (let i = 0; i < 2000; i++) me.encode(f); console.log('MixEncoder.encode', ((performance.now() - s) / 2000 * 1000).toFixed(1), 'us');
const lim = new Limiter(); s = performance.now(); for (let i = 0; i < 2000; i++) lim.process(f, pcm); console.log('Limiter', ((performance.now() - s) / 2000 * 1000).toFixed(1), 'us');
const e2 = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE, application: 'voip' }); e2.bitrate = 32000; s = performance.now(); for (let i = 0; i < 2000; i++) e2.encode(pcm); console.log('raw encode', ((performance.now() - s) / 2000 * 1000).toFixed(1), 'us');
const d = new Decoder({ channels: 1, sample_rate: SAMPLE_RATE }); s = performance.now(); for (let i = 0; i < 2000; i++) d.decode(packets[0]![i % 50]!); console.log('decode', ((performance.now() - s) / 2000 * 1000).toFixed(1), 'us');
mixer.close();
