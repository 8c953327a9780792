/** What a light load client (bench/harness/LightClient.ts) hears: its next mix packets, Opus-decoded. */
import { Decoder } from '@evan/opus';
import type { LightClient } from '../../bench/harness/LightClient';
import { pcmFromBytes } from '../../relay/audio/tones';
import { waitFor } from './wait';

/** Decodes the next `frames` mix packets `client` receives into one PCM run (48 kHz mono). */
export async function nextMix(client: LightClient, frames: number): Promise<Int16Array> {
  const decoder = new Decoder({ channels: 1, sample_rate: 48_000 });
  const chunks: Int16Array[] = [];
  client.onMixPacket = (rtp) => {
    const extension = (rtp[0]! & 0x10) !== 0;
    let start = 12 + 4 * (rtp[0]! & 0x0f);
    if (extension) start += 4 + 4 * rtp.readUInt16BE(start + 2);
    if (chunks.length < frames) chunks.push(pcmFromBytes(decoder.decode(rtp.subarray(start))));
  };
  await waitFor(() => chunks.length >= frames, 10_000, `${frames} mix packets`);
  client.onMixPacket = null;
  const pcm = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    pcm.set(c, offset);
    offset += c.length;
  }
  return pcm;
}
