import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Encoder } from '@evan/opus';
import { OggOpusWriter } from '../../relay/recording/OggOpusWriter';
import { ToneGenerator, toneAmplitude } from '../../relay/audio/tones';
import { decodeOggOpus, readOggPages } from '../helpers/ogg';

test('an Ogg Opus stream: header pages, second-long audio pages with granules, end of stream, valid CRCs, the tone decodes back', () => {
  const writer = new OggOpusWriter(42);
  const encoder = new Encoder({ channels: 1, sample_rate: 48_000, application: 'audio' });
  const tone = new ToneGenerator(880, 8000);
  const parts: Buffer[] = [writer.headers()];
  for (let i = 0; i < 120; i++) parts.push(writer.packet(encoder.encode(tone.next())));
  parts.push(writer.end());
  const file = Buffer.concat(parts);
  const pages = readOggPages(file);
  assert.is(pages.length, 2 + 3, 'two headers, 50 + 50 + 20 packets');
  assert.equal(pages.map((p) => p.sequence), [0, 1, 2, 3, 4]);
  assert.is(pages[0]!.flags, 0x02, 'beginning of stream');
  assert.is(pages.at(-1)!.flags, 0x04, 'end of stream');
  assert.is(pages[2]!.granule, BigInt(50 * 960 + 312));
  assert.is(pages.at(-1)!.granule, BigInt(120 * 960 + 312));
  const pcm = decodeOggOpus(file);
  assert.ok(pcm.length >= 119 * 960, `about 2.4 s of audio (${pcm.length} samples)`);
  const middle = pcm.subarray(24_000, 72_000);
  assert.ok(toneAmplitude(middle, 880) > 10 * toneAmplitude(middle, 1500), 'the 880 Hz tone is what was recorded');
});

test('packets too big for one page close it early (a page holds 255 segments)', () => {
  const writer = new OggOpusWriter(7);
  const big = new Uint8Array(1000).fill(1);
  const parts: Buffer[] = [writer.headers()];
  for (let i = 0; i < 100; i++) parts.push(writer.packet(big));
  parts.push(writer.end());
  const pages = readOggPages(Buffer.concat(parts)).slice(2);
  assert.ok(pages.every((p) => p.packets.every((x) => x.length === 1000)), 'every packet intact');
  assert.is(pages.reduce((a, p) => a + p.packets.length, 0), 100);
});

test.run();
